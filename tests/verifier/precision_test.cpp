// Precision: cases where the Linux verifier gets a precise result, which this domain must
// match (and a few where it goes further, marked so).
#include "verifier/describe.hpp"

#include <gtest/gtest.h>

namespace bpfvm::verifier::testing {
namespace {

using u64 = std::uint64_t;
const ScalarValue unknown = ScalarValue::unknown();

ScalarValue c(u64 v) { return ScalarValue::constant(v); }

TEST(Precision, AndWithAMaskBoundsTheValue) {
  const ScalarValue r = alu(AluOp::bit_and, 64, unknown, c(0xff));
  EXPECT_EQ(r.umin, 0U);
  EXPECT_EQ(r.umax, 255U);
  EXPECT_EQ(r.smin, 0);
  EXPECT_EQ(r.var_off, (Tnum{0, 0xff}));
  EXPECT_EQ(to_string(r), "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))");
}

TEST(Precision, UnsignedCompareRefinesBothEdges) {
  // if r1 < 10: taken r1 <= 9, fall-through r1 >= 10.
  const auto r = branch(CmpOp::lt, 64, unknown, c(10));
  EXPECT_EQ(r.verdict, Verdict::unknown);
  ASSERT_TRUE(r.taken && r.fallthrough);
  EXPECT_EQ(r.taken->dst.umax, 9U);
  EXPECT_EQ(r.taken->dst.var_off, (Tnum{0, 0xf}));
  EXPECT_EQ(r.fallthrough->dst.umin, 10U);
  // And through the opcode table: jlt r1, 10.
  const auto row = branch(Op::JLT64_IMM, unknown, immediate(10));
  ASSERT_TRUE(row && row->taken);
  EXPECT_EQ(row->taken->dst, r.taken->dst);
}

TEST(Precision, RangeAgainstConstant) {
  const ScalarValue r1 = ScalarValue::unsigned_range(0, 10);
  const auto gt = branch(CmpOp::gt, 64, r1, c(5));
  ASSERT_TRUE(gt.taken && gt.fallthrough);
  EXPECT_EQ(gt.taken->dst, ScalarValue::unsigned_range(6, 10));
  EXPECT_EQ(gt.fallthrough->dst, ScalarValue::unsigned_range(0, 5));
  // Out of range: decided.
  EXPECT_EQ(branch(CmpOp::eq, 64, ScalarValue::unsigned_range(0, 255), c(300)).verdict,
            Verdict::never);
  EXPECT_EQ(branch(CmpOp::lt, 64, ScalarValue::unsigned_range(0, 255), c(300)).verdict,
            Verdict::always);
  EXPECT_EQ(branch(CmpOp::sgt, 64, ScalarValue::unsigned_range(0, 255), c(~u64{0})).verdict,
            Verdict::always);
  // jne 0 on [0, 10]: the taken edge starts at 1, the other is exactly 0.
  const auto ne = branch(CmpOp::ne, 64, r1, c(0));
  ASSERT_TRUE(ne.taken && ne.fallthrough);
  EXPECT_EQ(ne.taken->dst.umin, 1U);
  EXPECT_EQ(ne.fallthrough->dst, c(0));
}

TEST(Precision, JeqMakesTheRegisterConstant) {
  const auto r = branch(CmpOp::eq, 64, unknown, c(7));
  ASSERT_TRUE(r.taken);
  EXPECT_EQ(r.taken->dst, c(7));
  // Reg-reg: both get the intersection.
  const auto rr =
      branch(CmpOp::eq, 64, ScalarValue::unsigned_range(0, 10), ScalarValue::unsigned_range(5, 20));
  ASSERT_TRUE(rr.taken);
  EXPECT_EQ(rr.taken->dst, ScalarValue::unsigned_range(5, 10));
  EXPECT_EQ(rr.taken->src, ScalarValue::unsigned_range(5, 10));
}

TEST(Precision, RegisterAgainstRegister) {
  // r1 in [0, 100] < r2 in [50, 60]: r1 <= 59 on the taken edge; r1 >= 50 on the other.
  const auto r = branch(CmpOp::lt, 64, ScalarValue::unsigned_range(0, 100),
                        ScalarValue::unsigned_range(50, 60));
  ASSERT_TRUE(r.taken && r.fallthrough);
  EXPECT_EQ(r.taken->dst.umax, 59U);
  EXPECT_EQ(r.taken->src, ScalarValue::unsigned_range(50, 60));
  EXPECT_EQ(r.fallthrough->dst.umin, 50U);
}

TEST(Precision, SignedCompare) {
  // if r1 s> -1: r1 is non-negative, so unsigned below 2^63.
  const auto r = branch(CmpOp::sgt, 64, unknown, c(~u64{0}));
  ASSERT_TRUE(r.taken && r.fallthrough);
  EXPECT_EQ(r.taken->dst.smin, 0);
  EXPECT_EQ(r.taken->dst.umax, 0x7fffffffffffffffU);
  EXPECT_EQ(r.fallthrough->dst.smax, -1);
  EXPECT_EQ(r.fallthrough->dst.umin, 0x8000000000000000U);
}

TEST(Precision, ThirtyTwoBitCompareRefinesTheLowHalf) {
  const auto r = branch(Op::JLT32_IMM, unknown, immediate(10));
  ASSERT_TRUE(r && r->taken);
  const ScalarValue& v = r->taken->dst;
  EXPECT_EQ(v.u32_max, 9U);
  EXPECT_EQ(v.s32_min, 0);
  EXPECT_EQ(v.umax, 0xffffffff00000009U);  // upper half unknown, low half at most 9
  EXPECT_EQ(v.var_off, (Tnum{0, 0xffffffff0000000f}));
  EXPECT_EQ(to_string(v),
            "scalar(smax=0x7fffffff00000009,umax=0xffffffff00000009,smin32=0,smax32=umax32=9,"
            "var_off=(0x0; 0xffffffff0000000f))");
}

TEST(Precision, JsetLearnsASingleBit) {
  const auto r = branch(CmpOp::set, 64, unknown, c(1));
  ASSERT_TRUE(r.taken && r.fallthrough);
  EXPECT_EQ(r.taken->dst.var_off, (Tnum{1, ~u64{1}}));
  EXPECT_EQ(r.taken->dst.umin, 1U);
  EXPECT_EQ(r.fallthrough->dst.var_off, (Tnum{0, ~u64{1}}));
  // Known bits decide it.
  EXPECT_EQ(branch(CmpOp::set, 64, c(6), c(2)).verdict, Verdict::always);
  EXPECT_EQ(branch(CmpOp::set, 64, ScalarValue::from_tnum(Tnum{0, 0xf0}), c(0xf)).verdict,
            Verdict::never);
}

TEST(Precision, ShiftPatterns) {
  // r1 >>= 60 leaves at most 15.
  EXPECT_EQ(alu(AluOp::rsh, 64, unknown, c(60)).umax, 15U);
  // The compiler's sign extension of a subregister: r1 <<= 32; r1 s>>= 32.
  for (const auto& [lo, hi] : {std::pair{0, 100}, std::pair{-5, 5}}) {
    const ScalarValue w = alu(AluOp::mov, 32, unknown, ScalarValue::signed_range32(lo, hi));
    const ScalarValue shifted = alu(AluOp::arsh, 64, alu(AluOp::lsh, 64, w, c(32)), c(32));
    EXPECT_EQ(shifted, ScalarValue::signed_range(lo, hi)) << describe(shifted);
  }
  // A 32-bit shift masks its amount: w1 <<= 33 is w1 <<= 1.
  EXPECT_EQ(alu(AluOp::lsh, 32, c(3), c(33)), c(6));
}

TEST(Precision, ArithmeticOnRanges) {
  const ScalarValue small = ScalarValue::unsigned_range(0, 10);
  EXPECT_EQ(alu(AluOp::add, 64, small, c(5)), ScalarValue::unsigned_range(5, 15));
  EXPECT_EQ(alu(AluOp::sub, 64, small, c(1)).smin, -1);
  EXPECT_EQ(alu(AluOp::mul, 64, small, small), ScalarValue::unsigned_range(0, 100));
  EXPECT_EQ(alu(AluOp::neg, 64, c(5), unknown), c(static_cast<u64>(-5)));
  // 32-bit operations zero-extend.
  const ScalarValue w = alu(AluOp::add, 32, unknown, c(1));
  EXPECT_EQ(w.umax, 0xffffffffU);
  EXPECT_EQ(w.smin, 0);
  EXPECT_EQ(alu(AluOp::mov, 32, unknown, c(~u64{0})), c(0xffffffff));
  // Loads: ldxb is [0, 255], ldxsb [-128, 127].
  EXPECT_EQ(ScalarValue::loaded(1, false), ScalarValue::unsigned_range(0, 255));
  EXPECT_EQ(ScalarValue::loaded(1, true), ScalarValue::signed_range(-128, 127));
  EXPECT_EQ(ScalarValue::loaded(4, false), ScalarValue::unsigned_range(0, 0xffffffff));
  // movsx8 of [0, 100] stays [0, 100]; of [0x80, 0x90] it is [-128, -112].
  EXPECT_EQ(alu(AluOp::movsx8, 64, unknown, small), small);
  EXPECT_EQ(alu(AluOp::movsx8, 64, unknown, ScalarValue::unsigned_range(0x80, 0x90)),
            ScalarValue::signed_range(-128, -112));
}

TEST(Precision, BeyondLinuxDivisionModuloAndByteSwaps) {
  // Linux gives up on these (unknown); RFC 9669's defined division lets us keep a range.
  EXPECT_EQ(alu(AluOp::div, 64, unknown, c(16)).umax, 0x0fffffffffffffffU);
  EXPECT_EQ(alu(AluOp::mod, 64, unknown, c(10)), ScalarValue::unsigned_range(0, 9));
  EXPECT_EQ(
      alu(AluOp::mod, 64, ScalarValue::unsigned_range(3, 7), ScalarValue::unsigned_range(0, 8))
          .umax,
      7U);
  EXPECT_EQ(alu(AluOp::smod, 64, unknown, c(10)), ScalarValue::signed_range(-9, 9));
  EXPECT_EQ(alu(AluOp::sdiv, 64, ScalarValue::signed_range(-100, 100), c(10)),
            ScalarValue::signed_range(-10, 10));
  EXPECT_EQ(alu(AluOp::bswap16, 64, c(0x1234), unknown), c(0x3412));
  EXPECT_EQ(alu(AluOp::le16, 64, unknown, unknown), ScalarValue::unsigned_range(0, 0xffff));
  EXPECT_EQ(alu(AluOp::bswap32, 64, ScalarValue::unsigned_range(0, 255), unknown).var_off,
            (Tnum{0, 0xff000000}));
}

}  // namespace
}  // namespace bpfvm::verifier::testing

