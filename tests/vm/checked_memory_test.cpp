// Checked mode: every load, store and atomic outside the admitted regions ends the run with
// out_of_bounds, naming the instruction and the address. The boundary matrix over raw memory
// lives in tests/cases/checked-*.data; these cases need host addresses, regions and contexts.
#include "support/case_runner.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
#include <regex>

namespace bpfvm::testing {
namespace {

// Every 0x-prefixed number in a message, so the check does not depend on its wording.
std::vector<std::uint64_t> hex_numbers(const std::string& text) {
  std::vector<std::uint64_t> out;
  static const std::regex number("0x([0-9a-fA-F]{1,16})");
  for (std::sregex_iterator it(text.begin(), text.end(), number), end; it != end; ++it)
    out.push_back(std::stoull((*it)[1].str(), nullptr, 16));
  return out;
}

bool names_address(const Error& error, std::uint64_t address) {
  for (std::uint64_t n : hex_numbers(error.message))
    if (n == address) return true;
  return false;
}

std::uint64_t address_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

Program load_ok(const std::vector<Insn>& insns) {
  auto program = Program::load(insns);
  EXPECT_TRUE(program.ok()) << describe(program.error());
  return std::move(program).value();
}

enum class Access { load, store_reg, store_imm, atomic };

const char* access_name(Access access) {
  switch (access) {
    case Access::load: return "load";
    case Access::store_reg: return "store_reg";
    case Access::store_imm: return "store_imm";
    case Access::atomic: return "atomic";
  }
  return "?";
}

// `mov r0, 0` then the access at [base_reg + offset] (index 1), then exit.
std::vector<Insn> access_program(Access access, Size size, int base_reg, std::int16_t offset) {
  std::vector<Insn> insns{mov64_imm(0, 0), mov64_imm(3, 1)};
  switch (access) {
    case Access::load: insns.push_back(ldx(size, 0, base_reg, offset)); break;
    case Access::store_reg: insns.push_back(stx(size, base_reg, 3, offset)); break;
    case Access::store_imm: insns.push_back(st(size, base_reg, offset, 7)); break;
    case Access::atomic: insns.push_back(atomic_add(size, base_reg, 3, offset)); break;
  }
  insns.push_back(exit_insn());
  return insns;
}
constexpr std::size_t access_index = 2;

bool sized_for(Access access, Size size) {
  return access != Access::atomic || size == Size::w || size == Size::dw;
}

constexpr Access all_accesses[] = {Access::load, Access::store_reg, Access::store_imm,
                                   Access::atomic};

TEST(CheckedMemory, ViolationNamesInstructionAndAddress) {
  // On the heap: far offsets from a buffer on the host stack could reach the interpreter's
  // own stack frames, which are admitted.
  auto heap = std::make_unique<std::array<std::uint8_t, 32>>();
  std::array<std::uint8_t, 32>& memory = *heap;
  std::span<std::uint8_t> view(memory);
  for (Access access : all_accesses) {
    for (Size size : all_sizes) {
      if (!sized_for(access, size)) continue;
      auto n = static_cast<std::int16_t>(size_bytes(size));
      for (std::int16_t offset : {static_cast<std::int16_t>(32), static_cast<std::int16_t>(32 - n + 1),
                                  static_cast<std::int16_t>(-n), static_cast<std::int16_t>(-1),
                                  static_cast<std::int16_t>(0x7fff),
                                  static_cast<std::int16_t>(-0x8000)}) {
        if (access == Access::atomic && offset % n != 0) continue;  // alignment has its own test
        SCOPED_TRACE(::testing::Message() << access_name(access) << " size " << n << " offset " << offset);
        Program program = load_ok(access_program(access, size, 1, offset));
        auto result = interpret(program, RunInput::raw(view));
        ASSERT_FALSE(result.ok()) << "returned " << hex(*result);
        EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds") << describe(result.error());
        EXPECT_EQ(result.error().insn_index, access_index) << describe(result.error());
        EXPECT_TRUE(names_address(result.error(), address_of(memory.data()) + static_cast<std::uint64_t>(offset)))
            << "the message should name address 0x" << std::hex
            << address_of(memory.data()) + static_cast<std::uint64_t>(offset) << ": "
            << result.error().message;
      }
    }
  }
}

TEST(CheckedMemory, FirstAndLastValidPositionsPass) {
  for (Access access : all_accesses) {
    for (Size size : all_sizes) {
      if (!sized_for(access, size)) continue;
      auto n = static_cast<std::int16_t>(size_bytes(size));
      for (std::int16_t offset : {std::int16_t{0}, static_cast<std::int16_t>(32 - n)}) {
        SCOPED_TRACE(::testing::Message() << access_name(access) << " size " << n << " offset " << offset);
        alignas(16) std::array<std::uint8_t, 32> memory{};
        Program program = load_ok(access_program(access, size, 1, offset));
        auto result = interpret(program, RunInput::raw(memory));
        EXPECT_TRUE(result.ok()) << describe(result.error());
      }
    }
  }
}

TEST(CheckedMemory, AddressPlusSizeOverflowIsRefused) {
  for (Access access : all_accesses) {
    for (Size size : all_sizes) {
      if (!sized_for(access, size)) continue;
      std::uint64_t n = size_bytes(size);
      // Addresses whose last byte would wrap past 2^64 (atomics: aligned ones only).
      for (std::uint64_t address : {~std::uint64_t{0}, ~std::uint64_t{0} - n + 2, ~std::uint64_t{0} - n + 1 - n}) {
        if (access == Access::atomic && address % n != 0) continue;
        SCOPED_TRACE(::testing::Message() << access_name(access) << " size " << n << " address 0x" << std::hex << address);
        std::vector<Insn> insns;
        lddw(insns, 1, address);
        auto body = access_program(access, size, 1, 0);
        insns.insert(insns.end(), body.begin(), body.end());
        Program program = load_ok(insns);
        alignas(16) std::array<std::uint8_t, 32> memory{};
        auto result = interpret(program, RunInput::raw(memory));
        ASSERT_FALSE(result.ok());
        EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds") << describe(result.error());
        EXPECT_EQ(result.error().insn_index, access_index + 2);
        EXPECT_TRUE(names_address(result.error(), address)) << result.error().message;
      }
    }
  }
}

TEST(CheckedMemory, MisalignedAtomicsFail) {
  for (Size size : {Size::w, Size::dw}) {
    auto n = static_cast<std::int16_t>(size_bytes(size));
    for (std::int16_t offset = 1; offset < n; ++offset) {
      SCOPED_TRACE(::testing::Message() << "size " << n << " offset " << offset);
      alignas(16) std::array<std::uint8_t, 32> memory{};
      Program program = load_ok(access_program(Access::atomic, size, 1, offset));
      auto result = interpret(program, RunInput::raw(memory));
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds") << describe(result.error());
      EXPECT_EQ(result.error().insn_index, access_index);
      EXPECT_TRUE(names_address(result.error(), address_of(memory.data()) + static_cast<std::uint64_t>(offset)))
          << result.error().message;
    }
  }
}

// Non-atomic accesses need no alignment.
TEST(CheckedMemory, MisalignedLoadsAndStoresPass) {
  alignas(16) std::array<std::uint8_t, 32> memory{};
  for (std::size_t i = 0; i < memory.size(); ++i) memory[i] = static_cast<std::uint8_t>(i);
  Program program = load_ok({ldx(Size::dw, 0, 1, 3), stx(Size::w, 1, 0, 17), ldx(Size::h, 2, 1, 9),
                              add64_reg(0, 2), exit_insn()});
  auto result = interpret(program, RunInput::raw(memory));
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 0x0a09080706050403ULL + 0x0a09ULL);
  EXPECT_EQ(memory[17], 0x03);
  EXPECT_EQ(memory[20], 0x06);
}

// ---- RunOptions::regions ----

struct RegionFixture {
  // One buffer with gaps, so that the memory and the extra region are not adjacent and the
  // bytes around each belong to neither.
  alignas(16) std::array<std::uint8_t, 64> buffer{};
  std::span<std::uint8_t, 16> memory{buffer.data() + 8, 16};
  std::span<std::uint8_t, 16> extra{buffer.data() + 40, 16};
  RegionFixture() {
    for (std::size_t i = 0; i < extra.size(); ++i) extra[i] = static_cast<std::uint8_t>(0xa0 + i);
  }
  // r2 = the extra region, then `body`.
  std::vector<Insn> program(std::vector<Insn> body) const {
    std::vector<Insn> insns;
    lddw(insns, 2, address_of(extra.data()));
    insns.insert(insns.end(), body.begin(), body.end());
    return insns;
  }
  RunOptions options(bool writable) const {
    RunOptions o;
    o.regions.push_back(MemoryRegion{extra.data(), extra.size(), writable});
    return o;
  }
};

TEST(CheckedRegions, ExtraRegionIsReadable) {
  RegionFixture f;
  Program program = load_ok(f.program({ldx(Size::dw, 0, 2, 8), exit_insn()}));
  auto result = interpret(program, RunInput::raw(f.memory), f.options(false));
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 0xafaeadacabaaa9a8ULL);
}

