// Local calls: up to max_call_frames (8) frames including the entry frame, r6-r9 preserved,
// r10 per frame, arguments in r1-r5 and the result in r0.
#include "support/case_runner.hpp"

#include <gtest/gtest.h>

namespace bpfvm::testing {
namespace {

Program load_ok(const std::vector<Insn>& insns) {
  auto program = Program::load(insns);
  EXPECT_TRUE(program.ok()) << describe(program.error());
  return std::move(program).value();
}

// main calls f(n); f(k) calls f(k-1) until k == 0: n + 2 frames in all. Returns n + 1.
std::vector<Insn> recursion(std::int32_t n) {
  return {
      mov64_imm(1, n),     // 0
      mov64_imm(0, 0),     // 1
      call_local(1),       // 2 -> 4
      exit_insn(),         // 3
      jeq_imm(1, 0, 2),    // 4: f -> 7
      sub64_imm(1, 1),     // 5
      call_local(-3),      // 6 -> 4
      add64_imm(0, 1),     // 7
      exit_insn(),         // 8
  };
}

TEST(Calls, EightFramesAreAllowed) {
  static_assert(max_call_frames == 8);
  Program program = load_ok(recursion(6));  // 1 + 7 frames
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 7u);
}

TEST(Calls, NinthFrameFailsWithCallDepth) {
  Program program = load_ok(recursion(7));  // 1 + 8 frames
  auto result = interpret(program, RunInput{});
  ASSERT_FALSE(result.ok()) << "returned " << *result;
  EXPECT_EQ(kind_name(result.error().kind), "call_depth");
  EXPECT_EQ(result.error().insn_index, 6u) << describe(result.error());
}

TEST(Calls, DepthIsReleasedOnReturn) {
  // main descends to 8 frames twice: returning frees the frames.
  Program program = load_ok({
      mov64_imm(1, 6),     // 0
      mov64_imm(0, 0),     // 1
      call_local(4),       // 2 -> 7
      mov64_imm(1, 6),     // 3
      call_local(2),       // 4 -> 7
      exit_insn(),         // 5
      exit_insn(),         // 6 (never reached)
      jeq_imm(1, 0, 2),    // 7: f -> 10
      sub64_imm(1, 1),     // 8
      call_local(-3),      // 9 -> 7
      add64_imm(0, 1),     // 10
      exit_insn(),         // 11
  });
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 14u);
}

TEST(Calls, CalleeSavedRegistersAndFramePointerSurvive) {
  Program program = load_ok({
      mov64_imm(6, 6), mov64_imm(7, 7), mov64_imm(8, 8), mov64_imm(9, 9),  // 0-3
      st(Size::dw, 10, -8, 1000),                                          // 4
      call_local(7),                                                       // 5 -> 13
      mov64_reg(0, 6),                                                     // 6
      add64_reg(0, 7),                                                     // 7
      add64_reg(0, 8),                                                     // 8
      add64_reg(0, 9),                                                     // 9
      ldx(Size::dw, 1, 10, -8),                                            // 10: main's slot
      add64_reg(0, 1),                                                     // 11
      exit_insn(),                                                         // 12
      mov64_imm(6, 100), mov64_imm(7, 100), mov64_imm(8, 100),             // 13-15: f
      mov64_imm(9, 100), st(Size::dw, 10, -8, 5), exit_insn(),             // 16-18
  });
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 1030u);
}

TEST(Calls, ArgumentsAndResult) {
  Program program = load_ok({
      mov64_imm(1, 1), mov64_imm(2, 2), mov64_imm(3, 3), mov64_imm(4, 4), mov64_imm(5, 5),  // 0-4
      call_local(1),                                                                          // 5 -> 7
      exit_insn(),                                                                            // 6
      mov64_reg(0, 1), add64_reg(0, 2), add64_reg(0, 3), add64_reg(0, 4), add64_reg(0, 5),   // 7-11
      exit_insn(),                                                                            // 12
  });
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 15u);
}

TEST(Calls, EachFrameHasItsOwnStack) {
  Program program = load_ok({
      st(Size::dw, 10, -8, 11),    // 0
      call_local(3),               // 1 -> 5
      ldx(Size::dw, 1, 10, -8),    // 2: still 11
      add64_reg(0, 1),             // 3
      exit_insn(),                 // 4
      st(Size::dw, 10, -8, 22),    // 5: f
      ldx(Size::dw, 0, 10, -8),    // 6
      exit_insn(),                 // 7
  });
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 33u);
}

TEST(Calls, CalleeReachesCallerFrameThroughPointer) {
  Program program = load_ok({
      st(Size::dw, 10, -16, 5),    // 0
      mov64_reg(1, 10),            // 1
      add64_imm(1, -16),           // 2
      call_local(2),               // 3 -> 6
      ldx(Size::dw, 0, 10, -16),   // 4
      exit_insn(),                 // 5
      mov64_imm(2, 7),             // 6: f
      atomic_add(Size::dw, 1, 2, 0),  // 7
      exit_insn(),                 // 8
  });
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 12u);
}

TEST(Calls, StalePointerIntoReturnedFrameIsRefused) {
  Program program = load_ok({
      call_local(2),               // 0 -> 3
      ldx(Size::dw, 0, 0, 0),      // 1
      exit_insn(),                 // 2
      st(Size::dw, 10, -8, 1),     // 3: f
      mov64_reg(0, 10),            // 4
      add64_imm(0, -8),            // 5
      exit_insn(),                 // 6
  });
  auto result = interpret(program, RunInput{});
  ASSERT_FALSE(result.ok()) << "returned " << *result;
  EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds");
  EXPECT_EQ(result.error().insn_index, 1u);
}

}  // namespace
}  // namespace bpfvm::testing
