#include "loader/linker.hpp"

#include <bpfvm/builtin_helpers.hpp>
#include <bpfvm/program_type.hpp>

#include <elf.h>
#include <fmt/format.h>

#include <map>
#include <unordered_map>

namespace bpfvm::loader {
namespace {

constexpr std::uint8_t lddw_opcode = 0x18;  // BPF_LD | BPF_IMM | BPF_DW
constexpr std::uint8_t call_opcode = 0x85;  // BPF_JMP | BPF_CALL
constexpr std::uint8_t pseudo_call = 1;     // BPF_PSEUDO_CALL

struct Reloc {
  std::size_t number;  // in its relocation section, for errors
  const ElfRelocations* table;
  const ElfRelocation* entry;
};

// Relocations of the code sections by (section, slot), checked once for all programs.
using RelocIndex = std::map<std::pair<std::size_t, std::size_t>, Reloc>;

std::string where(const ElfFile& file, std::size_t section, std::size_t slot) {
  return fmt::format("section '{}', offset {:#x}", file.sections[section].name,
                     slot * sizeof(Insn));
}

Error reloc_error(const ElfFile& file, const Reloc& reloc, std::string what) {
  const ElfSymbol& symbol = file.symbols[reloc.entry->symbol];
  return make_error(Error::Kind::parse,
                    fmt::format("{}: relocation {} of '{}' against '{}': {}",
                                where(file, reloc.table->section, reloc.entry->offset / 8),
                                reloc.number, reloc.table->name, symbol.name, what));
}

Result<RelocIndex> index_relocations(const ElfFile& file, const Code& code) {
  RelocIndex index;
  for (const ElfRelocations& table : file.relocations) {
    const CodeSection* section = code.section(table.section);
    if (section == nullptr) continue;  // .BTF, .BTF.ext, .eh_frame, debug info, .maps
    for (std::size_t i = 0; i < table.entries.size(); ++i) {
      const ElfRelocation& entry = table.entries[i];
      Reloc reloc{i, &table, &entry};
      std::string at = fmt::format("section '{}': relocation {} of '{}' at offset {:#x}",
                                   file.sections[table.section].name, i, table.name, entry.offset);
      if (entry.symbol >= file.symbols.size())
        return make_error(Error::Kind::parse,
                          fmt::format("{}: symbol {} does not exist", at, entry.symbol));
      if (entry.offset % sizeof(Insn) != 0 || entry.offset / sizeof(Insn) >= section->insns.size())
        return make_error(Error::Kind::parse,
                          fmt::format("{}: not an instruction of the section", at));
      std::size_t slot = entry.offset / sizeof(Insn);
      const Insn& insn = section->insns[slot];
      if (insn.opcode == lddw_opcode) {
        if (slot + 1 >= section->insns.size())
          return make_error(Error::Kind::parse,
                            fmt::format("{}: lddw without its second slot", at));
      } else if (insn.opcode != call_opcode) {
        return make_error(Error::Kind::parse,
                          fmt::format("{}: the instruction (opcode {:#04x}) is neither lddw nor "
                                      "call",
                                      at, insn.opcode));
      }
      if (!index.emplace(std::pair{table.section, slot}, reloc).second)
        return make_error(Error::Kind::parse, fmt::format("{}: a second relocation", at));
    }
  }
  return index;
}

// One program being linked: its slots come from functions placed one after the other.
class ProgramLinker {
 public:
  ProgramLinker(const ElfFile& file, const Code& code, const MapTable& maps,
                const RelocIndex& relocs)
      : file_(file), code_(code), maps_(maps), relocs_(relocs) {}

  Result<ObjectProgram> link(const Function& entry) {
    ObjectProgram program;
    program.name = entry.name;
    program.section = file_.sections[entry.section].name;
    program.type = program_type_from_section(program.section).value_or(ProgramType::raw);
    program.section_offset = entry.begin * sizeof(Insn);
    program.own_insns = entry.end - entry.begin;
    program_ = &program;
    place(entry);
    // Placing appends segments; walk until no new one appears.
    for (std::size_t s = 0; s < segments_.size(); ++s) {
      Status status = relocate_segment(segments_[s]);
      if (!status) return status.error();
    }
    return program;
  }

 private:
  struct Segment {
    const Function* function;
    std::size_t start;  // slot in the program
  };

  std::size_t place(const Function& function) {
    auto found = placed_.find(&function);
    if (found != placed_.end()) return found->second;
    std::size_t start = program_->insns.size();
    const CodeSection& section = *code_.section(function.section);
    program_->insns.insert(program_->insns.end(), section.insns.begin() + function.begin,
                           section.insns.begin() + function.end);
    placed_.emplace(&function, start);
    segments_.push_back({&function, start});
    return start;
  }