TEST(CheckedRegions, WithoutTheRegionTheSameLoadFails) {
  RegionFixture f;
  Program program = load_ok(f.program({ldx(Size::dw, 0, 2, 8), exit_insn()}));
  auto result = interpret(program, RunInput::raw(f.memory));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds");
  EXPECT_EQ(result.error().insn_index, 2u);
}

TEST(CheckedRegions, ExtraRegionBoundaries) {
  RegionFixture f;
  struct Probe {
    std::int16_t offset;
    Size size;
    bool ok;
  };
  for (Probe probe : {Probe{15, Size::b, true}, Probe{16, Size::b, false}, Probe{-1, Size::b, false},
                      Probe{8, Size::dw, true}, Probe{9, Size::dw, false}, Probe{12, Size::w, true},
                      Probe{13, Size::w, false}}) {
    SCOPED_TRACE(::testing::Message() << "offset " << probe.offset << " size " << size_bytes(probe.size));
    Program program = load_ok(f.program({ldx(probe.size, 0, 2, probe.offset), exit_insn()}));
    auto result = interpret(program, RunInput::raw(f.memory), f.options(false));
    EXPECT_EQ(result.ok(), probe.ok) << (result.ok() ? hex(*result) : describe(result.error()));
  }
}

TEST(CheckedRegions, ReadOnlyRegionRefusesStores) {
  RegionFixture f;
  for (Access access : {Access::store_reg, Access::store_imm, Access::atomic}) {
    for (Size size : all_sizes) {
      if (!sized_for(access, size)) continue;
      SCOPED_TRACE(::testing::Message() << access_name(access) << " size " << size_bytes(size));
      Program program = load_ok(f.program(access_program(access, size, 2, 8)));
      auto result = interpret(program, RunInput::raw(f.memory), f.options(false));
      ASSERT_FALSE(result.ok()) << "returned " << hex(*result);
      EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds") << describe(result.error());
      EXPECT_EQ(result.error().insn_index, access_index + 2);
      EXPECT_TRUE(names_address(result.error(), address_of(f.extra.data()) + 8)) << result.error().message;
      EXPECT_EQ(f.extra[8], 0xa8) << "the refused store must not land";
    }
  }
}

