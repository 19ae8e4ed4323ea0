// Internet checksum arithmetic as Linux's include/net/checksum.h and the x86-64
// csum_partial: 32-bit partial sums (__wsum) folded to 16 bits (__sum16). Values are kept in
// the byte order they have in memory, as the kernel does, so the same code is right on any
// little-endian host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bpfvm::progtypes {

inline std::uint32_t csum_add(std::uint32_t a, std::uint32_t b) {
  const std::uint32_t sum = a + b;
  return sum + (sum < b ? 1u : 0u);
}
inline std::uint32_t csum_sub(std::uint32_t a, std::uint32_t b) { return csum_add(a, ~b); }

// csum_fold: the complemented 16-bit fold of a partial sum.
inline std::uint16_t csum_fold(std::uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// csum_from32to16: the 16-bit fold without the complement.
inline std::uint16_t csum_from32to16(std::uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

inline std::uint16_t csum16_add(std::uint16_t sum, std::uint16_t addend) {
  auto result = static_cast<std::uint16_t>(sum + addend);
  return static_cast<std::uint16_t>(result + (result < addend ? 1 : 0));
}
inline std::uint16_t csum16_sub(std::uint16_t sum, std::uint16_t addend) {
  return csum16_add(sum, static_cast<std::uint16_t>(~addend));
}

// csum_partial: the ones' complement sum of `length` bytes read as little-endian words,
// plus `seed`, folded to 32 bits (arch/x86/lib/csum-partial_64.c).
inline std::uint32_t csum_partial(const std::uint8_t* data, std::size_t length,
                                  std::uint32_t seed) {
  std::uint64_t sum = seed;
  std::size_t i = 0;
  for (; i + 4 <= length; i += 4) {
    std::uint32_t word;
    std::memcpy(&word, data + i, 4);
    sum += word;
  }
  if (i + 2 <= length) {
    sum += static_cast<std::uint32_t>(data[i] | (data[i + 1] << 8));
    i += 2;
  }
  if (i < length) sum += data[i];
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  return static_cast<std::uint32_t>(sum);
}

// csum_replace4 / csum_replace2 / csum_replace_by_diff on a checksum field in memory.
inline void csum_replace4(std::uint16_t& field, std::uint32_t from, std::uint32_t to) {
  const std::uint32_t tmp = csum_sub(~static_cast<std::uint32_t>(field), from);
  field = csum_fold(csum_add(tmp, to));
}
inline void csum_replace2(std::uint16_t& field, std::uint16_t from, std::uint16_t to) {
  field = static_cast<std::uint16_t>(
      ~csum16_add(csum16_sub(static_cast<std::uint16_t>(~field), from), to));
}
inline void csum_replace_by_diff(std::uint16_t& field, std::uint32_t diff) {
  field = csum_fold(csum_add(diff, ~static_cast<std::uint32_t>(field)));
}

}  // namespace bpfvm::progtypes
