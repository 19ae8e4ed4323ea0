// Transfer functions: the abstract value an ALU instruction leaves in its destination, for
// every ALU operation of RFC 9669 section 4 in both widths, with its semantics (division by
// zero gives 0, modulo by zero keeps the dividend, 32-bit results are zero-extended, shift
// amounts are masked to the width). Linux: adjust_scalar_min_max_vals and the
// scalar(32)_min_max_* functions it calls, coerce_reg_to_size_sx for movsx.
//
// Sound: for every x in dst and y in src, the concrete result is in the abstract one. At
// least as precise as Linux on every operation; more precise where Linux gives up (division,
// modulo, byte swaps, shifts by amounts of 32 or more, non-constant right shifts).
#pragma once

#include "isa/opcode_table.hpp"
#include "verifier/scalar_value.hpp"

#include <cstdint>
#include <optional>

namespace bpfvm::verifier {

enum class AluOp : std::uint8_t {
  add,
  sub,
  mul,
  div,
  sdiv,
  mod,
  smod,
  bit_or,
  bit_and,
  lsh,
  rsh,
  arsh,
  neg,
  bit_xor,
  mov,
  movsx8,
  movsx16,
  movsx32,
  // Byte order (RFC 9669 section 4.2), for a little-endian host as the engines assume:
  // le16/le32 truncate, le64 does nothing, be* and bswap* swap bytes.
  le16,
  le32,
  le64,
  bswap16,
  bswap32,
  bswap64,
};

// `bits` is 64 (BPF_ALU64) or 32 (BPF_ALU: the operation on the low halves, zero-extended).
// For unary operations (neg, byte order) `src` is ignored; for mov and movsx, `dst` is.
ScalarValue alu(AluOp op, int bits, const ScalarValue& dst, const ScalarValue& src);

// The source operand an immediate stands for: sign-extended to 64 bits (RFC 9669 section
// 3; for 32-bit operations only its low half counts, which is the immediate itself).
inline ScalarValue immediate(std::int32_t imm) {
  return ScalarValue::constant(static_cast<std::uint64_t>(static_cast<std::int64_t>(imm)));
}

struct AluRow {
  AluOp op;
  int bits;
};
// The operation and width of an opcode-table row, or nothing when the row is not an ALU
// operation (Shape AluImm, AluReg, AluUnary, Endian or MovSx).
std::optional<AluRow> alu_row(Op op);

// alu() for a row of the opcode table; `src` is immediate(imm) for the _IMM rows.
std::optional<ScalarValue> transfer(Op op, const ScalarValue& dst, const ScalarValue& src);

}  // namespace bpfvm::verifier