TEST(CheckedRegions, WritableRegionTakesStores) {
  RegionFixture f;
  Program program = load_ok(f.program({mov64_imm(3, 0x11), stx(Size::b, 2, 3, 15), st(Size::h, 2, 0, 0x2233),
                                       atomic_add(Size::dw, 2, 3, 8), mov64_imm(0, 0), exit_insn()}));
  auto result = interpret(program, RunInput::raw(f.memory), f.options(true));
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(f.extra[0], 0x33);
  EXPECT_EQ(f.extra[1], 0x22);
  EXPECT_EQ(f.extra[8], 0xa8 + 0x11);
  EXPECT_EQ(f.extra[15], 0x11 + 0);  // stxb wrote 0x11; the dw add does not carry into it
}

TEST(CheckedRegions, ReadOnlyContextRefusesStoresButAllowsLoads) {
  alignas(16) std::array<std::uint8_t, 16> context{};
  context[4] = 0x5a;
  RunInput input;
  input.context = context.data();
  input.context_size = context.size();
  input.context_writable = false;

  Program reader = load_ok({ldx(Size::b, 0, 1, 4), exit_insn()});
  auto read = interpret(reader, input);
  ASSERT_TRUE(read.ok()) << describe(read.error());
  EXPECT_EQ(*read, 0x5au);

  for (Access access : {Access::store_reg, Access::store_imm, Access::atomic}) {
    SCOPED_TRACE(access_name(access));
    Program writer = load_ok(access_program(access, Size::w, 1, 4));
    auto result = interpret(writer, input);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds") << describe(result.error());
    EXPECT_EQ(result.error().insn_index, access_index);
    EXPECT_TRUE(names_address(result.error(), address_of(context.data()) + 4)) << result.error().message;
    EXPECT_EQ(context[4], 0x5a);
  }
}

TEST(CheckedRegions, ContextIsWritableByDefault) {
  alignas(16) std::array<std::uint8_t, 16> context{};
  RunInput input;
  input.context = context.data();
  input.context_size = context.size();
  Program writer = load_ok({st(Size::w, 1, 4, 0x01020304), mov64_imm(0, 0), exit_insn()});
  auto result = interpret(writer, input);
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(context[4], 0x04);
}