namespace bpfvm::verifier::testing {
namespace {

TEST(Precision, ImpossibleEdgesAreBottom) {
  // Even numbers never equal 3: the tnums disagree on bit 0.
  const ScalarValue even = ScalarValue::from_tnum(Tnum{0, 0xfe});
  const auto eq = branch(CmpOp::eq, 64, even, c(3));
  EXPECT_EQ(eq.verdict, Verdict::never);
  EXPECT_FALSE(eq.taken);
  ASSERT_TRUE(eq.fallthrough);
  EXPECT_EQ(eq.fallthrough->dst, even);
  // [5, 10] s< 5 cannot hold; [0, 0] u< anything-but-0 is unknown, u< 0 never.
  EXPECT_EQ(branch(CmpOp::slt, 64, ScalarValue::unsigned_range(5, 10), c(5)).verdict,
            Verdict::never);
  EXPECT_EQ(branch(CmpOp::lt, 64, unknown, c(0)).verdict, Verdict::never);
  EXPECT_EQ(branch(CmpOp::ge, 64, unknown, c(0)).verdict, Verdict::always);
  // A refinement that empties a value: r1 in {1, 3} (tnum (0x1; 0x2)) != 1 leaves 3; != 3
  // after that is impossible.
  const ScalarValue one_or_three = join(c(1), c(3));
  const auto ne1 = branch(CmpOp::ne, 64, one_or_three, c(1));
  ASSERT_TRUE(ne1.taken);
  EXPECT_EQ(ne1.taken->dst, c(3));
  EXPECT_EQ(branch(CmpOp::ne, 64, ne1.taken->dst, c(3)).verdict, Verdict::never);
  // jset 0x2 on values whose bit 1 is known 0.
  EXPECT_EQ(branch(CmpOp::set, 64, ScalarValue::from_tnum(Tnum{0, 0xfd}), c(2)).verdict,
            Verdict::never);
}

TEST(Precision, ThirtyTwoBitConditionsLookOnlyAtTheLowHalf) {
  // 0x100000005 == 5 in 32 bits, not in 64.
  EXPECT_EQ(branch(Op::JEQ32_IMM, c(0x100000005), immediate(5))->verdict, Verdict::always);
  EXPECT_EQ(branch(Op::JEQ64_IMM, c(0x100000005), immediate(5))->verdict, Verdict::never);
  // jset32 with bit 32 set only: never.
  EXPECT_EQ(branch(Op::JSET32_REG, c(0x100000000), c(0x100000000))->verdict, Verdict::never);
  // w1 == 7 makes the low half constant and leaves the upper half alone.
  const auto eq = branch(Op::JEQ32_IMM, unknown, immediate(7));
  ASSERT_TRUE(eq && eq->taken);
  EXPECT_EQ(eq->taken->dst.var_off, (Tnum{7, 0xffffffff00000000}));
  EXPECT_TRUE(eq->taken->dst.is_const32());
}

}  // namespace
}  // namespace bpfvm::verifier::testing

namespace bpfvm::verifier::testing {
namespace {

TEST(Precision, RemainderThatKeepsTheDividendKeepsAllOfIt) {
  // x % 0 == x and x % d == x for x below d: the result is the destination, 32-bit bounds
  // included.
  ScalarValue x = ScalarValue::unsigned_range(0x100000000, 0x100000009);
  EXPECT_EQ(alu(AluOp::mod, 64, x, c(0)), x);
  EXPECT_EQ(alu(AluOp::mod, 64, x, ScalarValue::unsigned_range(0x200000000, 0x300000000)), x);
  EXPECT_EQ(alu(AluOp::smod, 64, ScalarValue::signed_range(-5, 5), c(10)),
            ScalarValue::signed_range(-5, 5));
  EXPECT_EQ(alu(AluOp::mod, 32, x, c(0)), ScalarValue::unsigned_range(0, 9));
}

}  // namespace
}  // namespace bpfvm::verifier::testing
