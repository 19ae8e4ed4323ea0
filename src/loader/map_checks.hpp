// Checks shared by the map parsers.
#pragma once

#include <bpfvm/map.hpp>
#include <bpfvm/result.hpp>

#include <cstdint>
#include <cstring>
#include <span>

namespace bpfvm::loader {

// The map types bpfvm knows (uapi enum bpf_map_type up to BPF_MAP_TYPE_BLOOM_FILTER).
inline bool known_map_type(std::uint32_t type) {
  return type > static_cast<std::uint32_t>(MapType::unspec) &&
         type <= static_cast<std::uint32_t>(MapType::bloom_filter);
}

inline bool is_map_of_maps(MapType type) {
  return type == MapType::array_of_maps || type == MapType::hash_of_maps;
}

inline std::uint32_t read_u32(std::span<const std::uint8_t> bytes, std::size_t offset) {
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data() + offset, sizeof value);  // ELFDATA2LSB, checked at open
  return value;
}

inline std::uint32_t read_u32_le(std::span<const std::uint8_t> bytes) { return read_u32(bytes, 0); }

}  // namespace bpfvm::loader
