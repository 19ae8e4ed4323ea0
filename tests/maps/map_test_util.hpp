// Small helpers shared by the map tests: creating maps from a few fields, and typed keys and
// values as byte arrays.
#pragma once

#include <bpfvm/map.hpp>

#include "support/map_spec.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace bpfvm::test {

// Creates the map or fails the test (the caller ASSERT_TRUEs the pointer).
inline std::shared_ptr<Map> make_map(const MapSpec& spec) {
  auto map = Map::create(spec);
  EXPECT_TRUE(map.ok()) << (map.ok() ? "" : map.error().to_string());
  return map.ok() ? *map : nullptr;
}

inline std::shared_ptr<Map> make_map(MapType type, std::uint32_t key_size, std::uint32_t value_size,
                                     std::uint32_t max_entries, std::uint32_t flags = 0) {
  return make_map(map_spec(type, key_size, value_size, max_entries, flags));
}

inline std::uint64_t read_u64(const void* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint32_t read_u32(const void* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// bpf_lpm_trie_key_u8 with `Bytes` data bytes.
template <std::size_t Bytes>
struct LpmKey {
  std::uint32_t prefixlen;
  std::array<std::uint8_t, Bytes> data;
};
using Ipv4Key = LpmKey<4>;
using Ipv6Key = LpmKey<16>;

inline Ipv4Key ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                    std::uint32_t prefixlen) {
  return Ipv4Key{prefixlen, {a, b, c, d}};
}

}  // namespace bpfvm::test
