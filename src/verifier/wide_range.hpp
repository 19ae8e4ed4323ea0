// Integer ranges computed without overflow (in 128 bits) and brought back to a machine width
// by wrapping, for the interval halves of the transfer functions.
#pragma once

#include <cstdint>
#include <optional>

namespace bpfvm::verifier {

// __int128 is a GCC/Clang extension; __extension__ keeps -Wpedantic quiet should it be on.
__extension__ typedef __int128 Int128;

struct URange {
  std::uint64_t min;
  std::uint64_t max;
};
struct SRange {
  std::int64_t min;
  std::int64_t max;
};

// The true results of an operation lie in [lo, hi]; their values modulo 2^bits, read
// unsigned, form the range returned, or nothing when they wrap to two separate pieces (the
// range spans a multiple of 2^bits). Inside one block of 2^bits consecutive integers, taking
// the remainder is monotone, so the ends map to the ends.
inline std::optional<URange> wrap_unsigned(Int128 lo, Int128 hi, int bits) {
  if ((lo >> bits) != (hi >> bits)) return std::nullopt;
  const Int128 block = Int128{1} << bits;
  const auto rem = [&](Int128 x) {
    return static_cast<std::uint64_t>(((x % block) + block) % block);
  };
  return URange{rem(lo), rem(hi)};
}

// The same, reading the remainders as signed `bits`-wide numbers.
inline std::optional<SRange> wrap_signed(Int128 lo, Int128 hi, int bits) {
  const Int128 half = Int128{1} << (bits - 1);
  const auto r = wrap_unsigned(lo + half, hi + half, bits);
  if (!r) return std::nullopt;
  return SRange{static_cast<std::int64_t>(static_cast<Int128>(r->min) - half),
                static_cast<std::int64_t>(static_cast<Int128>(r->max) - half)};
}

}  // namespace bpfvm::verifier
