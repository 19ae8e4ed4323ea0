// Turns each entry function into a program: its instructions, then every subprogram it
// reaches by calls or function addresses, appended as libbpf's bpf_object__reloc_code() does,
// with map, global data, call and function-address relocations applied.
#pragma once

#include <bpfvm/object.hpp>

#include "loader/elf_file.hpp"
#include "loader/functions.hpp"
#include "loader/map_table.hpp"

namespace bpfvm::loader {

Result<std::vector<ObjectProgram>> link_programs(const ElfFile& file, const Code& code,
                                                 const MapTable& maps);

// `.values = { ... }` of BTF maps: relocations in `.maps` set initial slots.
Status add_initial_slots(const ElfFile& file, MapTable& maps);

}  // namespace bpfvm::loader
