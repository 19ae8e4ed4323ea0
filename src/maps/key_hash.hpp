// The hash of hash-map keys, specialised by key size. Linux hashes every key with jhash
// (kernel/bpf/hashtab.c htab_map_hash) under a random per-map seed; what matters is the same
// property, a well-mixed hash no fixed set of keys defeats, at the least cost on the lookup
// path.
//
// Keys of 4, 8 and 16 bytes (addresses, port pairs, IPv6 addresses: nearly every hash map)
// take wyhash's construction for inputs of up to 16 bytes: a 64x64->128 multiply of the two
// key words, each mixed with a secret of the map, folded to 64 bits (high ^ low, "mum"), then
// a second one of that with two more secrets. Two dependent multiplies, about 9 cycles,
// against the four of two chained multiply-xorshift rounds for a 16-byte key before. One
// round alone is not enough: strided keys (i << 32, i << 12) then fill a third of the buckets
// or crowd into a sixth of them (tests/maps/pinned_lookup_test.cpp measures the spread).
// Other sizes take hash_bytes (map_common.hpp).
//
// For 16-byte keys the product is zero whenever the first word equals its secret, so all
// keys with that first word share a bucket; the secret is random per map (as the jhash seed),
// so no key is that word in every map, and with BPF_F_ZERO_SEED it is a fixed 64-bit
// constant no natural key pattern hits.
#pragma once

#include "maps/map_common.hpp"

#include <cstdint>
#include <cstring>

namespace bpfvm::maps {

class KeyHash {
 public:
  explicit KeyHash(std::uint64_t seed)
      : seed_(seed),
        first_(mix64(seed ^ 0x243f6a8885a308d3ull)),
        second_(mix64(seed ^ 0x13198a2e03707344ull)),
        third_(mix64(seed ^ 0xa4093822299f31d0ull)),
        fourth_(mix64(seed ^ 0x082efa98ec4e6c89ull)) {}

  // Specialised for a key size known at compile time (4, 8 or 16); 0 takes `size`.
  template <std::size_t Size>
  std::uint64_t operator()(const void* key, std::size_t size = Size) const {
    if constexpr (Size == 4) {
      std::uint32_t v;
      std::memcpy(&v, key, 4);
      return finish(fold(first_ ^ v, second_), 4);
    } else if constexpr (Size == 8) {
      std::uint64_t v;
      std::memcpy(&v, key, 8);
      return finish(fold(first_ ^ v, second_), 8);
    } else if constexpr (Size == 16) {
      std::uint64_t v[2];
      std::memcpy(v, key, 16);
      return finish(fold(first_ ^ v[0], second_ ^ v[1]), 16);
    } else {
      switch (size) {
        case 4: return operator()<4>(key);
        case 8: return operator()<8>(key);
        case 16: return operator()<16>(key);
        default: return hash_bytes(key, size, seed_);
      }
    }
  }

 private:
  std::uint64_t finish(std::uint64_t h, std::uint64_t size) const {
    return fold(h ^ third_, fourth_ ^ size);
  }
  static std::uint64_t fold(std::uint64_t a, std::uint64_t b) {
    __extension__ using U128 = unsigned __int128;
    const U128 product = static_cast<U128>(a) * b;
    return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
  }

  std::uint64_t seed_;
  std::uint64_t first_;
  std::uint64_t second_;
  std::uint64_t third_;
  std::uint64_t fourth_;
};

// Key equality for the sizes KeyHash specialises: word compares instead of a memcmp call.
template <std::size_t Size>
inline bool same_key_bytes(const void* a, const void* b, std::size_t size = Size) {
  if constexpr (Size == 4 || Size == 8) {
    std::uint64_t x = 0, y = 0;
    std::memcpy(&x, a, Size);
    std::memcpy(&y, b, Size);
    return x == y;
  } else if constexpr (Size == 16) {
    std::uint64_t x[2], y[2];
    std::memcpy(x, a, 16);
    std::memcpy(y, b, 16);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
  } else {
    switch (size) {
      case 4: return same_key_bytes<4>(a, b);
      case 8: return same_key_bytes<8>(a, b);
      case 16: return same_key_bytes<16>(a, b);
      default: return std::memcmp(a, b, size) == 0;
    }
  }
}

}  // namespace bpfvm::maps