TEST(CheckedRegions, NoContextMeansNoMemory) {
  Program program = load_ok({ldx(Size::b, 0, 1, 0), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds");
}

TEST(CheckedRegions, R2IsPassedThrough) {
  RunInput input;
  input.r2 = 0x123456789abcdef0ULL;
  Program program = load_ok({mov64_reg(0, 2), exit_insn()});
  auto result = interpret(program, input);
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 0x123456789abcdef0ULL);
}

// The packet that LD_ABS reads is data for LD_ABS, not writable memory.
TEST(CheckedRegions, PacketIsNotWritable) {
  alignas(16) std::array<std::uint8_t, 16> packet{};
  RunInput input;
  input.packet = packet;
  std::vector<Insn> insns;
  lddw(insns, 1, address_of(packet.data()));
  insns.push_back(st(Size::b, 1, 0, 1));
  insns.push_back(exit_insn());
  Program program = load_ok(insns);
  auto result = interpret(program, input);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds");
  EXPECT_EQ(packet[0], 0);
}

// ---- the stack ----

TEST(CheckedStack, FrameBoundariesInEveryFrame) {
  // main -> f -> g; in g, [r10-512] and [r10-1] are valid, [r10-513] is below every active
  // frame.
  struct Probe {
    std::int16_t offset;
    bool ok;
  };
  for (Probe probe : {Probe{-512, true}, Probe{-1, true}, Probe{-513, false}}) {
    SCOPED_TRACE(probe.offset);
    Program program = load_ok({
        call_local(1),                     // 0: main calls f
        exit_insn(),                       // 1
        call_local(1),                     // 2: f calls g
        exit_insn(),                       // 3
        ldx(Size::b, 0, 10, probe.offset), // 4: g
        exit_insn(),                       // 5
    });
    auto result = interpret(program, RunInput{});
    EXPECT_EQ(result.ok(), probe.ok) << (result.ok() ? hex(*result) : describe(result.error()));
    if (!result.ok()) {
      EXPECT_EQ(result.error().insn_index, 4u);
    }
  }
}

TEST(CheckedStack, EntryFrameTopIsTheEnd) {
  Program program = load_ok({ldx(Size::b, 0, 10, 0), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds");
  EXPECT_EQ(result.error().insn_index, 0u);
}

// A program may read stack bytes it never wrote (the loader is not a verifier). What it reads
// must not be what an earlier run, maybe of another program, left there: checked mode is a
// sandbox, and one run's data (or the host's stack addresses) must not leak into another.
TEST(CheckedStack, RunsDoNotSeeWhatEarlierRunsLeft) {
  constexpr std::uint64_t secret = 0x5ec2e75ec2e75ec2ULL;
  std::vector<Insn> writer_insns;
  lddw(writer_insns, 1, secret);
  for (std::int16_t offset = -8; offset >= -512; offset = static_cast<std::int16_t>(offset - 8))
    writer_insns.push_back(stx(Size::dw, 10, 1, offset));
  writer_insns.push_back(mov64_imm(0, 0));
  writer_insns.push_back(exit_insn());
  Program writer = load_ok(writer_insns);
  // The reader ORs together every doubleword of its frame.
  std::vector<Insn> reader_insns{mov64_imm(0, 0)};
  for (std::int16_t offset = -8; offset >= -512; offset = static_cast<std::int16_t>(offset - 8)) {
    reader_insns.push_back(ldx(Size::dw, 1, 10, offset));
    reader_insns.push_back(make_insn(0x4f, 0, 1, 0, 0));  // or r0, r1
  }
  reader_insns.push_back(exit_insn());
  Program reader = load_ok(reader_insns);

  ASSERT_TRUE(interpret(writer, RunInput{}).ok());
  auto result = interpret(reader, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_NE(*result & secret, secret)
      << "the reader saw the writer's stack from the previous run: " << hex(*result);
}

// ---- unchecked mode ----

TEST(UncheckedMode, SameResultsOnValidPrograms) {
  alignas(16) std::array<std::uint8_t, 32> memory{};
  for (std::size_t i = 0; i < memory.size(); ++i) memory[i] = static_cast<std::uint8_t>(3 * i + 1);
  std::vector<Insn> insns{
      ldx(Size::dw, 2, 1, 8),    stx(Size::dw, 10, 2, -8), mov64_imm(3, 5),
      atomic_add(Size::dw, 10, 3, -8), ldx(Size::w, 0, 10, -8), ldx(Size::h, 4, 1, 30),
      add64_reg(0, 4),           stx(Size::b, 1, 0, 0),    ldx(Size::b, 5, 1, 0),
      add64_reg(0, 5),           exit_insn(),
  };
  Program program = load_ok(insns);
  auto memory_copy = memory;
  auto checked = interpret(program, RunInput::raw(memory));
  RunOptions unchecked;
  unchecked.memory_mode = MemoryMode::unchecked;
  auto fast = interpret(program, RunInput::raw(memory_copy), unchecked);
  ASSERT_TRUE(checked.ok()) << describe(checked.error());
  ASSERT_TRUE(fast.ok()) << describe(fast.error());
  EXPECT_EQ(*checked, *fast);
  EXPECT_EQ(memory, memory_copy);
}

}  // namespace
}  // namespace bpfvm::testing
