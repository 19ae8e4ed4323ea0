// libelf (elfutils) reads the container; the checks on what BPF objects must be are ours.
#include "loader/elf_file.hpp"

#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>

#include <memory>

namespace bpfvm::loader {
namespace {

Error elf_error(std::string what) {
  return make_error(Error::Kind::parse, fmt::format("{}: {}", what, elf_errmsg(-1)));
}

Error bad(std::string what) { return make_error(Error::Kind::parse, std::move(what)); }

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};

bool init_libelf() {
  static const bool ok = elf_version(EV_CURRENT) != EV_NONE;
  return ok;
}

std::string section_label(const ElfSection& section) {
  return fmt::format("section {} '{}'", section.index, section.name);
}

Status read_symbols(Elf* elf, const ElfSection& symtab, Elf_Scn* scn, ElfFile& file) {
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr) return elf_error(section_label(symtab));
  if (symtab.link >= file.sections.size() || file.sections[symtab.link].type != SHT_STRTAB)
    return bad(
        fmt::format("{}: sh_link {} is not a string table", section_label(symtab), symtab.link));
  std::size_t count = data->d_size / sizeof(Elf64_Sym);
  file.symbols.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    GElf_Sym raw;
    if (gelf_getsym(data, static_cast<int>(i), &raw) == nullptr)
      return elf_error(fmt::format("{}: symbol {}", section_label(symtab), i));
    ElfSymbol symbol;
    symbol.index = i;
    if (raw.st_name != 0) {
      const char* name = elf_strptr(elf, symtab.link, raw.st_name);
      if (name == nullptr)
        return bad(fmt::format("{}: symbol {} has a name outside the string table",
                               section_label(symtab), i));
      symbol.name = name;
    }
    symbol.type = GELF_ST_TYPE(raw.st_info);
    symbol.bind = GELF_ST_BIND(raw.st_info);
    symbol.shndx = raw.st_shndx;
    symbol.value = raw.st_value;
    symbol.size = raw.st_size;
    if (symbol.shndx != SHN_UNDEF && symbol.shndx < SHN_LORESERVE &&
        symbol.shndx >= file.sections.size())
      return bad(fmt::format("{}: symbol {} '{}' names section {}, which does not exist",
                             section_label(symtab), i, symbol.name, symbol.shndx));
    file.symbols.push_back(std::move(symbol));
  }
  return Ok{};
}

Status read_relocations(const ElfSection& section, Elf_Scn* scn, ElfFile& file) {
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr) return elf_error(section_label(section));
  if (section.info == 0 || section.info >= file.sections.size())
    return bad(fmt::format("{}: applies to section {}, which does not exist",
                           section_label(section), section.info));
  ElfRelocations relocations;
  relocations.section = section.info;
  relocations.name = section.name;
  bool rela = section.type == SHT_RELA;
  std::size_t count = data->d_size / (rela ? sizeof(Elf64_Rela) : sizeof(Elf64_Rel));
  relocations.entries.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    ElfRelocation entry;
    if (rela) {
      GElf_Rela raw;
      if (gelf_getrela(data, static_cast<int>(i), &raw) == nullptr)
        return elf_error(fmt::format("{}: relocation {}", section_label(section), i));
      entry = {raw.r_offset, static_cast<std::uint32_t>(GELF_R_TYPE(raw.r_info)),
               static_cast<std::uint32_t>(GELF_R_SYM(raw.r_info))};
    } else {
      GElf_Rel raw;
      if (gelf_getrel(data, static_cast<int>(i), &raw) == nullptr)
        return elf_error(fmt::format("{}: relocation {}", section_label(section), i));
      entry = {raw.r_offset, static_cast<std::uint32_t>(GELF_R_TYPE(raw.r_info)),
               static_cast<std::uint32_t>(GELF_R_SYM(raw.r_info))};
    }
    relocations.entries.push_back(entry);
  }
  file.relocations.push_back(std::move(relocations));
  return Ok{};
}

}  // namespace

bool ElfSection::executable() const { return type == SHT_PROGBITS && (flags & SHF_EXECINSTR) != 0; }

const ElfSection* ElfFile::find_section(std::string_view name) const {
  for (const ElfSection& section : sections)
    if (section.index != 0 && section.name == name) return &section;
  return nullptr;
}

