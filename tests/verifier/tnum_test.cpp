// Tnums: every operation sound over all pairs of 4-bit tnums (81 x 81, every member pair),
// the ones Linux proves optimal (add, sub, and, or, xor) exactly the best tnum, and the
// queries (contains, overlaps, is_aligned, range) checked against their definitions.
#include "verifier/tnum.hpp"
#include "verifier/describe.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <vector>

namespace bpfvm::verifier {
namespace {

using u64 = std::uint64_t;

// All tnums over bits [shift, shift + width) with the other bits fixed to `upper`.
std::vector<Tnum> all_tnums(int width, int shift, u64 upper) {
  std::vector<Tnum> out;
  int count = 1;
  for (int i = 0; i < width; ++i) count *= 3;
  for (int code = 0; code < count; ++code) {
    u64 value = 0, mask = 0;
    for (int bit = 0, c = code; bit < width; ++bit, c /= 3) {
      if (c % 3 == 1) value |= u64{1} << (bit + shift);
      if (c % 3 == 2) mask |= u64{1} << (bit + shift);
    }
    const u64 field = ((u64{1} << width) - 1) << shift;
    out.push_back(Tnum{value | (upper & ~field), mask});
  }
  return out;
}

std::vector<u64> members(const Tnum& t) {
  std::vector<u64> out;
  for (u64 sub = t.mask;; sub = (sub - 1) & t.mask) {
    out.push_back(t.value | sub);
    if (sub == 0) break;
  }
  return out;
}

// The best tnum for a set of values, built one value at a time: known where they all agree.
class Abstraction {
 public:
  void add(u64 x) {
    ones_ &= x;
    zeros_ &= ~x;
  }
  Tnum tnum() const { return Tnum{ones_, ~(ones_ | zeros_)}; }

