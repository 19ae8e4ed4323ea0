// One instruction's effect on an abstract state (Linux: the body of do_check's loop,
// check_alu_op, check_mem_access, check_cond_jmp_op, check_func_call, prepare_func_exit).
#pragma once

#include "isa/decoder.hpp"
#include "verifier/access_kinds.hpp"
#include "verifier/verifier_state.hpp"
#include "verifier/verify.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::verifier {

struct StepContext {
  const std::vector<DecodedInsn>& program;
  const VerifyOptions& options;
  // The pointer kind each memory instruction was reached with (access_kinds.hpp); none: the
  // rule is not checked.
  AccessKinds* access_kinds = nullptr;
};

struct StepResult {
  // Set on a rule broken: the reason, and the operands' values before the instruction.
  std::optional<std::string> error;
  std::string registers;
  // The program exited from its entry frame: this path is done.
  bool finished = false;
  // The stack depth of a frame this instruction ended (exit from a subprogram), for statistics.
  int ended_frame_depth = 0;
  // A second successor (the taken edge of a conditional jump when both edges are possible).
  std::optional<std::pair<std::size_t, VerifierState>> fork;
};

// Applies the instruction at `pc` to `state` and advances `pc` to the successor to follow
// (unless finished or an error).
StepResult step(const StepContext& ctx, std::size_t& pc, VerifierState& state);

}  // namespace bpfvm::verifier