  Status relocate_segment(Segment segment) {
    const Function& function = *segment.function;
    for (std::size_t slot = function.begin; slot < function.end; ++slot) {
      std::size_t at = segment.start + (slot - function.begin);
      auto reloc = relocs_.find({function.section, slot});
      const Insn insn = program_->insns[at];
      if (insn.opcode == lddw_opcode && slot + 1 >= function.end && reloc != relocs_.end())
        return make_error(Error::Kind::parse,
                          fmt::format("{}: lddw cut in half by the end of function '{}'",
                                      where(file_, function.section, slot), function.name));
      if (reloc != relocs_.end()) {
        Status status = insn.opcode == lddw_opcode ? relocate_lddw(reloc->second, function, at)
                                                   : relocate_call(reloc->second, function, at);
        if (!status) return status;
      } else if (insn.opcode == call_opcode && insn.src == pseudo_call) {
        // A call inside the section, resolved by the assembler: pc-relative already.
        std::int64_t target = static_cast<std::int64_t>(slot) + insn.imm + 1;
        Status status = link_call(function, at, function.section, target, "");
        if (!status) return status;
      } else if (insn.opcode == lddw_opcode && insn.src != lddw_src::imm64 &&
                 insn.src != lddw_src::btf_id) {
        return make_error(Error::Kind::parse,
                          fmt::format("{}: lddw with pseudo source {} but no relocation",
                                      where(file_, function.section, slot), int{insn.src}));
      }
      if (insn.opcode == lddw_opcode) ++slot;  // the second slot is no instruction
    }
    return Ok{};
  }

  // Calls: the target slot is the symbol's slot plus imm + 1 (a global function has imm -1;
  // a static one is reached through the section symbol with imm = slot - 1).
  Status relocate_call(const Reloc& reloc, const Function& function, std::size_t at) {
    const Insn& insn = program_->insns[at];
    const ElfSymbol& symbol = file_.symbols[reloc.entry->symbol];
    if (symbol.shndx == SHN_UNDEF) return poison_call(reloc, at);
    if (insn.src != pseudo_call)
      return reloc_error(file_, reloc,
                         fmt::format("a call with source {} cannot be relocated "
                                     "(BPF_PSEUDO_CALL is 1)",
                                     int{insn.src}));
    if (symbol.shndx >= file_.sections.size() || code_.section(symbol.shndx) == nullptr)
      return reloc_error(file_, reloc, "the callee is not in a code section");
    if (symbol.value % sizeof(Insn) != 0)
      return reloc_error(file_, reloc, "the callee is not aligned to instructions");
    std::int64_t target = static_cast<std::int64_t>(symbol.value / sizeof(Insn)) + insn.imm + 1;
    (void)function;
    return link_call_reloc(reloc, at, symbol.shndx, target, symbol.name);
  }

  // A call to a function the object does not define (clang leaves memset/memcpy undefined
  // when it cannot inline them; an extern declared without __ksym): only the programs that
  // reach it are refused, as Linux's verifier would refuse them, and the object's other
  // programs load. The call becomes a helper call to libbpf's poison id (0xbad2310) so the
  // instructions stay well formed; ObjectProgram::link_error tells why the program cannot load.
  // memset, memcpy, memmove and memcmp become calls of bpfvm's built-in functions instead
  // (builtin_helpers.hpp): a helper call (src 0) whatever source clang gave the call (1,
  // BPF_PSEUDO_CALL, with imm -1 for a global function); ObjectLoadOptions::builtin_functions
  // may poison them again at load.
  Status poison_call(const Reloc& reloc, std::size_t at) {
    Insn& insn = program_->insns[at];
    const ElfSymbol& symbol = file_.symbols[reloc.entry->symbol];
    insn.src = 0;
    if (auto builtin = builtin_helper_for_symbol(symbol.name)) {
      insn.imm = static_cast<std::int32_t>(*builtin);
      program_->relocations.push_back({at, RelocationKind::builtin, symbol.name, 0, 0, 0});
      return Ok{};
    }
    insn.imm = static_cast<std::int32_t>(poison_helper_id);
    program_->relocations.push_back({at, RelocationKind::unresolved, symbol.name, 0, 0, 0});
    if (program_->link_error.empty())
      program_->link_error =
          reloc_error(file_, reloc,
                      "calls a function that is not in the object (extern functions are not "
                      "supported)")
              .message;
    return Ok{};
  }