 private:
  u64 ones_ = ~u64{0}, zeros_ = ~u64{0};
};

Tnum abstraction(const std::vector<u64>& xs) {
  Abstraction a;
  for (u64 x : xs) a.add(x);
  return a.tnum();
}

struct BinaryOp {
  const char* name;
  std::function<Tnum(const Tnum&, const Tnum&)> abstract;
  std::function<u64(u64, u64)> concrete;
  bool optimal;
};

TEST(Tnum, BinaryOperationsSoundOverAllFourBitPairs) {
  const std::vector<BinaryOp> ops = {
      {"add", tnum_add, [](u64 x, u64 y) { return x + y; }, true},
      {"sub", tnum_sub, [](u64 x, u64 y) { return x - y; }, true},
      {"and", tnum_and, [](u64 x, u64 y) { return x & y; }, true},
      {"or", tnum_or, [](u64 x, u64 y) { return x | y; }, true},
      {"xor", tnum_xor, [](u64 x, u64 y) { return x ^ y; }, true},
      {"mul", tnum_mul, [](u64 x, u64 y) { return x * y; }, false},
  };
  // At the bottom, and straddling the sign bit with ones above (carries out of bit 63).
  for (const auto& [shift, upper] :
       {std::pair<int, u64>{0, 0}, std::pair<int, u64>{61, 0}, std::pair<int, u64>{2, 0xfff0}}) {
    const auto tnums = all_tnums(4, shift > 60 ? 60 : shift, upper);
    std::vector<std::vector<u64>> member_lists;
    for (const Tnum& t : tnums) member_lists.push_back(members(t));
    for (const BinaryOp& op : ops) {
      for (std::size_t i = 0; i < tnums.size(); ++i) {
        for (std::size_t j = 0; j < tnums.size(); ++j) {
          const Tnum& a = tnums[i];
          const Tnum& b = tnums[j];
          const Tnum r = op.abstract(a, b);
          ASSERT_TRUE(r.is_valid()) << op.name;
          Abstraction best;
          for (u64 x : member_lists[i]) {
            for (u64 y : member_lists[j]) {
              const u64 z = op.concrete(x, y);
              best.add(z);
              ASSERT_TRUE(r.contains(z)) << op.name << " " << to_string(a) << " " << to_string(b);
            }
          }
          if (op.optimal) {
            ASSERT_EQ(r, best.tnum()) << op.name << " " << to_string(a) << " " << to_string(b);
          }
        }
      }
    }
  }
}

TEST(Tnum, ShiftsCastsAndSwapsExactOverAllEightBitTnums) {
  // Bit permutations and truncations move each bit's status: the result is the best tnum.
  for (int shift : {0, 24, 56}) {
    for (const Tnum& a : all_tnums(8, shift, shift == 0 ? 0xabcd00 : 0)) {
      const auto xs = members(a);
      auto check = [&](const char* what, const Tnum& r, auto f) {
        Abstraction best;
        for (u64 x : xs) best.add(f(x));
        ASSERT_EQ(r, best.tnum()) << what << " " << to_string(a);
      };
      for (unsigned k : {0U, 1U, 7U, 31U, 32U, 63U}) {
        check("lshift", tnum_lshift(a, k), [k](u64 x) { return x << k; });
        check("rshift", tnum_rshift(a, k), [k](u64 x) { return x >> k; });
        check("arshift64", tnum_arshift(a, k, 64),
              [k](u64 x) { return static_cast<u64>(static_cast<std::int64_t>(x) >> k); });
        check("arshift32", tnum_arshift(a, k, 32), [k](u64 x) {
          return static_cast<u64>(static_cast<std::uint32_t>(
              static_cast<std::int32_t>(static_cast<std::uint32_t>(x)) >> (k & 31)));
        });
      }
      check("neg", tnum_neg(a), [](u64 x) { return u64{0} - x; });
      check("cast1", a.cast(1), [](u64 x) { return x & 0xff; });
      check("subreg", a.subreg(), [](u64 x) { return x & 0xffffffff; });
      check("clear_subreg", a.clear_subreg(), [](u64 x) { return x & ~u64{0xffffffff}; });
      check("sext8", a.sign_extend(8),
            [](u64 x) { return static_cast<u64>(static_cast<std::int8_t>(x)); });
      check("sext32", a.sign_extend(32),
            [](u64 x) { return static_cast<u64>(static_cast<std::int32_t>(x)); });
      check("bswap16", a.byte_swap(2),
            [](u64 x) { return u64{__builtin_bswap16(static_cast<std::uint16_t>(x))}; });
      check("bswap64", a.byte_swap(8), [](u64 x) { return __builtin_bswap64(x); });
    }
  }
}

TEST(Tnum, IntersectJoinAndQueriesOverAllFourBitPairs) {
  const auto tnums = all_tnums(4, 0, 0);
  for (const Tnum& a : tnums) {
    const auto xs = members(a);
    for (const Tnum& b : tnums) {
      const auto ys = members(b);
      std::vector<u64> common, both = xs;
      for (u64 x : xs)
        if (b.contains(x)) common.push_back(x);
      both.insert(both.end(), ys.begin(), ys.end());
      // overlaps() is exactly "a common member exists"; then intersect is that set.
      ASSERT_EQ(a.overlaps(b), !common.empty());
      if (!common.empty()) {
        ASSERT_EQ(tnum_intersect(a, b), abstraction(common));
      }
      ASSERT_EQ(tnum_join(a, b), abstraction(both));
      // contains(tnum) is the subset relation.
      bool subset = true;
      for (u64 y : ys) subset = subset && a.contains(y);
      ASSERT_EQ(a.contains(b), subset) << to_string(a) << " " << to_string(b);
    }
    for (u64 size : {1, 2, 4, 8}) {
      bool aligned = true;
      for (u64 x : xs) aligned = aligned && x % size == 0;
      ASSERT_EQ(a.is_aligned(size), aligned);
    }
  }
}

TEST(Tnum, RangeIsTheSmallestTnumHoldingTheRange) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    u64 lo = rng() >> (rng() % 64), hi = lo + (rng() >> (rng() % 64));
    if (hi < lo) std::swap(lo, hi);
    const Tnum t = Tnum::range(lo, hi);
    ASSERT_TRUE(t.contains(lo) && t.contains(hi) && t.min() <= lo && t.max() >= hi);
    ASSERT_TRUE(t.is_valid());
  }
  EXPECT_EQ(Tnum::range(0, 255), (Tnum{0, 0xff}));
  EXPECT_EQ(Tnum::range(16, 31), (Tnum{16, 0xf}));
  EXPECT_EQ(Tnum::range(5, 5), Tnum::constant(5));
  EXPECT_TRUE(Tnum::range(0, ~u64{0}).is_unknown());
  EXPECT_TRUE(Tnum::range(1, u64{1} << 63).is_unknown());
}

TEST(Tnum, MultiplicationIsPreciseOnConstantsAndPowersOfTwo) {
  EXPECT_EQ(tnum_mul(Tnum::constant(6), Tnum::constant(7)), Tnum::constant(42));
  // x * 4 with x in (0; 0xf): the low two bits are known zero, as Linux's tnum_mul gives.
  EXPECT_EQ(tnum_mul(Tnum{0, 0xf}, Tnum::constant(4)), (Tnum{0, 0x3c}));
}

TEST(Tnum, PrintsAsTheKernel) {
  EXPECT_EQ(to_string(Tnum{0, 0xff}), "(0x0; 0xff)");
  EXPECT_EQ(to_string(Tnum{0x10, 0x3}), "(0x10; 0x3)");
}

}  // namespace
}  // namespace bpfvm::verifier
