// Branch refinement: what a conditional jump (RFC 9669 section 4.3) tells about its operands
// on each edge, and whether an edge can be taken at all. Linux: is_scalar_branch_taken and
// reg_set_min_max / regs_refine_cond_op.
//
// Sound: every concrete pair (x, y) of the operands' values that takes an edge is in that
// edge's refined values; an edge reported unreachable is taken by no pair; "always" and
// "never" are never wrong.
#pragma once

#include "isa/opcode_table.hpp"
#include "verifier/scalar_value.hpp"

#include <cstdint>
#include <optional>

namespace bpfvm::verifier {

// The condition under which a jump is taken: `dst op src`. bits_clear (dst & src == 0) is no
// instruction: it is what the fall-through edge of jset knows.
enum class CmpOp : std::uint8_t { eq, ne, gt, ge, lt, le, sgt, sge, slt, sle, set, bits_clear };

// The condition of the other edge: eq <-> ne, gt <-> le, ..., set <-> bits_clear.
CmpOp negate(CmpOp op);

enum class Verdict : std::uint8_t { always, never, unknown };

// Whether `a op b` holds at width `bits` (64, or 32 for BPF_JMP32: the low halves) for
// every pair of values, for none, or for some.
Verdict branch_taken(CmpOp op, int bits, const ScalarValue& a, const ScalarValue& b);

struct Refined {
  ScalarValue dst;
  ScalarValue src;
};
// The operands restricted to the pairs with `a op b` at width `bits`, or nothing when there
// is no such pair as far as the domain can tell (bottom).
std::optional<Refined> refine(CmpOp op, int bits, const ScalarValue& a, const ScalarValue& b);

struct BranchResult {
  // always: the fall-through edge is unreachable; never: the taken edge is.
  Verdict verdict;
  std::optional<Refined> taken;        // nothing: unreachable
  std::optional<Refined> fallthrough;  // nothing: unreachable
};
BranchResult branch(CmpOp op, int bits, const ScalarValue& dst, const ScalarValue& src);

struct JumpRow {
  CmpOp op;
  int bits;
};
// The condition and width of an opcode-table row, or nothing when the row is not a
// conditional jump (Shape JmpImm or JmpReg).
std::optional<JumpRow> jump_row(Op op);

// branch() for a row of the opcode table; `src` is immediate(imm) for the _IMM rows.
std::optional<BranchResult> branch(Op op, const ScalarValue& dst, const ScalarValue& src);

}  // namespace bpfvm::verifier
