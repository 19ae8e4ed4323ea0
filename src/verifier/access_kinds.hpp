// One pointer kind per memory instruction (Linux: insn_aux_data[].ptr_type, set by
// save_aux_ptr_type in do_check for BPF_LDX, BPF_STX and BPF_ST).
//
// After verification Linux rewrites every context access into an access of the kernel's own
// structure (convert_ctx_accesses), instruction by instruction, and bpfvm's loader does the
// same (progtypes/context_rewriter.cpp). An instruction that reaches the context on one path
// and other memory (the stack, a map value, the packet) on another cannot be rewritten for
// both, so Linux refuses it: "same insn cannot be used with different pointers". Two
// kinds may share an instruction unless one is the context or a socket (Linux's
// reg_type_mismatch_ok: those are the ones rewritten; socket_access.hpp).
//
// Kinds are recorded as the exploration reaches each instruction; a pruned path cannot
// bring a new kind, since the base register is live at the instruction and pruning requires
// live pointers of the same kind. Only typed programs: a raw program's context is plain
// memory that is never rewritten.
#pragma once

#include "verifier/reg_value.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::verifier {

class AccessKinds {
 public:
  explicit AccessKinds(std::size_t insns) : kinds_(insns, RegKind::uninit) {}

  // Records that instruction `pc` accesses memory through `base`; the error if an earlier
  // path reached it with a pointer of another kind and one of the two is the context.
  std::optional<std::string> record(std::size_t pc, const RegValue& base);

 private:
  std::vector<RegKind> kinds_;  // uninit: not reached with a pointer yet
};

}  // namespace bpfvm::verifier
