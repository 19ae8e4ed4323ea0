// Which fields of an instruction carry operands, per opcode-table row, and the bit-level
// helpers (size names, 32-bit classes) that both disassembly syntaxes read from the opcode.
#pragma once

#include "isa/opcode_table.hpp"

#include <bpfvm/insn.hpp>

#include <cstdint>
#include <string_view>

namespace bpfvm::fields {

// A field is "used" when the written form of the instruction shows it, or when it selects the
// row (the variant). Every other field must be zero for the text to describe the slot fully.
struct FieldUse {
  bool dst = false, src = false, offset = false, imm = false;
};

inline FieldUse written_fields(Shape shape) {
  switch (shape) {
    case Shape::AluImm: return {true, false, false, true};
    case Shape::AluReg:
    case Shape::MovSx: return {true, true, false, false};
    case Shape::AluUnary:
    case Shape::Endian:
    case Shape::Callx: return {true, false, false, false};
    case Shape::Lddw: return {true, false, false, true};
    case Shape::Load:
    case Shape::StoreReg:
    case Shape::Atomic: return {true, true, true, false};
    case Shape::StoreImm: return {true, false, true, true};
    case Shape::LdAbs: return {false, false, false, true};
    case Shape::LdInd: return {false, true, false, true};
    case Shape::Ja: return {false, false, true, false};
    case Shape::Ja32: return {false, false, false, true};
    case Shape::JmpImm: return {true, false, true, true};
    case Shape::JmpReg: return {true, true, true, false};
    case Shape::CallHelper:
    case Shape::CallLocal:
    case Shape::CallBtf: return {false, false, false, true};
    case Shape::Exit: return {};
  }
  return {};
}

inline FieldUse used_fields(const OpcodeInfo& row) {
  FieldUse use = written_fields(row.shape);
  switch (row.variant) {
    case Variant::None: break;
    case Variant::Off: use.offset = true; break;
    case Variant::Imm: use.imm = true; break;
    case Variant::Src: use.src = true; break;
  }
  return use;
}

// True when every field the row does not use is zero and every register field names r0-r10.
// `extra` marks fields a syntax can show beyond the row's operands (lddw's pseudo source).
inline bool fully_described(const Insn& insn, const OpcodeInfo& row, FieldUse extra = {}) {
  FieldUse use = used_fields(row);
  FieldUse written = written_fields(row.shape);
  if (!(use.dst || extra.dst) && insn.dst != 0) return false;
  if (!(use.src || extra.src) && insn.src != 0) return false;
  if (!(use.offset || extra.offset) && insn.offset != 0) return false;
  if (!(use.imm || extra.imm) && insn.imm != 0) return false;
  if (written.dst && insn.dst >= register_count) return false;
  if (written.src && insn.src >= register_count) return false;
  return true;
}

// RFC 9669 section 5: the size bits of load, store and atomic opcodes.
inline std::string_view size_name(std::uint8_t opcode, bool is_signed = false) {
  switch (opcode & 0x18) {
    case 0x00: return is_signed ? "s32" : "u32";
    case 0x08: return is_signed ? "s16" : "u16";
    case 0x10: return is_signed ? "s8" : "u8";
    default: return is_signed ? "s64" : "u64";
  }
}

// RFC 9669 section 5.2: mode MEMSX (0x80) marks sign-extending loads.
inline bool is_sign_extending_load(std::uint8_t opcode) { return (opcode & 0xe0) == 0x80; }

// Class ALU and JMP32, and 32-bit atomics, operate on the low 32 bits: the LLVM syntax writes
// their registers `wN`.
inline bool is_32bit(std::uint8_t opcode) {
  std::uint8_t klass = insn_class(opcode);
  return klass == cls::alu32 || klass == cls::jmp32 || opcode == info(Op::ATOMIC32_ADD).opcode;
}

// RFC 9669 section 5.3: atomic operations (imm), without the FETCH bit.
inline constexpr std::int32_t atomic_fetch = 0x01, atomic_xchg = 0xe0, atomic_cmpxchg = 0xf0;

}  // namespace bpfvm::fields
