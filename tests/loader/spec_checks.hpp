// Invariants every parsed program must keep, whatever the object: the instructions are in the
// form Program::load resolves (include/bpfvm/program.hpp, LoadOptions::maps).
#pragma once

#include <bpfvm/builtin_helpers.hpp>
#include <bpfvm/object.hpp>

#include <fmt/format.h>

#include <optional>
#include <string>

namespace bpfvm::testing {

// The first broken invariant, or nullopt.
inline std::optional<std::string> check_program(const ObjectSpec& spec,
                                                const ObjectProgram& program) {
  const auto& insns = program.insns;
  if (program.own_insns == 0 || program.own_insns > insns.size())
    return fmt::format("{}: own_insns {} of {}", program.name, program.own_insns, insns.size());
  for (const ObjectRelocation& relocation : program.relocations) {
    std::size_t at = relocation.insn;
    if (at >= insns.size())
      return fmt::format("{}: relocation at {} past the end", program.name, at);
    const Insn& insn = insns[at];
    switch (relocation.kind) {
      case RelocationKind::map:
      case RelocationKind::map_value: {
        std::uint8_t want = relocation.kind == RelocationKind::map ? 1 : 2;
        if (insn.opcode != 0x18 || insn.src != want || at + 1 >= insns.size())
          return fmt::format("{}+{}: not lddw src {}", program.name, at, int{want});
        if (static_cast<std::size_t>(insn.imm) != relocation.map_index ||
            relocation.map_index >= spec.maps.size())
          return fmt::format("{}+{}: map index {} of {}", program.name, at, insn.imm,
                             spec.maps.size());
        if (relocation.kind == RelocationKind::map_value &&
            (static_cast<std::uint64_t>(static_cast<std::uint32_t>(insns[at + 1].imm)) !=
                 relocation.offset ||
             relocation.offset > spec.maps[relocation.map_index].spec.value_size))
          return fmt::format("{}+{}: value offset {}", program.name, at, insns[at + 1].imm);
        break;
      }
      case RelocationKind::unresolved:
        if (insn.opcode != 0x85 || insn.src != 0 ||
            static_cast<std::uint32_t>(insn.imm) != poison_helper_id || program.link_error.empty())
          return fmt::format("{}+{}: an unresolved call not poisoned", program.name, at);
        break;
      case RelocationKind::builtin: {
        auto id = builtin_helper_for_symbol(relocation.symbol);
        if (insn.opcode != 0x85 || insn.src != 0 || !id ||
            static_cast<std::uint32_t>(insn.imm) != *id)
          return fmt::format("{}+{}: a call to '{}' not made a built-in call", program.name, at,
                             relocation.symbol);
        break;
      }
      case RelocationKind::call:
      case RelocationKind::func: {
        bool call = relocation.kind == RelocationKind::call;
        if (call ? (insn.opcode != 0x85 || insn.src != 1) : (insn.opcode != 0x18 || insn.src != 4))
          return fmt::format("{}+{}: not a pseudo call/func", program.name, at);
        std::int64_t target = static_cast<std::int64_t>(at) + insn.imm + 1;
        if (target < 0 || static_cast<std::size_t>(target) != relocation.target ||
            relocation.target >= insns.size())
          return fmt::format("{}+{}: target {} (recorded {})", program.name, at, target,
                             relocation.target);
        break;
      }
    }
  }
  for (std::size_t i = 0; i < insns.size(); ++i) {
    if (insns[i].opcode == 0x85 && insns[i].src == 1) {
      std::int64_t target = static_cast<std::int64_t>(i) + insns[i].imm + 1;
      if (target < 0 || static_cast<std::size_t>(target) >= insns.size())
        return fmt::format("{}+{}: local call to {} outside the program", program.name, i, target);
    }
    if (insns[i].opcode == 0x18) ++i;
  }
  return std::nullopt;
}

inline std::optional<std::string> check_spec(const ObjectSpec& spec) {
  for (const ObjectProgram& program : spec.programs)
    if (auto problem = check_program(spec, program)) return problem;
  return std::nullopt;
}

}  // namespace bpfvm::testing
