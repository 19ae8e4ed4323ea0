// Disassembly, table-driven like the assembler: find_row names the instruction, the row's shape
// picks the printed form. A slot the text could not describe exactly (no row, a non-zero field
// the syntax does not show, a register above r10, a broken lddw pair) prints as a raw
// `.8byte 0x...` word instead, which the conformance assembler reads back bit for bit.
#include <bpfvm/disassembler.hpp>

#include "isa/conformance_syntax.hpp"
#include "isa/insn_fields.hpp"
#include "isa/llvm_syntax.hpp"
#include "isa/opcode_table.hpp"

#include <fmt/format.h>

#include <cassert>
#include <cstdint>
#include <optional>

namespace bpfvm {
namespace {

// The slot as the little-endian 64-bit word it is in memory (RFC 9669 section 3).
std::uint64_t raw_word(const Insn& insn) {
  return static_cast<std::uint64_t>(insn.opcode) | static_cast<std::uint64_t>(insn.dst) << 8 |
         static_cast<std::uint64_t>(insn.src) << 12 |
         static_cast<std::uint64_t>(static_cast<std::uint16_t>(insn.offset)) << 16 |
         static_cast<std::uint64_t>(static_cast<std::uint32_t>(insn.imm)) << 32;
}

std::string print_raw(const Insn& insn) { return fmt::format(".8byte {:#018x}", raw_word(insn)); }

// The 64-bit value of lddw at `index` when its second slot is well formed (RFC 9669 section
// 5.4: opcode, dst, src and offset of the second slot are zero).
std::optional<std::uint64_t> lddw_value(std::span<const Insn> insns, std::size_t index) {
  if (index + 1 >= insns.size()) return std::nullopt;
  const Insn& next = insns[index + 1];
  if (next.opcode != 0 || next.dst != 0 || next.src != 0 || next.offset != 0) return std::nullopt;
  return static_cast<std::uint32_t>(insns[index].imm) |
         static_cast<std::uint64_t>(static_cast<std::uint32_t>(next.imm)) << 32;
}

// The row a slot prints as, or null when it must print raw.
const OpcodeInfo* printable_row(std::span<const Insn> insns, std::size_t index, Syntax syntax) {
  const Insn& insn = insns[index];
  const OpcodeInfo* row = find_row(insn.opcode, insn.offset, insn.imm, insn.src);
  if (row == nullptr) return nullptr;
  fields::FieldUse extra;
  // The LLVM syntax shows lddw's pseudo source (`ld_pseudo`); the conformance one cannot.
  if (row->shape == Shape::Lddw && syntax == Syntax::llvm) extra.src = true;
  if (!fields::fully_described(insn, *row, extra)) return nullptr;
  if (row->shape == Shape::Lddw && !lddw_value(insns, index)) return nullptr;
  return row;
}

}  // namespace

std::string disassemble_insn(std::span<const Insn> insns, std::size_t index, Syntax syntax) {
  assert(index < insns.size());
  const Insn& insn = insns[index];
  const OpcodeInfo* row = printable_row(insns, index, syntax);
  if (row == nullptr) return print_raw(insn);
  std::uint64_t imm64 = row->shape == Shape::Lddw ? *lddw_value(insns, index) : 0;
  return syntax == Syntax::llvm ? llvm_syntax::print(insn, *row, imm64)
                                : conformance_syntax::print(insn, *row, imm64);
}

std::string disassemble(std::span<const Insn> insns, Syntax syntax) {
  std::string out;
  for (std::size_t i = 0; i < insns.size(); ++i) {
    out += disassemble_insn(insns, i, syntax);
    out += '\n';
    const OpcodeInfo* row = printable_row(insns, i, syntax);
    if (row != nullptr && row->shape == Shape::Lddw) ++i;  // its second slot was printed with it
  }
  return out;
}

}  // namespace bpfvm