  Status link_call_reloc(const Reloc& reloc, std::size_t at, std::size_t section,
                         std::int64_t target, const std::string& symbol) {
    const Function* callee = target < 0 ? nullptr : code_.function_at(section, target);
    if (callee == nullptr)
      return reloc_error(file_, reloc,
                         fmt::format("slot {} of section '{}' is in no function", target,
                                     file_.sections[section].name));
    return finish_call(at, *callee, static_cast<std::size_t>(target), symbol);
  }

  Status link_call(const Function& caller, std::size_t at, std::size_t section, std::int64_t target,
                   const std::string& symbol) {
    const Function* callee = target < 0 ? nullptr : code_.function_at(section, target);
    if (callee == nullptr)
      return make_error(
          Error::Kind::parse,
          fmt::format("{}: the call goes to slot {} of the section, which is in no function",
                      where(file_, caller.section, caller.begin + (at - start_of(caller))),
                      target));
    return finish_call(at, *callee, static_cast<std::size_t>(target),
                       symbol.empty() ? callee->name : symbol);
  }

  Status finish_call(std::size_t at, const Function& callee, std::size_t target,
                     const std::string& symbol) {
    std::size_t start = place(callee);
    std::size_t destination = start + (target - callee.begin);
    program_->insns[at].imm = static_cast<std::int32_t>(static_cast<std::int64_t>(destination) -
                                                        static_cast<std::int64_t>(at) - 1);
    program_->relocations.push_back(
        {at, RelocationKind::call, symbol.empty() ? callee.name : symbol, 0, 0, destination});
    return Ok{};
  }

  std::size_t start_of(const Function& function) const { return placed_.at(&function); }

  Status relocate_lddw(const Reloc& reloc, const Function& function, std::size_t at) {
    (void)function;
    Insn& first = program_->insns[at];
    Insn& second = program_->insns[at + 1];
    const ElfSymbol& symbol = file_.symbols[reloc.entry->symbol];
    if (symbol.shndx == SHN_UNDEF) {
      auto kconfig = maps_.kconfig.find(symbol.name);
      if (kconfig == maps_.kconfig.end() || !maps_.kconfig_map)
        return reloc_error(file_, reloc,
                           "the symbol is not defined in the object (extern variables other "
                           "than __kconfig, such as __ksym, are not supported)");
      if (first.src != lddw_src::imm64)
        return reloc_error(file_, reloc,
                           fmt::format("lddw already has pseudo source {}", int{first.src}));
      // A .kconfig extern: the address of its value in the ".kconfig" map.
      std::uint64_t offset = kconfig->second.offset + static_cast<std::uint32_t>(first.imm);
      if (offset > maps_.maps[*maps_.kconfig_map].spec.value_size)
        return reloc_error(file_, reloc, fmt::format("offset {} is outside '.kconfig'", offset));
      first.src = lddw_src::map_value;
      first.imm = static_cast<std::int32_t>(*maps_.kconfig_map);
      second.imm = static_cast<std::int32_t>(offset);
      program_->relocations.push_back(
          {at, RelocationKind::map_value, symbol.name, *maps_.kconfig_map, offset, 0});
      if (!kconfig->second.error.empty() && program_->link_error.empty())
        program_->link_error = reloc_error(file_, reloc, kconfig->second.error).message;
      return Ok{};
    }
    if (symbol.shndx >= file_.sections.size())
      return reloc_error(file_, reloc, "the symbol is in no section of the object");
    std::int64_t offset = static_cast<std::int64_t>(symbol.value) + first.imm;
    if (first.src != lddw_src::imm64)
      return reloc_error(file_, reloc,
                         fmt::format("lddw already has pseudo source {}", int{first.src}));

    if (maps_.has_definitions_in(symbol.shndx)) {
      auto index = offset < 0 ? std::nullopt : maps_.definition_at(symbol.shndx, offset);
      if (!index)
        return reloc_error(file_, reloc,
                           fmt::format("no map is defined at offset {:#x} of "
                                       "section '{}'",
                                       offset, file_.sections[symbol.shndx].name));
      first.src = lddw_src::map_fd;
      first.imm = static_cast<std::int32_t>(*index);
      second.imm = 0;
      program_->relocations.push_back({at, RelocationKind::map, symbol.name, *index, 0, 0});
      return Ok{};
    }
    if (auto index = maps_.global_data_of(symbol.shndx)) {
      std::uint64_t size = maps_.maps[*index].spec.value_size;
      if (offset < 0 || static_cast<std::uint64_t>(offset) > size)
        return reloc_error(file_, reloc,
                           fmt::format("offset {} is outside '{}' ({} bytes)", offset,
                                       maps_.maps[*index].name, size));
      first.src = lddw_src::map_value;
      first.imm = static_cast<std::int32_t>(*index);
      second.imm = static_cast<std::int32_t>(offset);
      program_->relocations.push_back({at, RelocationKind::map_value,
                                       symbol.name.empty() ? maps_.maps[*index].name : symbol.name,
                                       *index, static_cast<std::uint64_t>(offset), 0});
      return Ok{};
    }
    if (code_.section(symbol.shndx) != nullptr) {
      // A function's address (callbacks): BPF_PSEUDO_FUNC, imm relative like a call.
      if (offset < 0 || offset % sizeof(Insn) != 0)
        return reloc_error(file_, reloc, "the function address is not aligned to instructions");
      std::size_t target = static_cast<std::size_t>(offset) / sizeof(Insn);
      const Function* callee = code_.function_at(symbol.shndx, target);
      if (callee == nullptr) return reloc_error(file_, reloc, "the address is in no function");
      // Placing the callee grows the instructions: `first` and `second` dangle after it.
      std::size_t destination = place(*callee) + (target - callee->begin);
      Insn& lddw = program_->insns[at];
      lddw.src = lddw_src::func;
      lddw.imm = static_cast<std::int32_t>(static_cast<std::int64_t>(destination) -
                                           static_cast<std::int64_t>(at) - 1);
      program_->insns[at + 1].imm = 0;
      program_->relocations.push_back({at, RelocationKind::func,
                                       symbol.type == STT_SECTION ? callee->name : symbol.name, 0,
                                       0, destination});
      return Ok{};
    }
    return reloc_error(file_, reloc,
                       fmt::format("section '{}' holds neither maps, global data nor code",
                                   file_.sections[symbol.shndx].name));
  }

