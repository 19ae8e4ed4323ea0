#include "verifier/tnum.hpp"

#include <bit>

#include <fmt/format.h>

namespace bpfvm::verifier {

namespace {

constexpr std::uint64_t low_bits(int bits) {
  return bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
}

constexpr std::uint64_t sign_extend_bits(std::uint64_t x, int bits) {
  if (bits >= 64) return x;
  x &= low_bits(bits);
  return (x >> (bits - 1)) & 1 ? x | ~low_bits(bits) : x;
}

std::uint64_t swap_low_bytes(std::uint64_t x, int bytes) {
  switch (bytes) {
    case 2: return __builtin_bswap16(static_cast<std::uint16_t>(x));
    case 4: return __builtin_bswap32(static_cast<std::uint32_t>(x));
    default: return __builtin_bswap64(x);
  }
}

}  // namespace

Tnum Tnum::range(std::uint64_t min, std::uint64_t max) {
  // Bits above the highest differing bit are the same in min, max and everything between.
  const std::uint64_t differing = min ^ max;
  const int bits = 64 - std::countl_zero(differing);
  if (bits > 63) return unknown();
  const std::uint64_t delta = low_bits(bits);
  return Tnum{min & ~delta, delta};
}

bool Tnum::contains(const Tnum& other) const {
  // Other's unknown bits must be unknown here, and its known bits agree where ours are known.
  if (other.mask & ~mask) return false;
  return (other.value & ~mask) == value;
}

bool Tnum::overlaps(const Tnum& other) const {
  const std::uint64_t both_known = ~(mask | other.mask);
  return ((value ^ other.value) & both_known) == 0;
}

Tnum Tnum::cast(int bytes) const {
  const std::uint64_t keep = low_bits(bytes * 8);
  return Tnum{value & keep, mask & keep};
}

Tnum Tnum::clear_subreg() const { return tnum_lshift(tnum_rshift(*this, 32), 32); }

Tnum Tnum::with_subreg(const Tnum& low) const { return tnum_or(clear_subreg(), low.subreg()); }

Tnum Tnum::sign_extend(int bits) const {
  // If the sign bit is known, value carries it to every higher bit and mask none; if it is
  // unknown, mask carries it (all higher bits unknown) and value has 0 there: still valid.
  return Tnum{sign_extend_bits(value, bits), sign_extend_bits(mask, bits)};
}

Tnum Tnum::byte_swap(int bytes) const {
  return Tnum{swap_low_bytes(value, bytes), swap_low_bytes(mask, bytes)};
}

Tnum tnum_add(const Tnum& a, const Tnum& b) {
  // sv is the sum with every unknown bit 0, sigma with every unknown bit 1 (no sum of members
  // is below sv or above sigma bitwise-carry-wise); bits where they differ (chi) are those a
  // carry can reach, and together with the operands' unknown bits they are unknown.
  const std::uint64_t sm = a.mask + b.mask;
  const std::uint64_t sv = a.value + b.value;
  const std::uint64_t sigma = sm + sv;
  const std::uint64_t chi = sigma ^ sv;
  const std::uint64_t mu = chi | a.mask | b.mask;
  return Tnum{sv & ~mu, mu};
}

Tnum tnum_sub(const Tnum& a, const Tnum& b) {
  // The same argument with borrows: alpha is the largest difference (a's unknowns 1, b's 0),
  // beta the smallest; bits where they differ, and the operands' unknowns, are unknown.
  const std::uint64_t dv = a.value - b.value;
  const std::uint64_t alpha = dv + a.mask;
  const std::uint64_t beta = dv - b.mask;
  const std::uint64_t chi = alpha ^ beta;
  const std::uint64_t mu = chi | a.mask | b.mask;
  return Tnum{dv & ~mu, mu};
}

Tnum tnum_neg(const Tnum& a) { return tnum_sub(Tnum::constant(0), a); }

namespace {

// Long multiplication with the known and unknown parts kept apart (Vishwanathan et al.,
// "Sound, precise, and fast abstract interpretation with tristate numbers", CGO 2022; Linux
// before 6.17): the product of the known parts is exact; each bit of a adds a shifted copy of
// b, whose unknown part is summed with tnum_add. A known-1 bit of a contributes b's unknown
// bits; an unknown bit of a contributes every bit of b that may be 1; a known-0 bit nothing.
Tnum mul_split(Tnum a, Tnum b) {
  const std::uint64_t known_product = a.value * b.value;
  Tnum unknown_part = Tnum::constant(0);
  while (a.value != 0 || a.mask != 0) {
    if (a.value & 1) {
      unknown_part = tnum_add(unknown_part, Tnum{0, b.mask});
    } else if (a.mask & 1) {
      unknown_part = tnum_add(unknown_part, Tnum{0, b.value | b.mask});
    }
    a = tnum_rshift(a, 1);
    b = tnum_lshift(b, 1);
  }
  return tnum_add(Tnum::constant(known_product), unknown_part);
}

// Long multiplication on whole tnums (Linux 6.17 and later): the accumulator holds every
// partial sum so far; a known-1 bit of a adds the shifted b, an unknown bit joins "added" and
// "not added", which covers both possibilities.
Tnum mul_joined(Tnum a, Tnum b) {
  Tnum acc = Tnum::constant(0);
  while (a.value != 0 || a.mask != 0) {
    if (a.value & 1) {
      acc = tnum_add(acc, b);
    } else if (a.mask & 1) {
      acc = tnum_join(acc, tnum_add(acc, b));
    }
    a = tnum_rshift(a, 1);
    b = tnum_lshift(b, 1);
  }
  return acc;
}

}  // namespace

Tnum tnum_mul(const Tnum& a, const Tnum& b) {
  // Both are sound, so every product is in both and in their intersection, which is at least
  // as precise as either (and so as precise as any kernel, old or new).
  return tnum_intersect(mul_split(a, b), mul_joined(a, b));
}

Tnum tnum_and(const Tnum& a, const Tnum& b) {
  // A result bit is known 1 when both are known 1, may be 1 when both may be 1.
  const std::uint64_t alpha = a.value | a.mask;
  const std::uint64_t beta = b.value | b.mask;
  const std::uint64_t v = a.value & b.value;
  return Tnum{v, alpha & beta & ~v};
}

Tnum tnum_or(const Tnum& a, const Tnum& b) {
  // Known 1 if either is known 1; otherwise unknown if either is unknown.
  const std::uint64_t v = a.value | b.value;
  const std::uint64_t mu = a.mask | b.mask;
  return Tnum{v, mu & ~v};
}

Tnum tnum_xor(const Tnum& a, const Tnum& b) {
  // Known exactly where both are known.
  const std::uint64_t v = a.value ^ b.value;
  const std::uint64_t mu = a.mask | b.mask;
  return Tnum{v & ~mu, mu};
}

Tnum tnum_lshift(const Tnum& a, unsigned shift) {
  // Shifting moves every bit with its status; the bits shifted in are known 0.
  if (shift >= 64) return Tnum::constant(0);
  return Tnum{a.value << shift, a.mask << shift};
}

Tnum tnum_rshift(const Tnum& a, unsigned shift) {
  if (shift >= 64) return Tnum::constant(0);
  return Tnum{a.value >> shift, a.mask >> shift};
}

Tnum tnum_arshift(const Tnum& a, unsigned shift, int bits) {
  // The copies of the sign bit shifted in have the sign bit's status: arithmetic shifts of
  // value and mask carry it (a known 1 in value, an unknown in mask, otherwise 0 in both).
  if (bits == 32) {
    shift &= 31;
    const auto v = static_cast<std::int32_t>(static_cast<std::uint32_t>(a.value)) >> shift;
    const auto m = static_cast<std::int32_t>(static_cast<std::uint32_t>(a.mask)) >> shift;
    return Tnum{static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(m)};
  }
  shift &= 63;
  const auto v = static_cast<std::int64_t>(a.value) >> shift;
  const auto m = static_cast<std::int64_t>(a.mask) >> shift;
  return Tnum{static_cast<std::uint64_t>(v), static_cast<std::uint64_t>(m)};
}

Tnum tnum_intersect(const Tnum& a, const Tnum& b) {
  // A bit known in either is known in every common member.
  const std::uint64_t v = a.value | b.value;
  const std::uint64_t mu = a.mask & b.mask;
  return Tnum{v & ~mu, mu};
}

Tnum tnum_join(const Tnum& a, const Tnum& b) {
  // Known only where both know it and agree.
  const std::uint64_t mu = a.mask | b.mask | (a.value ^ b.value);
  return Tnum{a.value & b.value & ~mu, mu};
}

std::string to_string(const Tnum& t) { return fmt::format("({:#x}; {:#x})", t.value, t.mask); }

}  // namespace bpfvm::verifier
