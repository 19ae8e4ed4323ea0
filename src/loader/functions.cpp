#include "loader/functions.hpp"

#include "loader/map_table.hpp"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace bpfvm::loader {
namespace {

Error code_error(const ElfSection& section, std::string what) {
  return make_error(Error::Kind::parse, fmt::format("{}: {}", section_label(section), what));
}

bool is_global(const ElfSymbol& symbol) {
  return symbol.bind == STB_GLOBAL || symbol.bind == STB_WEAK;
}

// Function symbols (STT_FUNC); objects from old clang mark programs as global STT_NOTYPE
// symbols instead; with neither, the whole section is one program named after it.
std::vector<const ElfSymbol*> function_symbols(const ElfFile& file, const ElfSection& section) {
  std::vector<const ElfSymbol*> functions;
  for (const ElfSymbol& symbol : file.symbols)
    if (symbol.shndx == section.index && symbol.type == STT_FUNC && !symbol.name.empty())
      functions.push_back(&symbol);
  if (functions.empty())
    for (const ElfSymbol& symbol : file.symbols)
      if (symbol.shndx == section.index && symbol.type == STT_NOTYPE && is_global(symbol) &&
          !symbol.name.empty())
        functions.push_back(&symbol);
  std::stable_sort(functions.begin(), functions.end(),
                   [](const ElfSymbol* a, const ElfSymbol* b) { return a->value < b->value; });
  return functions;
}

Result<CodeSection> split_section(const ElfFile& file, const ElfSection& section) {
  if (section.size % sizeof(Insn) != 0)
    return code_error(section, fmt::format("size {} is not a multiple of 8", section.size));
  CodeSection code;
  code.index = section.index;
  code.insns.resize(section.size / sizeof(Insn));
  if (section.size != 0) std::memcpy(code.insns.data(), section.data.data(), section.size);
  std::size_t slots = code.insns.size();

  std::vector<const ElfSymbol*> symbols = function_symbols(file, section);
  if (symbols.empty()) {
    code.functions.push_back({section.index, section.name, 0, slots, true});
    return code;
  }
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    const ElfSymbol& symbol = *symbols[i];
    if (symbol.value % sizeof(Insn) != 0 || symbol.size % sizeof(Insn) != 0)
      return code_error(section, fmt::format("function '{}' at offset {:#x} (size {}) is not "
                                             "aligned to instructions",
                                             symbol.name, symbol.value, symbol.size));
    if (symbol.value >= section.size || symbol.size > section.size - symbol.value)
      return code_error(section, fmt::format("function '{}' at offset {:#x} (size {}) crosses "
                                             "the end of the section",
                                             symbol.name, symbol.value, symbol.size));
    std::size_t begin = symbol.value / sizeof(Insn);
    if (!code.functions.empty() && code.functions.back().begin == begin)
      continue;  // an alias of the previous symbol
    std::size_t next = i + 1 < symbols.size() ? symbols[i + 1]->value / sizeof(Insn) : slots;
    std::size_t end = symbol.size != 0 ? begin + symbol.size / sizeof(Insn) : next;
    if (end > next && next > begin)
      return code_error(section, fmt::format("function '{}' at offset {:#x} overlaps '{}'",
                                             symbol.name, symbol.value, symbols[i + 1]->name));
    if (end == begin) continue;
    // Outside .text a function is there because SEC() put it there: a program, static or
    // not (libbpf refuses static ones, cilium/ebpf and iproute2 load them).
    bool entry = section.name != ".text" || is_global(symbol);
    code.functions.push_back({section.index, symbol.name, begin, end, entry});
  }
  return code;
}

}  // namespace

const CodeSection* Code::section(std::size_t index) const {
  for (const CodeSection& code : sections)
    if (code.index == index) return &code;
  return nullptr;
}

const Function* Code::function_at(std::size_t section_index, std::size_t insn) const {
  const CodeSection* code = section(section_index);
  if (code == nullptr) return nullptr;
  auto it = std::upper_bound(code->functions.begin(), code->functions.end(), insn,
                             [](std::size_t slot, const Function& f) { return slot < f.begin; });
  if (it == code->functions.begin()) return nullptr;
  --it;
  return insn < it->end ? &*it : nullptr;
}

Result<Code> collect_code(const ElfFile& file) {
  Code code;
  bool entries_outside_text = false;
  for (const ElfSection& section : file.sections) {
    if (section.index == 0 || !section.executable() || section.size == 0) continue;
    auto split = split_section(file, section);
    if (!split) return split.error();
    if (section.name != ".text")
      for (const Function& function : split->functions) entries_outside_text |= function.entry;
    code.sections.push_back(std::move(*split));
  }
  for (CodeSection& section : code.sections) {
    if (file.sections[section.index].name != ".text") continue;
    for (Function& function : section.functions)
      function.entry = function.entry && !entries_outside_text;
  }
  return code;
}

}  // namespace bpfvm::loader
