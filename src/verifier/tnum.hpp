// Tristate numbers: the bit-level half of the Linux verifier's scalar domain
// (kernel/bpf/tnum.c). A Tnum stands for every 64-bit value that agrees with `value` on the
// bits where `mask` is 0; bits set in `mask` are unknown. Invariant: value & mask == 0.
//
// Every operation below is sound: for all x in a and y in b, op(x, y) is in op(a, b). The
// comment on each says why. The ones Linux has, behave as Linux's; the names follow
// tnum.c (tnum_add is add(), tnum_in is contains(), tnum_union is join()).
#pragma once

#include <cstdint>
#include <string>

namespace bpfvm::verifier {

struct Tnum {
  std::uint64_t value = 0;
  std::uint64_t mask = ~std::uint64_t{0};

  // Every 64-bit value (Linux: tnum_unknown).
  static constexpr Tnum unknown() { return Tnum{0, ~std::uint64_t{0}}; }
  // Exactly one value (tnum_const).
  static constexpr Tnum constant(std::uint64_t v) { return Tnum{v, 0}; }
  // The smallest tnum holding every value in [min, max] (tnum_range): the bits above the
  // highest bit where min and max differ are shared by the whole range; the rest is unknown.
  static Tnum range(std::uint64_t min, std::uint64_t max);

  bool is_const() const { return mask == 0; }
  bool is_unknown() const { return mask == ~std::uint64_t{0}; }
  // A well-formed tnum: no bit both known-one and unknown.
  bool is_valid() const { return (value & mask) == 0; }
  // The smallest and largest member, unsigned.
  std::uint64_t min() const { return value; }
  std::uint64_t max() const { return value | mask; }
  // x is a member.
  bool contains(std::uint64_t x) const { return (x & ~mask) == value; }
  // Every member of `other` is a member of this (tnum_in).
  bool contains(const Tnum& other) const;
  // The two tnums have a member in common (no bit known to differ).
  bool overlaps(const Tnum& other) const;
  // Every member is a multiple of `size`, a power of two (tnum_is_aligned).
  bool is_aligned(std::uint64_t size) const { return ((value | mask) & (size - 1)) == 0; }

  // The low 32 bits, zero-extended (tnum_subreg / tnum_cast(a, 4)).
  Tnum subreg() const { return cast(4); }
  // The low `bytes` bytes, zero-extended (tnum_cast): truncation keeps each bit's status.
  Tnum cast(int bytes) const;
  // The low 32 bits cleared (tnum_clear_subreg).
  Tnum clear_subreg() const;
  // Upper 32 bits of this, lower 32 bits of `low` (tnum_with_subreg).
  Tnum with_subreg(const Tnum& low) const;
  // The low `bits` bits sign-extended to 64 (for movsx and ldsx): sign-extending value and
  // mask separately is exact, because an unknown sign bit makes every copy of it unknown.
  Tnum sign_extend(int bits) const;
  // The bytes of the low `bytes` bytes reversed, zero-extended (bswap16/32/64): a permutation
  // of bits moves each bit's status with it, so this is exact.
  Tnum byte_swap(int bytes) const;

  friend bool operator==(const Tnum&, const Tnum&) = default;
};

Tnum tnum_add(const Tnum& a, const Tnum& b);
Tnum tnum_sub(const Tnum& a, const Tnum& b);
Tnum tnum_neg(const Tnum& a);
Tnum tnum_mul(const Tnum& a, const Tnum& b);
Tnum tnum_and(const Tnum& a, const Tnum& b);
Tnum tnum_or(const Tnum& a, const Tnum& b);
Tnum tnum_xor(const Tnum& a, const Tnum& b);
Tnum tnum_lshift(const Tnum& a, unsigned shift);
Tnum tnum_rshift(const Tnum& a, unsigned shift);
// Arithmetic right shift of a `bits`-wide value (32 or 64), zero-extended when 32.
Tnum tnum_arshift(const Tnum& a, unsigned shift, int bits);
// Values in both (tnum_intersect). When a and b disagree on a known bit the intersection is
// empty and the result is meaningless; check overlaps() first where that matters.
Tnum tnum_intersect(const Tnum& a, const Tnum& b);
// The smallest tnum holding both (tnum_union): the join for merging states.
Tnum tnum_join(const Tnum& a, const Tnum& b);

// "(0x0; 0xff)", as the kernel's tnum_strn prints var_off.
std::string to_string(const Tnum& t);

}  // namespace bpfvm::verifier
