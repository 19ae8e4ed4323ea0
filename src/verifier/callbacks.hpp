// Callbacks (Linux: push_callback_call, set_loop_callback_state,
// set_map_elem_callback_state, and prepare_func_exit for callback frames): a helper taking
// a function (bpf_loop, bpf_for_each_map_elem) may call it any number of times. The call
// instruction forks: one path goes on as if the callback ran no more (r0 a scalar), the
// other enters the callback in a new frame with the arguments Linux gives it; the callback's
// exit checks r0 in [0, 1] and goes back to the call, which forks again. The call is a prune
// point where a state included in one still being explored ends the path (the iterations
// reached a fixed point), as Linux's is_state_visited does for callback calls.
#pragma once

#include "isa/decoder.hpp"
#include "verifier/verifier_state.hpp"
#include "verifier/verify.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace bpfvm::verifier {

// Widening at a callback call (`cur` comes back to the call where `old` is still being
// explored): every scalar register or spilled scalar of `cur` that `old` does not include
// becomes unknown, so a counter the callback keeps in the caller's stack converges in one
// more iteration. Linux gets there through precision marks (imprecise scalars compare
// equal); without them this over-approximation is sound and loses only bounds that change
// from one iteration to the next.
void widen_scalars(const VerifierState& old, VerifierState& cur);

// Whether the instruction calls a helper whose prototype takes a function.
bool calls_callback(const VerifyOptions& options, const DecodedInsn& d);

// `st` is the state before the helper call at `pc` (arguments already checked on a copy):
// pushes the callback's frame with its arguments. The callback's first instruction, or an
// error (too many frames).
std::optional<std::string> enter_callback(const VerifyOptions& options, const DecodedInsn& d,
                                          std::size_t pc, VerifierState& st, std::size_t& target);

// At `exit` in a callback's frame: r0 in [0, 1], no reference of its own held; pops the
// frame and returns the helper call to go back to.
std::optional<std::string> exit_callback(VerifierState& st, std::size_t& next);

}  // namespace bpfvm::verifier
