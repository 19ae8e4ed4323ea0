// The instruction budget: a budget of N lets exactly N instructions run; the (N+1)th ends
// the run with budget_exhausted.
#include "support/case_runner.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace bpfvm::testing {
namespace {

Program load_ok(const std::vector<Insn>& insns, const HelperRegistry* helpers = nullptr) {
  auto program = Program::load(insns, LoadOptions{.helpers = helpers});
  EXPECT_TRUE(program.ok()) << describe(program.error());
  return std::move(program).value();
}

Result<std::uint64_t> run_with_budget(const Program& program, std::optional<std::uint64_t> budget,
                                      MemoryMode mode = MemoryMode::checked) {
  RunOptions options;
  options.budget = budget;
  options.memory_mode = mode;
  return interpret(program, RunInput{}, options);
}

// r0 counts to 10 in a loop: 1 + 10 * 2 + 1 = 22 instructions run.
std::vector<Insn> counting_loop() {
  return {mov64_imm(0, 0), add64_imm(0, 1), jne_imm(0, 10, -2), exit_insn()};
}
constexpr std::uint64_t counting_loop_length = 22;

TEST(Budget, ExactlyEnoughLetsTheProgramFinish) {
  Program program = load_ok(counting_loop());
  for (MemoryMode mode : {MemoryMode::checked, MemoryMode::unchecked}) {
    auto result = run_with_budget(program, counting_loop_length, mode);
    ASSERT_TRUE(result.ok()) << describe(result.error());
    EXPECT_EQ(*result, 10u);
  }
}

TEST(Budget, OneTooFewEndsTheRun) {
  Program program = load_ok(counting_loop());
  for (MemoryMode mode : {MemoryMode::checked, MemoryMode::unchecked}) {
    auto result = run_with_budget(program, counting_loop_length - 1, mode);
    ASSERT_FALSE(result.ok()) << "returned " << *result;
    EXPECT_EQ(kind_name(result.error().kind), "budget_exhausted");
    // The 22nd instruction, the one that did not run, is the exit at index 3.
    EXPECT_EQ(result.error().insn_index, 3u) << describe(result.error());
  }
}

TEST(Budget, EveryBudgetBelowTheLengthFails) {
  Program program = load_ok(counting_loop());
  for (std::uint64_t budget = 0; budget < counting_loop_length; ++budget) {
    auto result = run_with_budget(program, budget);
    EXPECT_FALSE(result.ok()) << "budget " << budget;
    if (!result.ok()) {
      EXPECT_EQ(kind_name(result.error().kind), "budget_exhausted");
    }
  }
}

TEST(Budget, ZeroRunsNothing) {
  Program program = load_ok({mov64_imm(0, 1), exit_insn()});
  auto result = run_with_budget(program, 0);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "budget_exhausted");
  EXPECT_EQ(result.error().insn_index, 0u);
}

TEST(Budget, StraightLine) {
  Program program = load_ok({mov64_imm(0, 1), add64_imm(0, 1), add64_imm(0, 1), exit_insn()});
  EXPECT_TRUE(run_with_budget(program, 4).ok());
  EXPECT_FALSE(run_with_budget(program, 3).ok());
}

// lddw is one instruction even though it takes two slots.
TEST(Budget, LddwCountsOnce) {
  std::vector<Insn> insns;
  lddw(insns, 0, 0x1122334455667788ULL);
  insns.push_back(exit_insn());
  Program program = load_ok(insns);
  auto two = run_with_budget(program, 2);
  ASSERT_TRUE(two.ok()) << describe(two.error());
  EXPECT_EQ(*two, 0x1122334455667788ULL);
  EXPECT_FALSE(run_with_budget(program, 1).ok());
}

// Local calls: the call, the callee's instructions and its exit all count.
TEST(Budget, CountsCalleeInstructions) {
  Program program = load_ok({
      call_local(2),     // 0
      add64_imm(0, 1),   // 1
      exit_insn(),       // 2
      mov64_imm(0, 5),   // 3
      exit_insn(),       // 4
  });
  // 0, 3, 4, 1, 2 = 5 instructions.
  auto five = run_with_budget(program, 5);
  ASSERT_TRUE(five.ok()) << describe(five.error());
  EXPECT_EQ(*five, 6u);
  auto four = run_with_budget(program, 4);
  ASSERT_FALSE(four.ok());
  EXPECT_EQ(four.error().insn_index, 2u);
}

TEST(Budget, HelperCallCountsOnce) {
  HelperRegistry helpers = suite_helpers();
  Program program = load_ok({mov64_imm(1, 1), call_helper(5), exit_insn()}, &helpers);
  EXPECT_TRUE(run_with_budget(program, 3).ok());
  EXPECT_FALSE(run_with_budget(program, 2).ok());
}

TEST(Budget, InfiniteLoopEndsQuickly) {
  Program program = load_ok({ja(-1)});
  auto start = std::chrono::steady_clock::now();
  auto result = run_with_budget(program, 1'000'000);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "budget_exhausted");
  EXPECT_EQ(result.error().insn_index, 0u);
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST(Budget, InfiniteRecursionIsCallDepthNotBudget) {
  Program program = load_ok({call_local(-1), exit_insn()});
  auto result = run_with_budget(program, 1'000'000);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "call_depth");
}

TEST(Budget, NoBudgetMeansNoLimit) {
  // 3 million iterations: more than any small default could allow.
  std::vector<Insn> insns;
  lddw(insns, 1, 3'000'000);
  for (const Insn& insn : {mov64_imm(0, 0), add64_imm(0, 1), Insn{}, exit_insn()}) insns.push_back(insn);
  insns[4] = make_insn(0x5d, 0, 1, -2, 0);  // jne r0, r1, -2
  Program program = load_ok(insns);
  auto result = run_with_budget(program, std::nullopt);
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 3'000'000u);
}

TEST(Budget, HugeBudgetIsFine) {
  Program program = load_ok(counting_loop());
  auto result = run_with_budget(program, ~std::uint64_t{0});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 10u);
}

}  // namespace
}  // namespace bpfvm::testing
