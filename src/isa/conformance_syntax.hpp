// Printing one decoded instruction in the bpf_conformance syntax, exactly as the assembler
// reads it back: jumps as `+N`/`-N`, `call local +N`, `callx %rN`, lddw's value in hex.
#pragma once

#include "isa/opcode_table.hpp"

#include <bpfvm/insn.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace bpfvm::conformance_syntax {

inline std::string reg(int number) { return fmt::format("%r{}", number); }

// `[%r1]` when there is no offset, as the conformance suite writes it, else `[%r10-8]`.
inline std::string memory(int base, std::int16_t offset) {
  if (offset == 0) return fmt::format("[%r{}]", base);
  return fmt::format("[%r{}{:+}]", base, offset);
}

inline std::string relative(std::int64_t displacement) { return fmt::format("{:+}", displacement); }

// `row` matches `insn` and fields::fully_described holds; imm64 is lddw's whole value.
inline std::string print(const Insn& insn, const OpcodeInfo& row, std::uint64_t imm64) {
  std::string_view name = row.mnemonic;
  switch (row.shape) {
    case Shape::AluImm: return fmt::format("{} {}, {}", name, reg(insn.dst), insn.imm);
    case Shape::AluReg:
    case Shape::MovSx: return fmt::format("{} {}, {}", name, reg(insn.dst), reg(insn.src));
    case Shape::AluUnary:
    case Shape::Endian:
    case Shape::Callx: return fmt::format("{} {}", name, reg(insn.dst));
    case Shape::Lddw: return fmt::format("{} {}, {:#x}", name, reg(insn.dst), imm64);
    case Shape::Load:
      return fmt::format("{} {}, {}", name, reg(insn.dst), memory(insn.src, insn.offset));
    case Shape::StoreImm:
      return fmt::format("{} {}, {}", name, memory(insn.dst, insn.offset), insn.imm);
    case Shape::StoreReg:
      return fmt::format("{} {}, {}", name, memory(insn.dst, insn.offset), reg(insn.src));
    case Shape::Atomic:
      return fmt::format("lock {} {}, {}", name, memory(insn.dst, insn.offset), reg(insn.src));
    case Shape::LdAbs:
    case Shape::CallHelper:
    case Shape::CallBtf: return fmt::format("{} {}", name, insn.imm);
    case Shape::LdInd: return fmt::format("{} {}, {}", name, reg(insn.src), insn.imm);
    case Shape::Ja: return fmt::format("{} {}", name, relative(insn.offset));
    case Shape::Ja32:
    case Shape::CallLocal: return fmt::format("{} {}", name, relative(insn.imm));
    case Shape::JmpImm:
      return fmt::format("{} {}, {}, {}", name, reg(insn.dst), insn.imm, relative(insn.offset));
    case Shape::JmpReg:
      return fmt::format("{} {}, {}, {}", name, reg(insn.dst), reg(insn.src),
                         relative(insn.offset));
    case Shape::Exit: return std::string(name);
  }
  return std::string(name);
}

}  // namespace bpfvm::conformance_syntax
