// Soundness of branch refinement: every concrete pair that takes an edge is in that edge's
// refined values, an edge reported unreachable is taken by no pair, and "always" / "never"
// are never wrong.
#include "verifier/concrete.hpp"
#include "verifier/describe.hpp"
#include "verifier/samples.hpp"

#include <gtest/gtest.h>

namespace bpfvm::verifier::testing {
namespace {

bool edge_covers(const std::optional<Refined>& edge, const char* which, CmpOp op, int bits,
                 const ScalarValue& a, const ScalarValue& b, std::uint64_t x, std::uint64_t y,
                 Verdict verdict) {
  const auto context = [&] {
    return fmt::format("{}{} {} edge, x={:#x} y={:#x}\n  dst {}\n  src {}", name(op), bits, which,
                       x, y, describe(a), describe(b));
  };
  if (!edge) {
    ADD_FAILURE() << "edge reported unreachable but taken: " << context()
                  << " verdict=" << static_cast<int>(verdict);
    return false;
  }
  if (!edge->dst.contains(x) || !edge->src.contains(y)) {
    ADD_FAILURE() << "refined values lose a pair: " << context() << "\n  refined dst "
                  << describe(edge->dst) << "\n  refined src " << describe(edge->src);
    return false;
  }
  return true;
}

bool branch_covers(CmpOp op, int bits, const ScalarValue& a, const ScalarValue& b,
                   const std::vector<std::uint64_t>& xs, const std::vector<std::uint64_t>& ys) {
  const BranchResult r = branch(op, bits, a, b);
  // The verdict agrees with the edges.
  if ((r.verdict == Verdict::never) != !r.taken.has_value() ||
      (r.verdict == Verdict::always && r.fallthrough.has_value())) {
    ADD_FAILURE() << "verdict and edges disagree: " << name(op) << bits;
    return false;
  }
  for (std::uint64_t x : xs) {
    for (std::uint64_t y : ys) {
      const bool taken = concrete_cmp(op, bits, x, y);
      if (taken ? r.verdict == Verdict::never : r.verdict == Verdict::always) {
        ADD_FAILURE() << "wrong verdict " << static_cast<int>(r.verdict) << " for " << name(op)
                      << bits << fmt::format(" x={:#x} y={:#x}", x, y) << "\n  dst " << describe(a)
                      << "\n  src " << describe(b);
        return false;
      }
      if (!edge_covers(taken ? r.taken : r.fallthrough, taken ? "taken" : "fall-through", op, bits,
                       a, b, x, y, r.verdict))
        return false;
    }
  }
  return true;
}

TEST(BranchSoundness, RandomAbstractValuesEveryCondition) {
  Samples samples(0xb4a1);
  for (int i = 0; i < iterations(4000); ++i) {
    const ScalarValue a = samples.abstract();
    const ScalarValue b = samples.below(2) == 0 ? samples.related(a) : samples.abstract();
    auto xs = samples.members(a, 6);
    auto ys = samples.members(b, 6);
    // Pairs of equal values (and equal low halves) make eq and ne edges interesting.
    for (std::uint64_t x : xs) {
      if (b.contains(x)) ys.push_back(x);
      const std::uint64_t same_low =
          (samples.bits() & ~std::uint64_t{0xffffffff}) | (x & 0xffffffff);
      if (b.contains(same_low)) ys.push_back(same_low);
    }
    ASSERT_FALSE(xs.empty() || ys.empty());
    for (CmpOp op : all_cmp_ops) {
      for (int bits : {64, 32}) {
        ASSERT_TRUE(branch_covers(op, bits, a, b, xs, ys));
        ASSERT_TRUE(branch_covers(op, bits, b, a, ys, xs));
      }
    }
  }
}

TEST(BranchSoundness, ExhaustiveOverThreeBitTnumPairs) {
  // Every pair of tnums with three bits each known 0, known 1 or unknown (27 x 27), placed at
  // the bottom, around bit 31 and around bit 63, with every member pair and every condition.
  const int shifts[] = {0, 30, 61};
  const std::uint64_t uppers[] = {0, 0xfffffff000000000};
  for (int shift : shifts) {
    for (std::uint64_t upper : uppers) {
      std::vector<std::pair<ScalarValue, std::vector<std::uint64_t>>> values;
      for (int code = 0; code < 27; ++code) {
        std::uint64_t value = 0, mask = 0;
        for (int bit = 0, c = code; bit < 3; ++bit, c /= 3) {
          if (c % 3 == 1) value |= std::uint64_t{1} << bit;
          if (c % 3 == 2) mask |= std::uint64_t{1} << bit;
        }
        const std::uint64_t up = shift == 61 ? 0 : upper & ~(std::uint64_t{7} << shift);
        const Tnum t{(value << shift) | up, mask << shift};
        std::vector<std::uint64_t> members;
        for (std::uint64_t sub = mask;; sub = (sub - 1) & mask) {
          members.push_back(t.value | (sub << shift));
          if (sub == 0) break;
        }
        values.emplace_back(ScalarValue::from_tnum(t), members);
      }
      for (const auto& [a, xs] : values)
        for (const auto& [b, ys] : values)
          for (CmpOp op : all_cmp_ops)
            for (int bits : {64, 32}) ASSERT_TRUE(branch_covers(op, bits, a, b, xs, ys));
    }
  }
}

TEST(BranchSoundness, ExhaustiveOverSmallRanges) {
  // Every pair of ranges inside [-4, 4] (signed) and inside [UINT32_MAX - 4, UINT32_MAX + 4],
  // where signedness and the 32-bit wrap matter.
  for (std::int64_t base : {std::int64_t{-4}, std::int64_t{0xfffffffb}}) {
    std::vector<std::pair<ScalarValue, std::vector<std::uint64_t>>> values;
    for (std::int64_t lo = base; lo <= base + 8; ++lo) {
      for (std::int64_t hi = lo; hi <= base + 8; ++hi) {
        std::vector<std::uint64_t> members;
        for (std::int64_t x = lo; x <= hi; ++x) members.push_back(static_cast<std::uint64_t>(x));
        values.emplace_back(ScalarValue::signed_range(lo, hi), members);
      }
    }
    for (const auto& [a, xs] : values)
      for (const auto& [b, ys] : values)
        for (CmpOp op : all_cmp_ops)
          for (int bits : {64, 32}) ASSERT_TRUE(branch_covers(op, bits, a, b, xs, ys));
  }
}

}  // namespace
}  // namespace bpfvm::verifier::testing
