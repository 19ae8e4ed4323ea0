// Soundness of the transfer functions: for random abstract values of many shapes and random
// members of them, the concrete result (RFC 9669) is a member of the abstract result.
#include "verifier/concrete.hpp"
#include "verifier/describe.hpp"
#include "verifier/samples.hpp"

#include <gtest/gtest.h>

namespace bpfvm::verifier::testing {
namespace {

// Checks one abstract operation on every pair of the given members; returns false (and
// reports) at the first concrete result outside the abstract one.
bool covers(AluCase c, const ScalarValue& a, const ScalarValue& b,
            const std::vector<std::uint64_t>& xs, const std::vector<std::uint64_t>& ys) {
  const ScalarValue r = alu(c.op, c.bits, a, b);
  for (std::uint64_t x : xs) {
    for (std::uint64_t y : ys) {
      const std::uint64_t z = concrete_alu(c.op, c.bits, x, y);
      if (!r.contains(z)) {
        ADD_FAILURE() << name(c.op) << c.bits << ": "
                      << fmt::format("{:#x} op {:#x} = {:#x}", x, y, z) << "\n  dst " << describe(a)
                      << "\n  src " << describe(b) << "\n  got " << describe(r);
        return false;
      }
    }
  }
  return true;
}

TEST(AluSoundness, RandomAbstractValuesEveryOperationBothWidths) {
  Samples samples(0x5eed1);
  const auto cases = all_alu_cases();
  for (int i = 0; i < iterations(2500); ++i) {
    const ScalarValue a = samples.abstract();
    const ScalarValue b = samples.below(3) == 0 ? samples.related(a) : samples.abstract();
    ASSERT_FALSE(a.is_bottom()) << describe(a);
    ASSERT_FALSE(b.is_bottom()) << describe(b);
    const auto xs = samples.members(a, 6);
    const auto ys = samples.members(b, 6);
    ASSERT_FALSE(xs.empty()) << "no member found in " << describe(a);
    ASSERT_FALSE(ys.empty()) << "no member found in " << describe(b);
    for (const AluCase c : cases) ASSERT_TRUE(covers(c, a, b, xs, ys));
  }
}

TEST(AluSoundness, ConstantsFoldExactly) {
  // Known operands give a known result, equal to the concrete one: the domain never loses a
  // constant (Linux folds them through the tnum).
  Samples samples(0x5eed2);
  const auto cases = all_alu_cases();
  for (int i = 0; i < iterations(4000); ++i) {
    const std::uint64_t x = samples.value(), y = samples.value();
    for (const AluCase c : cases) {
      const ScalarValue r = alu(c.op, c.bits, ScalarValue::constant(x), ScalarValue::constant(y));
      ASSERT_TRUE(r.is_const()) << name(c.op) << c.bits << fmt::format(" {:#x} {:#x} ", x, y)
                                << describe(r);
      ASSERT_EQ(r.const_value(), concrete_alu(c.op, c.bits, x, y))
          << name(c.op) << c.bits << fmt::format(" {:#x} {:#x}", x, y);
      ASSERT_EQ(r, ScalarValue::constant(r.const_value())) << describe(r);
    }
  }
}

TEST(AluSoundness, ShiftsByEveryConstantAmount) {
  // Every amount 0..63 (masked for 32-bit operations, as RFC 9669 says), and amounts above
  // the width.
  Samples samples(0x5eed3);
  for (int i = 0; i < iterations(300); ++i) {
    const ScalarValue a = samples.abstract();
    const auto xs = samples.members(a, 8);
    for (std::uint64_t k = 0; k < 70; ++k) {
      for (AluOp op : {AluOp::lsh, AluOp::rsh, AluOp::arsh}) {
        for (int bits : {64, 32})
          ASSERT_TRUE(covers({op, bits}, a, ScalarValue::constant(k), xs, {k}));
      }
    }
  }
}

TEST(AluSoundness, ExhaustiveOverEightBitTnums) {
  // Every tnum whose unknown bits lie in one byte (3^8 of them), at a few positions and with
  // a few fixed upper parts; every member against a set of operands.
  Samples samples(0x5eed4);
  const std::uint64_t uppers[] = {0, 0xffffffffffffff00, 0x7fffffff00, 0x8000000000000000};
  const auto cases = all_alu_cases();
  for (int code = 0; code < 6561; ++code) {
    std::uint64_t value = 0, mask = 0;
    int c = code;
    for (int bit = 0; bit < 8; ++bit, c /= 3) {
      if (c % 3 == 1) value |= std::uint64_t{1} << bit;
      if (c % 3 == 2) mask |= std::uint64_t{1} << bit;
    }
    const int shift = code % 3 == 0 ? 0 : code % 3 == 1 ? 24 : 56;
    const std::uint64_t upper = uppers[code % std::size(uppers)] & ~(std::uint64_t{0xff} << shift);
    const Tnum t{(value << shift) | upper, mask << shift};
    const ScalarValue a = ScalarValue::from_tnum(t);
    std::vector<std::uint64_t> xs;
    for (std::uint64_t sub = mask;; sub = (sub - 1) & mask) {  // every member
      xs.push_back(t.value | (sub << shift));
      if (sub == 0) break;
    }
    for (const std::uint64_t x : xs) ASSERT_TRUE(a.contains(x)) << describe(a);
    const ScalarValue b = code % 2 ? ScalarValue::constant(samples.value()) : samples.abstract();
    const auto ys = samples.members(b, 2);
    for (const AluCase k : cases) ASSERT_TRUE(covers(k, a, b, xs, ys));
  }
}

TEST(AluSoundness, ExhaustiveOverSmallRanges) {
  // Every range of up to 7 consecutive values around 0, INT64_MIN, INT32_MAX / INT32_MIN and
  // 2^32 (where wrapping, signedness and MIN / -1 matter), against every range around 0 and
  // every range around the same place, with every member pair.
  struct Range {
    ScalarValue value;
    std::vector<std::uint64_t> members;
  };
  auto ranges_from = [](std::uint64_t base) {
    std::vector<Range> out;
    for (std::uint64_t lo = 0; lo < 7; ++lo) {
      for (std::uint64_t hi = lo; hi < 7; ++hi) {
        const std::uint64_t first = base + lo, last = base + hi;
        // One of the two orders sees the values as consecutive.
        Range r{first <= last ? ScalarValue::unsigned_range(first, last)
                              : ScalarValue::signed_range(static_cast<std::int64_t>(first),
                                                          static_cast<std::int64_t>(last)),
                {}};
        for (std::uint64_t x = lo; x <= hi; ++x) r.members.push_back(base + x);
        out.push_back(std::move(r));
      }
    }
    return out;
  };
  const auto near_zero = ranges_from(static_cast<std::uint64_t>(-3));
  const auto cases = all_alu_cases();
  for (std::uint64_t base : {static_cast<std::uint64_t>(-3), std::uint64_t{0x8000000000000000},
                             std::uint64_t{0x7ffffffd}, std::uint64_t{0xfffffffd}}) {
    const auto here = ranges_from(base);
    for (const Range& a : here)
      for (std::uint64_t x : a.members) ASSERT_TRUE(a.value.contains(x)) << describe(a.value);
    for (const Range& a : here) {
      for (const auto* others : {&near_zero, &here}) {
        for (const Range& b : *others) {
          for (const AluCase c : cases)
            ASSERT_TRUE(covers(c, a.value, b.value, a.members, b.members));
        }
      }
    }
  }
}

TEST(AluSoundness, LoadResultRanges) {
  // ldx of 1, 2, 4, 8 bytes zero-extends; ldsx of 1, 2, 4 sign-extends (RFC 9669 section 5).
  Samples samples(0x5eed5);
  for (int size : {1, 2, 4, 8}) {
    const ScalarValue zx = ScalarValue::loaded(size, false);
    const ScalarValue sx = ScalarValue::loaded(size, true);
    for (int i = 0; i < iterations(2000); ++i) {
      const std::uint64_t bytes = samples.value();
      const std::uint64_t loaded =
          size == 8 ? bytes : bytes & ((std::uint64_t{1} << (size * 8)) - 1);
      ASSERT_TRUE(zx.contains(loaded)) << size << describe(zx);
      const int unused = 64 - size * 8;
      const auto extended =
          static_cast<std::uint64_t>(static_cast<std::int64_t>(loaded << unused) >> unused);
      ASSERT_TRUE(sx.contains(extended)) << size << describe(sx);
    }
  }
}

}  // namespace
}  // namespace bpfvm::verifier::testing
