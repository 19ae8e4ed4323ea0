#include "verifier/scalar_value.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace bpfvm::verifier {

namespace {

using u32 = std::uint32_t;
using u64 = std::uint64_t;
using s32 = std::int32_t;
using s64 = std::int64_t;

constexpr u64 upper_mask = 0xffffffff00000000ULL;

// Bounds from the tnum (__update_reg32_bounds, __update_reg64_bounds). The smallest signed
// member sets the sign bit if it may be set and clears every other unknown bit; the largest
// does the opposite.
void update_bounds_from_tnum(ScalarValue& r) {
  const Tnum t = r.var_off;
  r.smin = std::max(r.smin, static_cast<s64>(t.value | (t.mask & (u64{1} << 63))));
  r.smax = std::min(r.smax, static_cast<s64>(t.value | (t.mask & ~(u64{1} << 63))));
  r.umin = std::max(r.umin, t.min());
  r.umax = std::min(r.umax, t.max());

  const Tnum t32 = t.subreg();
  const auto v32 = static_cast<u32>(t32.value);
  const auto m32 = static_cast<u32>(t32.mask);
  r.s32_min = std::max(r.s32_min, static_cast<s32>(v32 | (m32 & 0x80000000U)));
  r.s32_max = std::min(r.s32_max, static_cast<s32>(v32 | (m32 & 0x7fffffffU)));
  r.u32_min = std::max(r.u32_min, v32);
  r.u32_max = std::min(r.u32_max, v32 | m32);
}

void tighten_s32(ScalarValue& r, s32 lo, s32 hi) {
  r.s32_min = std::max(r.s32_min, lo);
  r.s32_max = std::min(r.s32_max, hi);
}

void tighten_u32(ScalarValue& r, u32 lo, u32 hi) {
  r.u32_min = std::max(r.u32_min, lo);
  r.u32_max = std::min(r.u32_max, hi);
}

// 32-bit bounds from the 64-bit ones, and between the two 32-bit views (__reg32_deduce_bounds).
void deduce_bounds32(ScalarValue& r) {
  // Every value in a 64-bit range whose ends share their upper half has that upper half, so
  // the low halves run, without wrapping, from the low half of one end to the other's.
  if ((r.umin >> 32) == (r.umax >> 32)) {
    tighten_u32(r, static_cast<u32>(r.umin), static_cast<u32>(r.umax));
    if (static_cast<s32>(r.umin) <= static_cast<s32>(r.umax))
      tighten_s32(r, static_cast<s32>(r.umin), static_cast<s32>(r.umax));
  }
  if ((r.smin >> 32) == (r.smax >> 32)) {
    tighten_u32(r, static_cast<u32>(r.smin), static_cast<u32>(r.smax));
    if (static_cast<s32>(r.smin) <= static_cast<s32>(r.smax))
      tighten_s32(r, static_cast<s32>(r.smin), static_cast<s32>(r.smax));
  }
  // Upper halves that are two consecutive numbers: the low halves run from the low end up to
  // 0xffffffff and on from 0 to the high end; when the first part is negative as s32 and the
  // second not, that is one s32 range.
  if (static_cast<u32>(r.umin >> 32) + 1 == static_cast<u32>(r.umax >> 32) &&
      static_cast<s32>(r.umin) < 0 && static_cast<s32>(r.umax) >= 0)
    tighten_s32(r, static_cast<s32>(r.umin), static_cast<s32>(r.umax));
  if (static_cast<u32>(static_cast<u64>(r.smin) >> 32) + 1 ==
          static_cast<u32>(static_cast<u64>(r.smax) >> 32) &&
      static_cast<s32>(r.smin) < 0 && static_cast<s32>(r.smax) >= 0)
    tighten_s32(r, static_cast<s32>(r.smin), static_cast<s32>(r.smax));

  // A u32 range on one side of the sign bit is the same s32 range, and the other way round.
  if (static_cast<s32>(r.u32_min) <= static_cast<s32>(r.u32_max))
    tighten_s32(r, static_cast<s32>(r.u32_min), static_cast<s32>(r.u32_max));
  if (static_cast<u32>(r.s32_min) <= static_cast<u32>(r.s32_max)) {
    tighten_u32(r, static_cast<u32>(r.s32_min), static_cast<u32>(r.s32_max));
  } else {
    // The s32 range crosses zero: as u32 it is [0, s32_max] and [s32_min, 0xffffffff]. A u32
    // range that misses one of the two pieces lies in the other.
    if (r.u32_max < static_cast<u32>(r.s32_min)) {
      r.u32_max = std::min(r.u32_max, static_cast<u32>(r.s32_max));
      tighten_s32(r, 0, static_cast<s32>(std::min<u32>(r.u32_max, 0x7fffffffU)));
    } else if (static_cast<u32>(r.s32_max) < r.u32_min) {
      r.u32_min = std::max(r.u32_min, static_cast<u32>(r.s32_min));
      tighten_s32(r, static_cast<s32>(std::max<u32>(r.u32_min, 0x80000000U)), -1);
    }
  }
}

// Signed from unsigned 64-bit bounds and back (__reg64_deduce_bounds).
void deduce_bounds64(ScalarValue& r) {
  if (static_cast<s64>(r.umin) <= static_cast<s64>(r.umax)) {
    r.smin = std::max(r.smin, static_cast<s64>(r.umin));
    r.smax = std::min(r.smax, static_cast<s64>(r.umax));
  }
  if (static_cast<u64>(r.smin) <= static_cast<u64>(r.smax)) {
    r.umin = std::max(r.umin, static_cast<u64>(r.smin));
    r.umax = std::min(r.umax, static_cast<u64>(r.smax));
  } else {
    // The signed range crosses zero: as unsigned it is [0, smax] and [smin, U64_MAX].
    if (r.umax < static_cast<u64>(r.smin)) {
      r.umax = std::min(r.umax, static_cast<u64>(r.smax));
      r.smin = std::max<s64>(r.smin, 0);
      r.smax = std::min(r.smax, static_cast<s64>(std::min<u64>(r.umax, INT64_MAX)));
    } else if (static_cast<u64>(r.smax) < r.umin) {
      r.umin = std::max(r.umin, static_cast<u64>(r.smin));
      r.smax = std::min<s64>(r.smax, -1);
      r.smin = std::max(r.smin, static_cast<s64>(std::max<u64>(r.umin, u64{1} << 63)));
    }
  }
}

// 64-bit bounds from the 32-bit ones (__reg_deduce_mixed_bounds): replacing the low half of
// a lower bound by the smallest possible low half only raises it, because a value with a
// larger upper half is above it anyway, and one with the same upper half has a low half no
// smaller. The same holds for upper bounds, and for the signed order of the upper half.
void deduce_mixed_bounds(ScalarValue& r) {
  r.umin = std::max(r.umin, (r.umin & upper_mask) | r.u32_min);
  r.umax = std::min(r.umax, (r.umax & upper_mask) | r.u32_max);
  r.smin = std::max(r.smin, static_cast<s64>((static_cast<u64>(r.smin) & upper_mask) | r.u32_min));
  r.smax = std::min(r.smax, static_cast<s64>((static_cast<u64>(r.smax) & upper_mask) | r.u32_max));
}

void deduce_bounds(ScalarValue& r) {
  deduce_bounds32(r);
  deduce_bounds64(r);
  deduce_mixed_bounds(r);
}

// The tnum from the bounds (__reg_bound_offset).
void tnum_from_bounds(ScalarValue& r) {
  const Tnum var64 = tnum_intersect(r.var_off, Tnum::range(r.umin, r.umax));
  const Tnum var32 = tnum_intersect(var64.subreg(), Tnum::range(r.u32_min, r.u32_max));
  r.var_off = tnum_or(var64.clear_subreg(), var32);
}

// Linux prints small numbers in decimal and the rest in hex (is_snum_decimal,
// is_unum_decimal).
bool is_snum_decimal(s64 n) { return n >= -512 && n <= 512; }
std::string snum(s64 n) {
  return is_snum_decimal(n) ? fmt::format("{}", n) : fmt::format("{:#x}", static_cast<u64>(n));
}
std::string unum(u64 n) { return n <= 512 ? fmt::format("{}", n) : fmt::format("{:#x}", n); }

}  // namespace

