// Static liveness (liveness.hpp) instruction by instruction, and includes ignoring what a
// LiveMask leaves out. The cases in cases/liveness.txt test the same through whole programs.
#include "verifier/liveness.hpp"
#include "isa/decoder.hpp"
#include "verifier/verifier_state.hpp"

#include <bpfvm/assembler.hpp>

#include <gtest/gtest.h>

namespace bpfvm::verifier::testing {
namespace {

Liveness liveness_of(const char* text) {
  auto insns = assemble(text);
  EXPECT_TRUE(insns) << insns.error().to_string();
  auto decoded = decode(*insns);
  EXPECT_TRUE(decoded) << decoded.error().to_string();
  return compute_liveness(*decoded, {0});
}

constexpr std::uint16_t reg(int r) { return static_cast<std::uint16_t>(1u << r); }
constexpr std::uint64_t slot(int offset) { return std::uint64_t{1} << ((512 + offset) / 8); }

TEST(Liveness, RegistersReadBeforeWritten) {
  // 0: mov r3, 1   1: mov r0, r2   2: add r0, r4   3: exit
  const Liveness l = liveness_of("mov %r3, 1\nmov %r0, %r2\nadd %r0, %r4\nexit\n");
  EXPECT_EQ(l.regs[0] & 0x3ff, reg(2) | reg(4));  // r3 is written first, r0 too
  EXPECT_EQ(l.regs[2] & 0x3ff, reg(0) | reg(4));
  EXPECT_EQ(l.regs[3] & 0x3ff, reg(0));
  EXPECT_NE(l.regs[0] & reg(10), 0);  // r10 always
}

TEST(Liveness, LoopsAndBothEdges) {
  // r5 is read on the taken edge only, r6 at the loop head on every pass.
  const Liveness l = liveness_of(
      "mov %r0, 0\n"
      "loop:\n"
      "jeq %r6, 0, out\n"
      "add %r6, -1\n"
      "ja loop\n"
      "out:\n"
      "jeq %r1, 0, end\n"
      "mov %r0, %r5\n"
      "end:\n"
      "exit\n");
  EXPECT_EQ(l.regs[0] & 0x3ff, reg(1) | reg(5) | reg(6));
  EXPECT_EQ(l.regs[1] & 0x3ff, reg(0) | reg(1) | reg(5) | reg(6));
}

TEST(Liveness, HelperCallsScratchAndRead) {
  // bpf_ktime_get_ns (5) reads r1-r5 for all the analysis knows and scratches them.
  const Liveness l = liveness_of("mov %r1, 1\ncall 5\nmov %r0, %r6\nexit\n");
  EXPECT_EQ(l.regs[1] & 0x3ff, reg(1) | reg(2) | reg(3) | reg(4) | reg(5) | reg(6));
  EXPECT_EQ(l.regs[0] & 0x3ff, reg(2) | reg(3) | reg(4) | reg(5) | reg(6));
}

TEST(Liveness, StackSlotsThroughR10AndThroughPointers) {
  const Liveness direct = liveness_of(
      "stdw [%r10-8], 1\n"      // 0: writes fp-8
      "stw [%r10-16], 2\n"      // 1: a 4-byte store writes no whole slot
      "ldxdw %r0, [%r10-16]\n"  // 2: reads fp-16
      "ldxdw %r0, [%r1+0]\n"    // 3: r1 (the context) is no stack pointer
      "exit\n");
  EXPECT_EQ(direct.stack[0], slot(-16));
  EXPECT_EQ(direct.stack[1], slot(-16));
  EXPECT_EQ(direct.stack[3], 0u);

  const Liveness copied = liveness_of(
      "mov %r2, %r10\n"
      "add %r2, -8\n"
      "stdw [%r10-24], 1\n"  // 2: r2 may point anywhere, so the load reads every slot
      "ldxdw %r0, [%r2+0]\n"
      "exit\n");
  EXPECT_EQ(copied.stack[2], ~slot(-24));  // every slot but the one it writes
  EXPECT_EQ(copied.stack[3], ~std::uint64_t{0});
  EXPECT_EQ(copied.stack[4], 0u);

  // A helper reads the stack only when an argument may point into it.
  const Liveness helper = liveness_of(
      "stdw [%r10-8], 1\n"
      "mov %r1, 0\n"
      "call 5\n"  // r1-r5: no stack pointer among them
      "mov %r2, %r10\n"
      "call 5\n"  // r2 = r10
      "mov %r0, 0\n"
      "exit\n");
  EXPECT_EQ(helper.stack[2], ~std::uint64_t{0});  // the second call reads everything
  EXPECT_EQ(helper.stack[4], ~std::uint64_t{0});
  EXPECT_EQ(helper.stack[5], 0u);
  // ... as memory: the bytes must be written, their values do not matter.
  EXPECT_EQ(helper.stack_values[2], 0u);
  EXPECT_EQ(helper.stack_values[4], 0u);
  // A fill after the helper makes the values matter again.
  const Liveness fill = liveness_of(
      "stdw [%r10-8], 1\n"
      "mov %r2, %r10\n"
      "call 5\n"
      "ldxdw %r0, [%r10-8]\n"
      "exit\n");
  EXPECT_EQ(fill.stack[1], ~std::uint64_t{0});
  EXPECT_EQ(fill.stack_values[1], slot(-8));
  EXPECT_EQ(fill.stack_values[0], 0u);  // written there
}

TEST(Liveness, SpilledStackPointersAreFollowed) {
  // A stack pointer spilled and filled back may be read through.
  const Liveness l = liveness_of(
      "mov %r2, %r10\n"
      "stxdw [%r10-8], %r2\n"
      "stdw [%r10-16], 7\n"
      "ldxdw %r3, [%r10-8]\n"
      "ldxdw %r0, [%r3-16]\n"
      "exit\n");
  EXPECT_EQ(l.stack[4], ~std::uint64_t{0});
  EXPECT_NE(l.stack[3] & slot(-16), 0u);
}

TEST(Liveness, IncludesIgnoresWhatIsDead) {
  VerifierState old;
  old.frames.emplace_back();
  old.frames[0].regs[10] = RegValue::stack_pointer(0, 0);
  old.frames[0].regs[3] = RegValue::scalar(ScalarValue::constant(1));
  VerifierState cur = old;
  cur.frames[0].regs[3] = RegValue::scalar(ScalarValue::constant(2));
  LiveMask live = LiveMask::all();
  EXPECT_FALSE(includes(old, cur, live));
  live.regs[0] = static_cast<std::uint16_t>(live.regs[0] & ~reg(3));
  EXPECT_TRUE(includes(old, cur, live));

  // A stack slot: 1 in one, 2 in the other.
  ASSERT_TRUE(std::holds_alternative<std::monostate>(
      old.frames[0].stack.write(-8, 8, RegValue::scalar(ScalarValue::constant(1)))));
  ASSERT_TRUE(std::holds_alternative<std::monostate>(
      cur.frames[0].stack.write(-8, 8, RegValue::scalar(ScalarValue::constant(2)))));
  EXPECT_FALSE(includes(old, cur, live));
  // Read only as helper memory: written in both, so included whatever the values.
  live.stack_values[0] &= ~slot(-8);
  EXPECT_TRUE(includes(old, cur, live));
  live.stack_values[0] = ~std::uint64_t{0};
  live.stack[0] &= ~slot(-8);
  EXPECT_TRUE(includes(old, cur, live));
  // Memory that one state has not written is not included.
  VerifierState unwritten = cur;
  unwritten.frames[0].stack = StackState{};
  live = LiveMask::all();
  live.regs[0] = static_cast<std::uint16_t>(live.regs[0] & ~reg(3));
  live.stack_values[0] &= ~slot(-8);
  EXPECT_FALSE(includes(old, unwritten, live));
}

}  // namespace
}  // namespace bpfvm::verifier::testing
