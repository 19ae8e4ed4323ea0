// The program-level verifier's internal API beyond verdicts: error form, log, statistics,
// budget, the CFG's subprograms and prune points, and the inclusion checks pruning relies on.
#include "verifier/case_maps.hpp"
#include "verifier/cfg.hpp"
#include "verifier/stack_state.hpp"
#include "verifier/verifier_state.hpp"
#include "verifier/verify.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/linux_helpers.hpp>

#include <gtest/gtest.h>

namespace bpfvm::verifier::testing {
namespace {

std::vector<Insn> asm_or_die(const char* text) {
  auto r = assemble(text);
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? *r : std::vector<Insn>{};
}

TEST(VerifyApi, ErrorNamesInstructionDisassemblyReasonAndOperands) {
  const auto insns = asm_or_die("mov %r1, %r10\nadd %r1, -8\nldxdw %r0, [%r1]\nexit\n");
  const VerifyResult r = verify(insns);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->insn, 2u);
  EXPECT_EQ(r.error->disassembly, "r0 = *(u64 *)(r1 + 0)");
  EXPECT_EQ(r.error->reason, "invalid read from stack off=-8 size=8 (byte fp-8 never written)");
  EXPECT_EQ(r.error->registers, "R1=fp-8");
  EXPECT_EQ(r.error->to_string(),
            "insn 2 (r0 = *(u64 *)(r1 + 0)): invalid read from stack off=-8 size=8 (byte fp-8 "
            "never written) [R1=fp-8]");
}

// A bpf_loop callback adding its index to a counter in the caller's stack: the iterations
// reach a fixed point at the call after one widening (callbacks.hpp), so the exploration
// stays a few dozen instructions instead of running into the budget.
TEST(VerifyApi, CallbackIterationsConverge) {
  auto insns = assemble_case(
      "stdw [%r10-8], 0\nmov %r1, 100\nldfunc %r2, cb\nmov %r3, %r10\nadd %r3, -8\n"
      "mov %r4, 0\ncall 181\nldxdw %r0, [%r10-8]\nexit\n"
      "cb:\nldxdw %r3, [%r2]\nadd %r3, %r1\nstxdw [%r2], %r3\nmov %r0, 0\nexit\n");
  ASSERT_TRUE(insns) << insns.error().to_string();
  const HelperRegistry helpers = linux_helpers();
  VerifyOptions options;
  options.helpers = &helpers;
  options.log = true;
  const VerifyResult r = verify(*insns, options);
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  EXPECT_LT(r.stats.insns_processed, 60u) << r.log;
  EXPECT_GE(r.stats.states_pruned, 1u);
  // The callback's frame and arguments show in the log as the kernel prints them.
  EXPECT_NE(r.log.find("frame1: "), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("R2=func(insn=10)"), std::string::npos) << r.log;
}

TEST(VerifyApi, LogShowsEachInstructionAndItsState) {
  const auto insns = asm_or_die("mov %r0, 7\nstxdw [%r10-8], %r0\nexit\n");
  VerifyOptions options;
  options.log = true;
  const VerifyResult r = verify(insns, options);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r.log.find("0: r0 = 7 ; R0=7 R1=ctx() R2=scalar() R10=fp0"), std::string::npos)
      << r.log;
  EXPECT_NE(r.log.find("fp-8=7"), std::string::npos) << r.log;
  EXPECT_EQ(r.stats.insns_processed, 3u);
  EXPECT_EQ(r.stats.max_stack_depth, 8);
}

TEST(VerifyApi, PruningKeepsDiamondChainsLinear) {
  // mov32 makes a fresh value each time (a 64-bit mov would link r6 to r2, and the taken edge
  // would make r2 a constant for the rest of the path). Each diamond leaves r3 = 1 or 2; the join
  // after the first edge caches r3 in [1, 1], the second edge's r3 = 2 is new, and from the next
  // diamond on, every state is pruned.
  std::string text = "mov %r0, 0\n";
  for (int i = 0; i < 30; ++i) {
    const std::string n = std::to_string(i);
    text += "mov32 %r6, %r2\njeq %r6, " + n + ", t" + n + "\nmov %r3, 1\nja j" + n + "\nt" + n +
            ":\nmov %r3, 2\nj" + n + ":\n";
  }
  text += "exit\n";
  const VerifyResult r = verify(asm_or_die(text.c_str()));
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  EXPECT_LT(r.stats.insns_processed, 500u);
  EXPECT_GT(r.stats.states_pruned, 20u);
  EXPECT_GT(r.stats.states_kept, 0u);
  EXPECT_GE(r.stats.peak_pending, 1u);
}

TEST(VerifyApi, StackDepthCountsSubprogramFrames) {
  const auto insns =
      asm_or_die("stdw [%r10-8], 1\ncall local f\nexit\nf:\nstdw [%r10-48], 2\nmov %r0, 0\nexit\n");
  const VerifyResult r = verify(insns);
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  EXPECT_EQ(r.stats.max_stack_depth, 48);
}

TEST(VerifyApi, BudgetIsAnOption) {
  const auto insns = asm_or_die("mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 1000, loop\nexit\n");
  EXPECT_TRUE(verify(insns).ok());
  VerifyOptions small;
  small.budget = 100;
  const VerifyResult r = verify(insns, small);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->reason.find("BPF program is too large. Processed 100 insn"),
            std::string::npos);
}