ScalarValue ScalarValue::constant(std::uint64_t v) {
  ScalarValue r;
  r.var_off = Tnum::constant(v);
  r.umin = r.umax = v;
  r.smin = r.smax = static_cast<s64>(v);
  r.u32_min = r.u32_max = static_cast<u32>(v);
  r.s32_min = r.s32_max = static_cast<s32>(v);
  return r;
}

ScalarValue ScalarValue::from_tnum(const Tnum& t) {
  ScalarValue r;
  r.var_off = t;
  r.sync();
  return r;
}

ScalarValue ScalarValue::unsigned_range(std::uint64_t min, std::uint64_t max) {
  ScalarValue r;
  r.umin = min;
  r.umax = max;
  r.sync();
  return r;
}

ScalarValue ScalarValue::signed_range(std::int64_t min, std::int64_t max) {
  ScalarValue r;
  r.smin = min;
  r.smax = max;
  r.sync();
  return r;
}

ScalarValue ScalarValue::unsigned_range32(std::uint32_t min, std::uint32_t max) {
  ScalarValue r;
  r.u32_min = min;
  r.u32_max = max;
  r.sync();
  return r;
}

ScalarValue ScalarValue::signed_range32(std::int32_t min, std::int32_t max) {
  ScalarValue r;
  r.s32_min = min;
  r.s32_max = max;
  r.sync();
  return r;
}

ScalarValue ScalarValue::loaded(int size, bool sign_extend) {
  if (size >= 8) return unknown();
  const int bits = size * 8;
  if (sign_extend) return signed_range(-(s64{1} << (bits - 1)), (s64{1} << (bits - 1)) - 1);
  return unsigned_range(0, (u64{1} << bits) - 1);
}

