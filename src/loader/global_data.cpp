// Global variables: each of .data, .rodata, .bss and their named variants (.data.foo,
// .rodata.str1.1, .rodata.cst16, .bss.bar) becomes an array map of one element whose value is
// the section, as libbpf's bpf_object__init_global_data_maps() does. Programs reach it with
// lddw src 2 (BPF_PSEUDO_MAP_VALUE). Read-only data gets BPF_F_RDONLY_PROG so that programs
// cannot write it.
#include "loader/map_checks.hpp"
#include "loader/map_table.hpp"

#include <elf.h>
#include <fmt/format.h>

namespace bpfvm::loader {
namespace {

bool named(std::string_view name, std::string_view base) {
  return name == base || (name.starts_with(base) && name[base.size()] == '.');
}

}  // namespace

Status add_global_data(const ElfFile& file, MapTable& table) {
  for (const ElfSection& section : file.sections) {
    if (section.index == 0 || section.size == 0 || section.executable()) continue;
    bool rodata = named(section.name, ".rodata");
    bool bss = named(section.name, ".bss");
    if (!rodata && !bss && !named(section.name, ".data")) continue;
    if (section.type != SHT_PROGBITS && section.type != SHT_NOBITS) continue;
    if (section.size > max_global_data_size)
      return make_error(Error::Kind::parse,
                        fmt::format("{}: {} bytes of global data, more than the {} an array "
                                    "map value may have",
                                    section_label(section), section.size, max_global_data_size));
    ObjectMap map;
    map.name = section.name;
    map.section = section.name;
    map.origin = MapOrigin::global_data;
    map.spec.type = MapType::array;
    map.spec.key_size = sizeof(std::uint32_t);
    map.spec.value_size = static_cast<std::uint32_t>(section.size);
    map.spec.max_entries = 1;
    map.spec.flags = rodata ? map_flag::rdonly_prog : 0;
    map.spec.name = map.name;
    if (section.type == SHT_NOBITS)
      map.initial_value.assign(section.size, 0);
    else
      map.initial_value = section.data;
    table.add(std::move(map), {section.index, 0, section.size, std::nullopt});
  }
  return Ok{};
}

}  // namespace bpfvm::loader
