// A scalar register's abstract value, as the Linux verifier keeps it in struct bpf_reg_state:
// a tnum (var_off) plus unsigned and signed bounds of the full 64 bits and of the low 32 bits.
// It stands for the 64-bit values x that satisfy every one of the nine constraints at once:
//
//   var_off.contains(x), umin <= x <= umax, smin <= (s64)x <= smax,
//   u32_min <= (u32)x <= u32_max, s32_min <= (s32)x <= s32_max.
//
// Each operation keeps that set a superset of the concrete values (soundness) and tightens
// every constraint from the others as Linux does (reg_bounds_sync), so the precision is
// Linux's. A set of constraints may be contradictory: then the value stands for nothing
// (is_bottom), which branch refinement uses to report an edge that cannot be taken.
#pragma once

#include "verifier/tnum.hpp"

#include <cstdint>
#include <limits>
#include <string>

namespace bpfvm::verifier {

struct ScalarValue {
  Tnum var_off = Tnum::unknown();
  std::uint64_t umin = 0;
  std::uint64_t umax = std::numeric_limits<std::uint64_t>::max();
  std::int64_t smin = std::numeric_limits<std::int64_t>::min();
  std::int64_t smax = std::numeric_limits<std::int64_t>::max();
  std::uint32_t u32_min = 0;
  std::uint32_t u32_max = std::numeric_limits<std::uint32_t>::max();
  std::int32_t s32_min = std::numeric_limits<std::int32_t>::min();
  std::int32_t s32_max = std::numeric_limits<std::int32_t>::max();

  // Every value (Linux: __mark_reg_unknown).
  static ScalarValue unknown() { return ScalarValue{}; }
  // Exactly `v` (__mark_reg_known).
  static ScalarValue constant(std::uint64_t v);
  // The values a tnum allows, with the bounds it implies.
  static ScalarValue from_tnum(const Tnum& t);
  // [min, max] unsigned / signed, with the tnum and other bounds they imply.
  static ScalarValue unsigned_range(std::uint64_t min, std::uint64_t max);
  static ScalarValue signed_range(std::int64_t min, std::int64_t max);
  // Any value whose low 32 bits are in [min, max] (upper bits unknown).
  static ScalarValue unsigned_range32(std::uint32_t min, std::uint32_t max);
  static ScalarValue signed_range32(std::int32_t min, std::int32_t max);
  // What a load of `size` bytes (1, 2, 4, 8) leaves in its destination: zero-extended for
  // ldx (BPF_MEM), sign-extended for ldsx (BPF_MEMSX).
  static ScalarValue loaded(int size, bool sign_extend);

  bool is_const() const { return var_off.is_const(); }
  bool is_const32() const { return var_off.subreg().is_const(); }
  std::uint64_t const_value() const { return var_off.value; }
  std::uint32_t const_value32() const { return static_cast<std::uint32_t>(var_off.value); }
  bool is_unknown() const { return *this == unknown(); }

  // x satisfies all nine constraints.
  bool contains(std::uint64_t x) const;
  // The constraints contradict each other as far as the bounds show: no value satisfies them.
  // (The check is Linux's reg_bounds_sanity_check plus tnum/bounds disagreement; a value
  // that passes may still be empty in rare cases, never the other way round.)
  bool is_bottom() const;

  // Tighten every constraint from the others (Linux: reg_bounds_sync): bounds from the tnum
  // (__update_reg_bounds), signed from unsigned and 32 from 64 bits and back
  // (__reg_deduce_bounds), the tnum from the bounds (__reg_bound_offset), and bounds again.
  void sync();
  // The low 32 bits zero-extended into 64 (zext_32_to_64): what every ALU32 op leaves.
  void zero_extend_32();

  // Everything in `other` is in this (Linux's regsafe for scalars: range_within and tnum_in).
  // Used for pruning: a state proven safe covers every state it includes.
  bool includes(const ScalarValue& other) const;

  friend bool operator==(const ScalarValue&, const ScalarValue&) = default;
};

// The least upper bound the domain can express field by field, for merging states: every
// bound widened to cover both, the tnums joined; then synced.
ScalarValue join(const ScalarValue& a, const ScalarValue& b);

// The kernel's verbose-log form (print_reg_state / print_scalar_ranges in Linux 6.x):
// a constant prints as a number ("42", "-1", "0x1000"), anything else as
// "scalar(smin=...,umax=...,var_off=(0x0; 0xff))" with the default bounds left out and equal
// bounds merged ("smax=umax=255").
std::string to_string(const ScalarValue& v);

}  // namespace bpfvm::verifier