bool ScalarValue::contains(std::uint64_t x) const {
  const auto x32 = static_cast<u32>(x);
  return var_off.contains(x) && umin <= x && x <= umax && smin <= static_cast<s64>(x) &&
         static_cast<s64>(x) <= smax && u32_min <= x32 && x32 <= u32_max &&
         s32_min <= static_cast<s32>(x32) && static_cast<s32>(x32) <= s32_max;
}

bool ScalarValue::is_bottom() const {
  if (!var_off.is_valid()) return true;
  if (umin > umax || smin > smax || u32_min > u32_max || s32_min > s32_max) return true;
  // Every member of the tnum is outside the unsigned range.
  if (var_off.min() > umax || var_off.max() < umin) return true;
  const Tnum t32 = var_off.subreg();
  return t32.min() > u32_max || t32.max() < u32_min;
}

void ScalarValue::sync() {
  update_bounds_from_tnum(*this);
  deduce_bounds(*this);
  deduce_bounds(*this);
  tnum_from_bounds(*this);
  update_bounds_from_tnum(*this);
}

void ScalarValue::zero_extend_32() {
  // Upper half 0: the 64-bit value is the u32, in both orders, and its tnum the low tnum.
  var_off = var_off.subreg();
  umin = u32_min;
  umax = u32_max;
  smin = static_cast<s64>(u32_min);
  smax = static_cast<s64>(u32_max);
  // The s32 view stays as it is; sync relates it to the rest.
  sync();
}

bool ScalarValue::includes(const ScalarValue& o) const {
  return umin <= o.umin && o.umax <= umax && smin <= o.smin && o.smax <= smax &&
         u32_min <= o.u32_min && o.u32_max <= u32_max && s32_min <= o.s32_min &&
         o.s32_max <= s32_max && var_off.contains(o.var_off);
}

ScalarValue join(const ScalarValue& a, const ScalarValue& b) {
  ScalarValue r;
  r.var_off = tnum_join(a.var_off, b.var_off);
  r.umin = std::min(a.umin, b.umin);
  r.umax = std::max(a.umax, b.umax);
  r.smin = std::min(a.smin, b.smin);
  r.smax = std::max(a.smax, b.smax);
  r.u32_min = std::min(a.u32_min, b.u32_min);
  r.u32_max = std::max(a.u32_max, b.u32_max);
  r.s32_min = std::min(a.s32_min, b.s32_min);
  r.s32_max = std::max(a.s32_max, b.s32_max);
  r.sync();
  return r;
}

std::string to_string(const ScalarValue& v) {
  if (v.is_const()) return snum(static_cast<s64>(v.var_off.value));

  // print_scalar_ranges: a bound at its type's extreme is left out, and bounds of the same
  // parity in this list (signed with signed-or-unsigned minima, maxima with maxima) that hold
  // the same number are printed once, "smax=umax=255". The 32-bit signed bounds print
  // sign-extended only when they print in decimal.
  struct Bound {
    const char* name;
    u64 val;
    bool omit;
  };
  auto s32_val = [](s32 x) {
    return is_snum_decimal(x) ? static_cast<u64>(static_cast<s64>(x))
                              : static_cast<u64>(static_cast<u32>(x));
  };
  Bound bounds[] = {
      {"smin", static_cast<u64>(v.smin), v.smin == INT64_MIN},
      {"smax", static_cast<u64>(v.smax), v.smax == INT64_MAX},
      {"umin", v.umin, v.umin == 0},
      {"umax", v.umax, v.umax == UINT64_MAX},
      {"smin32", s32_val(v.s32_min), v.s32_min == INT32_MIN},
      {"smax32", s32_val(v.s32_max), v.s32_max == INT32_MAX},
      {"umin32", v.u32_min, v.u32_min == 0},
      {"umax32", v.u32_max, v.u32_max == UINT32_MAX},
  };
  constexpr std::size_t count = std::size(bounds);
  std::string out = "scalar(";
  const char* sep = "";
  for (std::size_t i = 0; i < count; ++i) {
    if (bounds[i].omit) continue;
    const bool neg1 = bounds[i].name[0] == 's' && static_cast<s64>(bounds[i].val) < 0;
    out += fmt::format("{}{}=", sep, bounds[i].name);
    sep = ",";
    for (std::size_t j = i + 2; j < count; j += 2) {
      if (bounds[j].omit) continue;
      const bool neg2 = bounds[j].name[0] == 's' && static_cast<s64>(bounds[j].val) < 0;
      if (neg1 == neg2 && bounds[i].val == bounds[j].val) {
        out += fmt::format("{}=", bounds[j].name);
        bounds[j].omit = true;
      }
    }
    out += bounds[i].name[0] == 's' ? snum(static_cast<s64>(bounds[i].val)) : unum(bounds[i].val);
  }
  if (!v.var_off.is_unknown()) out += fmt::format("{}var_off={}", sep, to_string(v.var_off));
  out += ")";
  return out;
}

}  // namespace bpfvm::verifier
