// What both engines share to support helpers that reach back into the run: maps (a
// MapReadGuard and the global data regions), BPF callbacks (bpf_loop, bpf_for_each_map_elem)
// and tail calls (bpf_tail_call). The JIT runs callbacks and tail-call targets through the
// interpreter functions declared here, on the same RunState (docs/helpers.md).
#pragma once

#include "vm/code.hpp"
#include "vm/run_state.hpp"

#include <bpfvm/map.hpp>
#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace bpfvm::detail {

// Held for the whole of a run. enter() is called for the program a run starts with and for
// every tail-call target: it takes a MapReadGuard the first time a program whose maps may
// free values runs (Code::needs_read_guard) (map values helpers return stay valid until the run
// ends), and admits the program's global data (`lddw` src 2/6) as regions.
class RunGuard {
 public:
  void enter(RunState& state, const Code& code) {
    if (code.needs_read_guard && !maps_) maps_.emplace();
    for (const Region& region : code.global_regions)
      if (!state.regions.contains(region)) state.regions.push_back(region);
  }

 private:
  std::optional<MapReadGuard> maps_;
};

// Calls the function at slot `entry` of state.code with r1-r5 = args in a new frame below
// the frame published in state.frame_pointer, sharing the run's regions and budget
// (interpreter.cpp). Fails like a run (HelperCall::call_function checks the depth first).
Result<std::uint64_t> run_function(RunState& state, std::size_t entry,
                                   const std::uint64_t (&args)[5]);

// Runs the programs bpf_tail_call asked for, one after the other, each with a fresh stack
// and r1 = the context, until one ends without a tail call; its r0 is the run's result.
Result<std::uint64_t> run_tail_calls(RunState& state, RunGuard& guard);

// bpf_tail_call from a subprogram, as Linux's x86-64 JIT does it since 5.10: `target` (and the
// targets it tail-calls in turn) run now, in the frame of the subprogram that called the
// helper (published in state.frame_pointer), with r1 = the context; the last one's r0 is
// what the subprogram returns to its caller (HelperCall::tail_call sets state.frame_return).
Result<std::uint64_t> run_tail_call_in_frame(RunState& state, const Program& target);

}  // namespace bpfvm::detail
