// The parts of an ELF relocatable object the loader reads, copied out of libelf into plain
// values so that nothing later holds libelf state. Every size and offset is checked here.
#pragma once

#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bpfvm::loader {

struct ElfSection {
  std::size_t index = 0;
  std::string name;
  std::uint32_t type = 0;   // SHT_*
  std::uint64_t flags = 0;  // SHF_*
  std::uint64_t size = 0;
  std::uint32_t link = 0;
  std::uint32_t info = 0;
  // The contents; empty for SHT_NOBITS (.bss), whose `size` bytes are zeros.
  std::vector<std::uint8_t> data;

  bool executable() const;
};

struct ElfSymbol {
  std::size_t index = 0;
  std::string name;
  std::uint8_t type = 0;    // STT_*
  std::uint8_t bind = 0;    // STB_*
  std::uint16_t shndx = 0;  // SHN_UNDEF, SHN_ABS, ... or a section index
  std::uint64_t value = 0;
  std::uint64_t size = 0;
};

struct ElfRelocation {
  std::uint64_t offset = 0;  // in the target section, bytes
  std::uint32_t type = 0;    // R_BPF_*
  std::uint32_t symbol = 0;  // index into ElfFile::symbols
};

// Relocations of one section (SHT_REL or SHT_RELA; BPF objects use REL).
struct ElfRelocations {
  std::size_t section = 0;  // the section they apply to (sh_info)
  std::string name;         // ".relxdp"
  std::vector<ElfRelocation> entries;
};

struct ElfFile {
  std::vector<ElfSection> sections;  // indexed by section number; [0] is SHN_UNDEF
  std::vector<ElfSymbol> symbols;    // indexed by symbol number; [0] is the null symbol
  std::vector<ElfRelocations> relocations;

  // A 64-bit little-endian relocatable object for EM_BPF.
  static Result<ElfFile> parse(std::span<const std::uint8_t> bytes);

  const ElfSection* find_section(std::string_view name) const;
};

// R_BPF_* (Linux: include/uapi/linux/... and LLVM's BPF ELF relocations).
namespace r_bpf {
inline constexpr std::uint32_t none = 0, insn_64 = 1, abs64 = 2, abs32 = 3, nodyld32 = 4,
                               insn_32 = 10;
}

}  // namespace bpfvm::loader
