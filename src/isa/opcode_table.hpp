// The opcode table as C++ data: one row per instruction, generated from opcodes.def.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace bpfvm {

enum class Op : std::uint8_t {
#define BPFVM_OPCODE(id, opcode, variant, value, mnemonic, shape, group, cpu) id,
#include "isa/opcodes.def"
#undef BPFVM_OPCODE
};

// Which field, besides the opcode byte, picks the row.
enum class Variant : std::uint8_t { None, Off, Imm, Src };

// How an instruction uses its fields and how it is written in assembly.
enum class Shape : std::uint8_t {
  AluImm,      // op dst, imm          src = 0
  AluReg,      // op dst, src          imm = 0
  AluUnary,    // neg dst              src = off = imm = 0
  Endian,      // be16 dst             src = off = 0, imm = width
  MovSx,       // movsx816 dst, src    imm = 0, off = width
  Lddw,        // lddw dst, imm64      off = 0, src = pseudo source; second slot all zero but imm
  Load,        // ldxw dst, [src+off]  imm = 0
  StoreImm,    // stw [dst+off], imm   src = 0
  StoreReg,    // stxw [dst+off], src  imm = 0
  Atomic,      // lock add [dst+off], src   imm = operation
  LdAbs,       // ldabsw imm           dst = src = off = 0
  LdInd,       // ldindw src, imm      dst = off = 0
  Ja,          // ja +off              dst = src = imm = 0
  Ja32,        // ja32 +imm            dst = src = off = 0
  JmpImm,      // jeq dst, imm, +off   src = 0
  JmpReg,      // jeq dst, src, +off   imm = 0
  CallHelper,  // call imm             dst = off = 0, src = 0
  CallLocal,   // call local +imm      dst = off = 0, src = 1
  CallBtf,     // call btf imm         dst = 0, src = 2 (off: BTF object index, as Linux)
  Callx,       // callx dst            src = off = imm = 0 (dst holds the helper id)
  Exit,        // exit                 everything zero
};

enum class Group : std::uint8_t { base32, base64, atomic32, atomic64, divmul32, divmul64, packet, callx };

struct OpcodeInfo {
  Op op;
  std::uint8_t opcode;
  Variant variant;
  std::int32_t variant_value;
  std::string_view mnemonic;
  Shape shape;
  Group group;
  std::uint8_t cpu;
};

inline constexpr OpcodeInfo opcode_rows[] = {
#define BPFVM_OPCODE(id, opcode, variant, value, mnemonic, shape, group, cpu) \
  {Op::id, opcode, Variant::variant, value, mnemonic, Shape::shape, Group::group, cpu},
#include "isa/opcodes.def"
#undef BPFVM_OPCODE
};

inline constexpr std::size_t op_count = std::size(opcode_rows);

inline constexpr const OpcodeInfo& info(Op op) { return opcode_rows[static_cast<std::size_t>(op)]; }

// The rows whose opcode byte is `opcode` (empty when the byte is not an instruction).
std::span<const OpcodeInfo* const> rows_for_opcode(std::uint8_t opcode);

// The row an instruction slot encodes, or null when its opcode byte and variant field match
// no row. Field checks beyond the variant are the decoder's.
const OpcodeInfo* find_row(std::uint8_t opcode, std::int16_t offset, std::int32_t imm,
                           std::uint8_t src);

std::string_view group_name(Group group);
std::string_view shape_name(Shape shape);

// Properties derived from the shape, used by the decoder, assembler and engines.
bool is_jump(Shape shape);          // has a pc-relative target (Ja, Ja32, JmpImm, JmpReg)
bool ends_flow(Shape shape);        // control never falls through (Ja, Ja32, Exit)
int access_size(const OpcodeInfo& row);  // bytes for loads, stores, atomics, packet loads; else 0

}  // namespace bpfvm
