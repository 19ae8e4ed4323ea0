// `.kconfig` externs (LINUX_KERNEL_VERSION, CONFIG_*): kconfig.cpp.
#pragma once

#include "loader/elf_file.hpp"
#include "loader/map_table.hpp"

struct btf;

namespace bpfvm::loader {

// Adds the ".kconfig" map when the object's BTF has a ".kconfig" DATASEC, with every extern's
// value resolved from the host (MapTable::kconfig says where each one is, or why it is not).
Status add_kconfig(const ElfFile& file, const struct btf* btf, MapTable& table);

}  // namespace bpfvm::loader
