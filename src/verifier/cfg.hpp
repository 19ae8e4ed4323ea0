// The control-flow checks Linux makes before it explores any path (check_subprogs and
// check_cfg in kernel/bpf/verifier.c):
//
//   - subprograms: instruction 0 and every target of a local call (`call local`) start one,
//     each runs to the next start;
//   - no jump leaves its subprogram ("jump out of range"), and the last instruction of each
//     subprogram is an exit or an unconditional jump, so control never falls into the next
//     one ("last insn is not an exit or jmp");
//   - every instruction is reachable from instruction 0 along jump edges (both edges of
//     every conditional, whatever the values) and local calls ("unreachable insn").
//
// Loops are not rejected here: as Linux since 5.3, the path exploration follows them and
// the instruction budget bounds the work. Jump targets in range and not inside lddw are
// the decoder's check already.
#pragma once

#include "isa/decoder.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace bpfvm::verifier {

struct Subprogram {
  std::size_t start = 0;
  std::size_t end = 0;  // one past the last slot
};

struct Cfg {
  std::vector<Subprogram> subprograms;  // sorted by start; [0] is the entry
  // Where the exploration stores states to prune against (Linux: INSN_F_PRUNE_POINT):
  // jump targets, the fall-through of conditional jumps, and the instruction after a call.
  std::vector<bool> prune_point;

  // The subprogram holding slot `index`.
  std::size_t subprogram_of(std::size_t index) const;
};

struct CfgError {
  std::size_t insn = 0;
  std::string message;
};

// Builds the CFG of a decoded program (one entry per slot, as decode() returns) or says
// which instruction breaks which rule.
struct CfgResult {
  Cfg cfg;
  std::vector<CfgError> errors;  // empty when the program passes; the first is primary
};
CfgResult build_cfg(const std::vector<DecodedInsn>& program);

}  // namespace bpfvm::verifier