TEST(VerifyApi, LddwOfAMapNotGivenIsRejected) {
  // lddw r1, map[0] (BPF_PSEUDO_MAP_FD): the assembler writes no pseudo sources.
  const std::vector<Insn> insns = {
      {0x18, 1, 1, 0, 0}, {0, 0, 0, 0, 0}, {0xb7, 0, 0, 0, 0}, {0x95, 0, 0, 0, 0}};
  const VerifyResult r = verify(insns);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->insn, 0u);
  EXPECT_NE(r.error->reason.find("map index 0 in lddw is out of range (0 maps given)"),
            std::string::npos);
}

TEST(VerifyApi, DecoderErrorsComeThrough) {
  const std::vector<Insn> insns = {{0xff, 0, 0, 0, 0}};
  const VerifyResult r = verify(insns);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->insn, 0u);
}

TEST(Cfg, SubprogramsAndPrunePoints) {
  const auto insns =
      asm_or_die("mov %r0, 0\njeq %r0, 1, skip\ncall local f\nskip:\nexit\nf:\nmov %r0, 1\nexit\n");
  auto decoded = decode(insns);
  ASSERT_TRUE(decoded);
  const CfgResult c = build_cfg(*decoded);
  ASSERT_TRUE(c.errors.empty()) << c.errors.front().message;
  ASSERT_EQ(c.cfg.subprograms.size(), 2u);
  EXPECT_EQ(c.cfg.subprograms[0].start, 0u);
  EXPECT_EQ(c.cfg.subprograms[0].end, 4u);
  EXPECT_EQ(c.cfg.subprograms[1].start, 4u);
  EXPECT_EQ(c.cfg.subprograms[1].end, 6u);
  EXPECT_EQ(c.cfg.subprogram_of(3), 0u);
  EXPECT_EQ(c.cfg.subprogram_of(5), 1u);
  // Jump target, fall-through of the conditional, call target, after the call.
  const std::vector<bool> expected = {false, false, true, true, true, false};
  EXPECT_EQ(c.cfg.prune_point, expected);
}

TEST(Inclusion, RegistersByKindFrameAndRange) {
  const RegValue unset = RegValue::uninit();
  const RegValue small = RegValue::scalar(ScalarValue::unsigned_range(0, 10));
  const RegValue five = RegValue::scalar(ScalarValue::constant(5));
  EXPECT_TRUE(includes(unset, RegValue::stack_pointer(0, -8)));
  EXPECT_TRUE(includes(small, five));
  EXPECT_FALSE(includes(five, small));
  EXPECT_FALSE(includes(five, unset));
  EXPECT_FALSE(includes(RegValue::stack_pointer(0, -8), RegValue::stack_pointer(1, -8)));
  EXPECT_FALSE(includes(RegValue::stack_pointer(0, -8), RegValue::stack_pointer(0, -16)));
  EXPECT_FALSE(includes(RegValue::scalar(ScalarValue::unknown()), RegValue::ctx_pointer()));
}

TEST(Inclusion, LinkedScalarsStayLinked) {
  auto state = [](std::uint32_t id1, std::uint32_t id2) {
    VerifierState s;
    s.frames.emplace_back();
    s.current().regs[1] = RegValue::scalar(ScalarValue::unsigned_range(0, 10));
    s.current().regs[2] = RegValue::scalar(ScalarValue::unsigned_range(0, 10));
    s.current().regs[1].id = id1;
    s.current().regs[2].id = id2;
    return s;
  };
  EXPECT_TRUE(includes(state(0, 0), state(4, 4)));   // links only add precision
  EXPECT_TRUE(includes(state(1, 1), state(5, 5)));   // ids renamed one to one
  EXPECT_FALSE(includes(state(1, 1), state(5, 0)));  // the proof may have used the link
  EXPECT_FALSE(includes(state(1, 1), state(5, 6)));
  EXPECT_FALSE(includes(state(1, 2), state(5, 5)));  // one to one, as Linux's check_ids
  EXPECT_TRUE(state(1, 1) == state(1, 1));
}

TEST(Inclusion, StackBytes) {
  StackState unwritten;
  StackState misc;
  ASSERT_TRUE(std::holds_alternative<std::monostate>(
      misc.write(-8, 4, RegValue::scalar(ScalarValue::unknown()))));
  StackState zero;
  ASSERT_TRUE(std::holds_alternative<std::monostate>(
      zero.write(-8, 4, RegValue::scalar(ScalarValue::constant(0)))));
  StackState spilled_ptr;
  ASSERT_TRUE(std::holds_alternative<std::monostate>(
      spilled_ptr.write(-8, 8, RegValue::stack_pointer(0, -8))));
  EXPECT_TRUE(includes(unwritten, spilled_ptr));
  EXPECT_TRUE(includes(misc, zero));
  EXPECT_FALSE(includes(zero, misc));
  EXPECT_FALSE(includes(misc, unwritten));
  EXPECT_FALSE(includes(misc, spilled_ptr));
  EXPECT_FALSE(includes(spilled_ptr, misc));
  EXPECT_TRUE(includes(spilled_ptr, spilled_ptr));
}

}  // namespace
}  // namespace bpfvm::verifier::testing