Result<ElfFile> ElfFile::parse(std::span<const std::uint8_t> bytes) {
  if (!init_libelf()) return bad("libelf: elf_version failed");
  if (bytes.size() < EI_NIDENT || bytes[EI_MAG0] != ELFMAG0 || bytes[EI_MAG1] != ELFMAG1 ||
      bytes[EI_MAG2] != ELFMAG2 || bytes[EI_MAG3] != ELFMAG3)
    return bad("not an ELF file");
  if (bytes[EI_CLASS] != ELFCLASS64) return bad("not a 64-bit ELF file (BPF objects are ELF64)");
  if (bytes[EI_DATA] != ELFDATA2LSB)
    return bad("not a little-endian ELF file (big-endian BPF objects are not supported)");

  // libelf takes a mutable image; it reads it in place (ELF_C_READ), so keep our own copy.
  std::vector<char> image(bytes.begin(), bytes.end());
  std::unique_ptr<Elf, ElfCloser> elf(elf_memory(image.data(), image.size()));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return elf_error("ELF header");
  GElf_Ehdr header;
  if (gelf_getehdr(elf.get(), &header) == nullptr) return elf_error("ELF header");
  // LLVM before 3.9 wrote EM_NONE; libbpf accepts it too.
  if (header.e_machine != EM_BPF && header.e_machine != EM_NONE)
    return bad(fmt::format("ELF machine is {}, not EM_BPF ({})", header.e_machine, int{EM_BPF}));
  if (header.e_type != ET_REL)
    return bad(fmt::format("ELF type is {}, not a relocatable object (ET_REL)", header.e_type));

  std::size_t section_count = 0;
  std::size_t names_index = 0;
  if (elf_getshdrnum(elf.get(), &section_count) != 0) return elf_error("section headers");
  if (elf_getshdrstrndx(elf.get(), &names_index) != 0) return elf_error("section name table");

  // libelf reports no sections when their table lies past the end of the image.
  if (section_count == 0) return bad("no section headers (a truncated file?)");
  if (header.e_shoff > bytes.size() ||
      (bytes.size() - header.e_shoff) / sizeof(Elf64_Shdr) < section_count)
    return bad(
        fmt::format("the section header table at offset {:#x} ({} entries) lies past "
                    "the end of the file ({} bytes): truncated",
                    header.e_shoff, section_count, bytes.size()));

  ElfFile file;
  file.sections.resize(section_count);
  std::vector<Elf_Scn*> scns(section_count, nullptr);
  for (std::size_t i = 1; i < section_count; ++i) {
    Elf_Scn* scn = elf_getscn(elf.get(), i);
    GElf_Shdr shdr;
    if (scn == nullptr || gelf_getshdr(scn, &shdr) == nullptr)
      return elf_error(fmt::format("section {}", i));
    ElfSection& section = file.sections[i];
    section.index = i;
    const char* name = elf_strptr(elf.get(), names_index, shdr.sh_name);
    if (name == nullptr)
      return bad(fmt::format("section {}: name outside the section name table", i));
    section.name = name;
    section.type = shdr.sh_type;
    section.flags = shdr.sh_flags;
    section.size = shdr.sh_size;
    section.link = shdr.sh_link;
    section.info = shdr.sh_info;
    scns[i] = scn;
    if (section.type == SHT_NOBITS || section.type == SHT_NULL) continue;
    // elf_getdata checks that the section lies inside the image.
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr) return elf_error(section_label(section));
    if (data->d_size != section.size || (data->d_size != 0 && data->d_buf == nullptr))
      return bad(fmt::format("{}: truncated ({} of {} bytes)", section_label(section), data->d_size,
                             section.size));
    auto* begin = static_cast<const std::uint8_t*>(data->d_buf);
    section.data.assign(begin, begin + data->d_size);
  }

  // Symbols first: relocations name them.
  const ElfSection* symtab = nullptr;
  for (const ElfSection& section : file.sections) {
    if (section.type != SHT_SYMTAB) continue;
    if (symtab != nullptr) return bad("more than one symbol table");
    symtab = &section;
  }
  if (symtab != nullptr) {
    Status status = read_symbols(elf.get(), *symtab, scns[symtab->index], file);
    if (!status) return status.error();
  }
  for (const ElfSection& section : file.sections) {
    if (section.type != SHT_REL && section.type != SHT_RELA) continue;
    Status status = read_relocations(section, scns[section.index], file);
    if (!status) return status.error();
  }
  return file;
}

}  // namespace bpfvm::loader
