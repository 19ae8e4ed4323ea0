// ScalarValue: bound deduction (sync) keeps every member, join is an upper bound, includes is
// sound, bottom is only reported for empty values, and printing follows the kernel's log.
#include "verifier/describe.hpp"
#include "verifier/samples.hpp"

#include <gtest/gtest.h>

namespace bpfvm::verifier::testing {
namespace {

using u64 = std::uint64_t;
using s64 = std::int64_t;

// Constraints loosely around a few seed values, not yet synced: each bound encloses the
// seeds with random slack (or is left at its extreme), the tnum is their join with some more
// unknown bits.
ScalarValue loose_around(Samples& samples, const std::vector<u64>& seeds) {
  ScalarValue v;
  Tnum t = Tnum::constant(seeds[0]);
  for (u64 s : seeds) t = tnum_join(t, Tnum::constant(s));
  const u64 extra = samples.below(2) ? samples.bits() & samples.bits() & samples.bits() : 0;
  v.var_off = Tnum{t.value & ~extra, t.mask | extra};
  auto slack = [&] { return samples.below(3) == 0 ? 0 : samples.below(1000); };
  u64 umin = ~u64{0}, umax = 0;
  s64 smin = INT64_MAX, smax = INT64_MIN;
  std::uint32_t u32min = UINT32_MAX, u32max = 0;
  std::int32_t s32min = INT32_MAX, s32max = INT32_MIN;
  for (u64 s : seeds) {
    umin = std::min(umin, s);
    umax = std::max(umax, s);
    smin = std::min(smin, static_cast<s64>(s));
    smax = std::max(smax, static_cast<s64>(s));
    u32min = std::min(u32min, static_cast<std::uint32_t>(s));
    u32max = std::max(u32max, static_cast<std::uint32_t>(s));
    s32min = std::min(s32min, static_cast<std::int32_t>(s));
    s32max = std::max(s32max, static_cast<std::int32_t>(s));
  }
  if (samples.below(2)) {
    v.umin = umin - std::min<u64>(umin, slack());
    v.umax = umax + std::min<u64>(~umax, slack());
  }
  if (samples.below(2)) {
    v.smin = smin - static_cast<s64>(std::min<u64>(
                        static_cast<u64>(smin) - static_cast<u64>(INT64_MIN), slack()));
    v.smax = smax + static_cast<s64>(std::min<u64>(
                        static_cast<u64>(INT64_MAX) - static_cast<u64>(smax), slack()));
  }
  if (samples.below(2)) {
    v.u32_min = u32min;
    v.u32_max = u32max;
  }
  if (samples.below(2)) {
    v.s32_min = s32min;
    v.s32_max = s32max;
  }
  return v;
}

TEST(ScalarValue, SyncKeepsEveryMember) {
  Samples samples(0x5a1);
  for (int i = 0; i < iterations(20000); ++i) {
    std::vector<u64> seeds;
    const u64 base = samples.value();
    for (u64 n = 1 + samples.below(4); n > 0; --n)
      seeds.push_back(samples.below(2) ? samples.value() : base + samples.below(100) - 50);
    const ScalarValue loose = loose_around(samples, seeds);
    auto members = samples.members(loose, 8);
    members.insert(members.end(), seeds.begin(), seeds.end());
    ScalarValue synced = loose;
    synced.sync();
    ASSERT_FALSE(synced.is_bottom()) << describe(loose) << " -> " << describe(synced);
    ASSERT_TRUE(loose.includes(synced))
        << "sync widened " << describe(loose) << " -> " << describe(synced);
    for (u64 x : members) {
      ASSERT_TRUE(loose.contains(x));
      ASSERT_TRUE(synced.contains(x))
          << fmt::format("{:#x} lost: ", x) << describe(loose) << " -> " << describe(synced);
    }
  }
}

TEST(ScalarValue, JoinCoversBothAndIncludesIsSound) {
  Samples samples(0x5a2);
  for (int i = 0; i < iterations(5000); ++i) {
    const ScalarValue a = samples.abstract(), b = samples.abstract();
    const ScalarValue j = join(a, b);
    for (u64 x : samples.members(a, 4)) ASSERT_TRUE(j.contains(x)) << describe(a) << describe(j);
    for (u64 x : samples.members(b, 4)) ASSERT_TRUE(j.contains(x)) << describe(b) << describe(j);
    // includes() promises every member of the included value.
    for (const auto& [outer, inner] : {std::pair{a, b}, std::pair{b, a}, std::pair{j, a}}) {
      if (!outer.includes(inner)) continue;
      for (u64 x : samples.members(inner, 6)) ASSERT_TRUE(outer.contains(x));
    }
  }
}

TEST(ScalarValue, IncludesForPruning) {
  const ScalarValue wide = ScalarValue::unsigned_range(0, 10);
  EXPECT_TRUE(wide.includes(ScalarValue::unsigned_range(3, 5)));
  EXPECT_TRUE(wide.includes(ScalarValue::constant(10)));
  EXPECT_FALSE(wide.includes(ScalarValue::unsigned_range(0, 11)));
  EXPECT_TRUE(ScalarValue::unknown().includes(wide));
  EXPECT_FALSE(wide.includes(ScalarValue::unknown()));
  // Even values in [0, 14] do not include odd 3.
  const ScalarValue even = ScalarValue::from_tnum(Tnum{0, 0xe});
  EXPECT_FALSE(even.includes(ScalarValue::constant(3)));
  EXPECT_TRUE(even.includes(ScalarValue::constant(4)));
}

TEST(ScalarValue, JoinOfConstants) {
  const ScalarValue j = join(ScalarValue::constant(3), ScalarValue::constant(5));
  EXPECT_EQ(j.umin, 3U);
  EXPECT_EQ(j.umax, 5U);
  EXPECT_EQ(j.var_off, (Tnum{1, 6}));
  EXPECT_EQ(to_string(j),
            "scalar(smin=umin=smin32=umin32=3,smax=umax=smax32=umax32=5,var_off=(0x1; 0x6))");
}

TEST(ScalarValue, BottomOnlyWhenEmpty) {
  ScalarValue v = ScalarValue::unsigned_range(5, 10);
  EXPECT_FALSE(v.is_bottom());
  v.umax = 4;
  EXPECT_TRUE(v.is_bottom());
  // Odd values in [4, 4]: the tnum and the range disagree.
  ScalarValue odd = ScalarValue::from_tnum(Tnum{1, 0xe});
  odd.umin = odd.umax = 4;
  odd.sync();
  EXPECT_TRUE(odd.is_bottom());
  // No random abstract value is bottom, and sync of a bottom value stays bottom.
  Samples samples(0x5a3);
  for (int i = 0; i < 2000; ++i) ASSERT_FALSE(samples.abstract().is_bottom());
  v.sync();
  EXPECT_TRUE(v.is_bottom());
}

TEST(ScalarValue, BoundsAgreeAcrossViews) {
  // Linux's deductions, one by one.
  // Unsigned within the positive half: the same signed range.
  const ScalarValue a = ScalarValue::unsigned_range(10, 20);
  EXPECT_EQ(a.smin, 10);
  EXPECT_EQ(a.smax, 20);
  EXPECT_EQ(a.u32_max, 20U);
  // Signed range of negatives: the same unsigned range.
  const ScalarValue b = ScalarValue::signed_range(-3, -1);
  EXPECT_EQ(b.umin, 0xfffffffffffffffdULL);
  EXPECT_EQ(b.umax, ~u64{0});
  EXPECT_EQ(b.s32_min, -3);
  EXPECT_EQ(b.s32_max, -1);
  // A signed range across zero with a small unsigned max: only the non-negative part.
  ScalarValue c = ScalarValue::signed_range(-5, 100);
  c.umax = 50;
  c.sync();
  EXPECT_EQ(c.smin, 0);
  EXPECT_EQ(c.smax, 50);
  // 32-bit knowledge tightens the 64-bit range (the __reg_deduce_mixed_bounds example).
  ScalarValue d = ScalarValue::unsigned_range(0x100000000, 0x380000000);
  d.s32_min = 1;
  d.s32_max = 0x7fffffff;
  d.sync();
  EXPECT_EQ(d.umin, 0x100000001U);
  EXPECT_EQ(d.umax, 0x37fffffffU);
}

TEST(ScalarValue, ZeroExtension) {
  ScalarValue v = ScalarValue::signed_range(-1, 1);
  v.zero_extend_32();
  // The low halves are 0xffffffff, 0 and 1: zero-extended that is [0, 0xffffffff].
  EXPECT_EQ(v.umin, 0U);
  EXPECT_EQ(v.umax, 0xffffffffU);
  EXPECT_EQ(v.smin, 0);
  EXPECT_TRUE(v.contains(0xffffffff));
  EXPECT_FALSE(v.contains(~u64{0}));
}

TEST(ScalarValue, PrintsAsTheKernelLog) {
  EXPECT_EQ(to_string(ScalarValue::constant(42)), "42");
  EXPECT_EQ(to_string(ScalarValue::constant(~u64{0})), "-1");
  EXPECT_EQ(to_string(ScalarValue::constant(512)), "512");
  EXPECT_EQ(to_string(ScalarValue::constant(4096)), "0x1000");
  EXPECT_EQ(to_string(ScalarValue::constant(static_cast<u64>(-513))), "0xfffffffffffffdff");
  EXPECT_EQ(to_string(ScalarValue::unknown()), "scalar()");
  EXPECT_EQ(to_string(ScalarValue::unsigned_range(0, 255)),
            "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))");
  EXPECT_EQ(to_string(ScalarValue::loaded(1, true)), "scalar(smin=smin32=-128,smax=smax32=127)");
  EXPECT_EQ(to_string(ScalarValue::unsigned_range(0, 0xffffffff)),
            "scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))");
}

}  // namespace
}  // namespace bpfvm::verifier::testing