  const ElfFile& file_;
  const Code& code_;
  const MapTable& maps_;
  const RelocIndex& relocs_;
  ObjectProgram* program_ = nullptr;
  std::unordered_map<const Function*, std::size_t> placed_;
  std::vector<Segment> segments_;
};

}  // namespace

Result<std::vector<ObjectProgram>> link_programs(const ElfFile& file, const Code& code,
                                                 const MapTable& maps) {
  auto relocs = index_relocations(file, code);
  if (!relocs) return relocs.error();
  std::vector<ObjectProgram> programs;
  for (const CodeSection& section : code.sections)
    for (const Function& function : section.functions) {
      if (!function.entry) continue;
      ProgramLinker linker(file, code, maps, *relocs);
      auto program = linker.link(function);
      if (!program) return program.error();
      if (program->insns.size() > max_program_insns)
        return make_error(Error::Kind::parse,
                          fmt::format("program '{}' has {} instructions with its subprograms, "
                                      "more than {}",
                                      program->name, program->insns.size(), max_program_insns));
      programs.push_back(std::move(*program));
    }
  return programs;
}

Status add_initial_slots(const ElfFile& file, MapTable& maps) {
  const ElfSection* section = file.find_section(".maps");
  if (section == nullptr) return Ok{};
  for (const ElfRelocations& table : file.relocations) {
    if (table.section != section->index) continue;
    for (std::size_t i = 0; i < table.entries.size(); ++i) {
      const ElfRelocation& entry = table.entries[i];
      std::string at =
          fmt::format("section '.maps': relocation {} at offset {:#x}", i, entry.offset);
      if (entry.symbol >= file.symbols.size())
        return make_error(Error::Kind::parse,
                          fmt::format("{}: symbol {} does not exist", at, entry.symbol));
      std::optional<std::size_t> owner;
      for (std::size_t m = 0; m < maps.maps.size(); ++m) {
        const MapLocation& location = maps.locations[m];
        if (maps.maps[m].origin == MapOrigin::btf && location.section == section->index &&
            entry.offset >= location.offset && entry.offset - location.offset < location.size)
          owner = m;
      }
      if (!owner || !maps.locations[*owner].values_offset)
        return make_error(Error::Kind::parse,
                          fmt::format("{}: not in the `values` of a map definition", at));
      std::uint64_t relative =
          entry.offset - maps.locations[*owner].offset - *maps.locations[*owner].values_offset;
      if (entry.offset < maps.locations[*owner].offset + *maps.locations[*owner].values_offset ||
          relative % 8 != 0)
        return make_error(
            Error::Kind::parse,
            fmt::format("{}: not a slot of the `values` of map '{}'", at, maps.maps[*owner].name));
      ObjectMap& map = maps.maps[*owner];
      std::uint64_t slot = relative / 8;
      if (slot >= map.spec.max_entries)
        return make_error(Error::Kind::parse,
                          fmt::format("{}: slot {} of map '{}' is past max_entries {}", at, slot,
                                      map.name, map.spec.max_entries));
      map.initial_slots[static_cast<std::uint32_t>(slot)] = file.symbols[entry.symbol].name;
    }
  }
  return Ok{};
}

}  // namespace bpfvm::loader
