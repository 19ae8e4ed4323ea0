// A MapSpec from the five fields tests set, for the map tests and for the helpers' test-double
// maps alike.
#pragma once

#include <bpfvm/map.hpp>

#include <cstdint>

namespace bpfvm::test {

inline MapSpec map_spec(MapType type, std::uint32_t key_size, std::uint32_t value_size,
                        std::uint32_t max_entries, std::uint32_t flags = 0) {
  MapSpec spec;
  spec.type = type;
  spec.key_size = key_size;
  spec.value_size = value_size;
  spec.max_entries = max_entries;
  spec.flags = flags;
  return spec;
}

}  // namespace bpfvm::test
