// Every access offset and size around the edges of the stack frame and of a sized context:
// the verdict must be exactly "in bounds (and, for the stack, size-aligned)", and every
// accepted program must run in checked mode without a fault. Sound and exact at the edges,
// not only on the handful of offsets the case files name.
#include "verifier/verify.hpp"

#include <bpfvm/program.hpp>
#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>

namespace bpfvm::verifier::testing {
namespace {

constexpr std::uint8_t size_bits(int size) {
  return size == 1 ? 0x10 : size == 2 ? 0x08 : size == 4 ? 0x00 : 0x18;
}

void run_clean(const std::vector<Insn>& insns, std::size_t context_size) {
  auto program = Program::load(insns);
  ASSERT_TRUE(program) << program.error().to_string();
  std::vector<std::uint8_t> memory(context_size, 0x11);
  auto ran = interpret(*program, RunInput::raw(memory));
  EXPECT_TRUE(ran) << ran.error().to_string();
}

TEST(VerifierBounds, ContextLoadsAndStoresAtEveryOffset) {
  constexpr std::size_t context_size = 24;
  int accepted = 0;
  for (int size : {1, 2, 4, 8}) {
    for (int off = -10; off <= static_cast<int>(context_size) + 2; ++off) {
      for (bool store : {false, true}) {
        SCOPED_TRACE("size " + std::to_string(size) + " off " + std::to_string(off) +
                     (store ? " store" : " load"));
        std::vector<Insn> insns;
        if (store)
          insns.push_back({static_cast<std::uint8_t>(cls::st | 0x60 | size_bits(size)), 1, 0,
                           static_cast<std::int16_t>(off), 7});
        else
          insns.push_back({static_cast<std::uint8_t>(cls::ldx | 0x60 | size_bits(size)), 0, 1,
                           static_cast<std::int16_t>(off), 0});
        insns.push_back({0xb7, 0, 0, 0, 0});  // mov r0, 0
        insns.push_back({0x95, 0, 0, 0, 0});  // exit
        VerifyOptions options;
        options.context_size = context_size;
        const bool in_bounds = off >= 0 && off + size <= static_cast<int>(context_size);
        const VerifyResult r = verify(insns, options);
        EXPECT_EQ(r.ok(), in_bounds) << (r.ok() ? "accepted" : r.error->to_string());
        if (r.ok()) {
          ++accepted;
          run_clean(insns, context_size);
        }
        // Without a context size nothing through r1 is provable.
        EXPECT_FALSE(verify(insns).ok());
      }
    }
  }
  EXPECT_GT(accepted, 0);
}

TEST(VerifierBounds, StackStoresThenLoadsAtEveryOffset) {
  int accepted = 0;
  for (int size : {1, 2, 4, 8}) {
    for (int off = -520; off <= 8; ++off) {
      SCOPED_TRACE("size " + std::to_string(size) + " off " + std::to_string(off));
      const std::vector<Insn> insns = {
          {static_cast<std::uint8_t>(cls::st | 0x60 | size_bits(size)), 10, 0,
           static_cast<std::int16_t>(off), 7},
          {static_cast<std::uint8_t>(cls::ldx | 0x60 | size_bits(size)), 0, 10,
           static_cast<std::int16_t>(off), 0},
          {0x95, 0, 0, 0, 0}};
      const bool ok = off >= -512 && off + size <= 0 && off % size == 0;
      const VerifyResult r = verify(insns);
      EXPECT_EQ(r.ok(), ok) << (r.ok() ? "accepted" : r.error->to_string());
      if (r.ok()) {
        ++accepted;
        run_clean(insns, 0);
      }
    }
  }
  EXPECT_EQ(accepted, 512 + 256 + 128 + 64);
}

TEST(VerifierBounds, StackReadsOfEveryPartlyWrittenSlot) {
  // A 4-byte store at -8, then a load of each size at each offset in [-16, 0): accepted
  // exactly when every byte read was written.
  for (int size : {1, 2, 4, 8}) {
    for (int off = -16; off < 0; off += size) {
      SCOPED_TRACE("size " + std::to_string(size) + " off " + std::to_string(off));
      const std::vector<Insn> insns = {
          {static_cast<std::uint8_t>(cls::st | 0x60 | size_bits(4)), 10, 0, -8, 7},
          {static_cast<std::uint8_t>(cls::ldx | 0x60 | size_bits(size)), 0, 10,
           static_cast<std::int16_t>(off), 0},
          {0x95, 0, 0, 0, 0}};
      const bool written = off >= -8 && off + size <= -4;
      EXPECT_EQ(verify(insns).ok(), written);
    }
  }
}

}  // namespace
}  // namespace bpfvm::verifier::testing
