// The `maps` section of objects written before BTF: an array of struct bpf_map_def
// (libbpf_legacy.h: type, key_size, value_size, max_entries, map_flags), one symbol per map.
// Loaders extended the struct: samples/bpf's bpf_load.c adds inner_map_idx and numa_node,
// iproute2's struct bpf_elf_map adds id, pinning, inner_id and inner_idx. The stride is the
// section size divided by the number of map symbols, as libbpf computes it; the five
// standard fields are read, and for array_of_maps/hash_of_maps the sixth names the inner map
// by index (bpf_load.c's inner_map_idx).
#include "loader/map_checks.hpp"
#include "loader/map_table.hpp"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>

namespace bpfvm::loader {
namespace {

constexpr std::size_t min_def_size = 4 * sizeof(std::uint32_t);  // type .. max_entries

bool is_legacy_maps_section(const ElfSection& section) {
  return section.name == "maps" || section.name.starts_with("maps/");
}

// Appends the maps of one section; (map index, inner_map_idx) pairs go to `inner_indices`.
Status add_section_maps(const ElfFile& file, const ElfSection& section, MapTable& table,
                        std::vector<std::pair<std::size_t, std::uint32_t>>& inner_indices) {
  std::vector<const ElfSymbol*> symbols;
  for (const ElfSymbol& symbol : file.symbols)
    if (symbol.shndx == section.index && symbol.type != STT_SECTION && !symbol.name.empty())
      symbols.push_back(&symbol);
  if (symbols.empty()) return Ok{};
  if (section.type != SHT_PROGBITS || section.data.size() != section.size)
    return make_error(Error::Kind::parse,
                      fmt::format("{}: map definitions must be in a PROGBITS section with "
                                  "contents (type {})",
                                  section_label(section), section.type));
  std::sort(symbols.begin(), symbols.end(),
            [](const ElfSymbol* a, const ElfSymbol* b) { return a->value < b->value; });
  if (section.size % symbols.size() != 0)
    return make_error(Error::Kind::parse,
                      fmt::format("{}: {} bytes do not divide into {} map definitions",
                                  section_label(section), section.size, symbols.size()));
  std::uint64_t stride = section.size / symbols.size();
  if (stride < min_def_size)
    return make_error(Error::Kind::parse,
                      fmt::format("{}: map definitions of {} bytes are too small for "
                                  "struct bpf_map_def",
                                  section_label(section), stride));

  for (const ElfSymbol* symbol : symbols) {
    if (symbol->value % 4 != 0 || symbol->value > section.size - stride)
      return make_error(Error::Kind::parse,
                        fmt::format("{}: map '{}' at offset {:#x} is misaligned or past the end",
                                    section_label(section), symbol->name, symbol->value));
    std::span<const std::uint8_t> def(section.data.data() + symbol->value, stride);
    std::uint32_t type = read_u32(def, 0);
    if (!known_map_type(type))
      return make_error(Error::Kind::parse,
                        fmt::format("{}: map '{}' at offset {:#x}: unknown map type {}",
                                    section_label(section), symbol->name, symbol->value, type));
    ObjectMap map;
    map.name = symbol->name;
    map.section = section.name;
    map.origin = MapOrigin::legacy;
    map.spec.type = static_cast<MapType>(type);
    map.spec.key_size = read_u32(def, 4);
    map.spec.value_size = read_u32(def, 8);
    map.spec.max_entries = read_u32(def, 12);
    if (stride >= 20) map.spec.flags = read_u32(def, 16);
    map.spec.name = map.name;
    if (is_map_of_maps(map.spec.type)) {
      // The value is an inner map's id: 4 bytes, whatever the definition says (bpf_load.c
      // let it be 0).
      map.spec.value_size = sizeof(std::uint32_t);
      if (stride >= 24) inner_indices.emplace_back(table.maps.size(), read_u32(def, 20));
    }
    table.add(std::move(map), {section.index, symbol->value, stride, std::nullopt});
  }
  return Ok{};
}

}  // namespace

Status add_legacy_maps(const ElfFile& file, MapTable& table) {
  std::size_t first = table.maps.size();
  std::vector<std::pair<std::size_t, std::uint32_t>> inner_indices;
  for (const ElfSection& section : file.sections) {
    if (section.index == 0 || !is_legacy_maps_section(section)) continue;
    Status status = add_section_maps(file, section, table, inner_indices);
    if (!status) return status;
  }
  // inner_map_idx counts the legacy maps of the whole object, in section order.
  for (auto [index, inner] : inner_indices) {
    ObjectMap& map = table.maps[index];
    std::size_t inner_index = first + inner;
    if (inner_index >= table.maps.size() || inner_index == index ||
        is_map_of_maps(table.maps[inner_index].spec.type))
      return make_error(Error::Kind::parse,
                        fmt::format("section '{}': map '{}' names inner map {}, which is not a "
                                    "map of the object that can be an inner map",
                                    map.section, map.name, inner));
    map.spec.inner = std::make_shared<MapSpec>(table.maps[inner_index].spec);
  }
  return Ok{};
}

}  // namespace bpfvm::loader
