// The maps an object describes, and where each sits in the ELF file, so that relocations
// can find them by (section, offset).
#pragma once

#include <bpfvm/object.hpp>

#include "loader/elf_file.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

struct btf;

namespace bpfvm::loader {

struct MapLocation {
  std::size_t section = 0;
  std::uint64_t offset = 0;  // of the definition (maps, .maps) or 0 (global data)
  std::uint64_t size = 0;    // of the definition, or of the section (global data)
  // BTF maps: byte offset of the `values` member in the definition, if it has one.
  std::optional<std::uint64_t> values_offset;
};

// A `.kconfig` extern: where its value sits in the ".kconfig" map, or why it has none.
struct KconfigExtern {
  std::uint64_t offset = 0;
  std::string error;  // "" when resolved
};

struct MapTable {
  std::vector<ObjectMap> maps;
  std::vector<MapLocation> locations;  // parallel to maps
  // `.kconfig` externs by name, and the map that holds their values (kconfig.cpp).
  std::map<std::string, KconfigExtern> kconfig;
  std::optional<std::size_t> kconfig_map;

  void add(ObjectMap map, MapLocation location) {
    maps.push_back(std::move(map));
    locations.push_back(location);
  }
  // The map defined at exactly `offset` of `section` (maps, .maps).
  std::optional<std::size_t> definition_at(std::size_t section, std::uint64_t offset) const;
  // The global data map of `section`.
  std::optional<std::size_t> global_data_of(std::size_t section) const;
  bool has_definitions_in(std::size_t section) const;
};

// Global data maps larger than this are refused (Linux: KMALLOC_MAX_SIZE bounds an array
// map's value_size, 4 MiB with 4 KiB pages).
inline constexpr std::uint64_t max_global_data_size = 4u << 20;

Status add_legacy_maps(const ElfFile& file, MapTable& table);
// `btf` may be null: then a `.maps` section is an error.
Status add_btf_maps(const ElfFile& file, const struct btf* btf, MapTable& table);
Status add_global_data(const ElfFile& file, MapTable& table);

// "section 3 'xdp'" style labels for errors.
std::string section_label(const ElfSection& section);

}  // namespace bpfvm::loader
