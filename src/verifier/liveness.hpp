// Static liveness for pruning (docs/verifier.md "Exploration and pruning"): which registers
// and stack slots of the current frame some path from an instruction may read before it
// writes them. Linux marks liveness during exploration (mark_reg_read, REG_LIVE_READ in
// propagate_liveness) and states_equal skips what is not read; a backward dataflow over each
// subprogram's CFG gives a superset of those reads up front, so ignoring everything else in
// `includes` is sound.
//
// The rules, conservative where a static view cannot tell:
//   - registers: each instruction's operands are read, its destination written; a helper
//     call reads r1-r5 and writes r0-r5 (they are scratched), a local call reads r1-r5 and
//     writes r0-r5 (the callee's r0 comes back, r1-r5 are scratched), exit reads r0, ld_abs
//     reads r6 (and ld_ind its source) and writes r0; atomics read and keep their operands
//     and r0;
//   - the current frame's stack, per 8-byte slot: a load or atomic through r10 at a constant
//     offset reads the slots it touches, an aligned 8-byte store through r10 writes its slot
//     (smaller stores write nothing: the rest of the slot is still what it was); a load or
//     atomic through another register that may hold a stack pointer (a forward dataflow,
//     liveness.cpp), a helper call with such an argument and every local call read every
//     slot;
//   - a helper call that runs a callback (bpf_loop...) comes back to itself, so the state at
//     the call is also the state the callback's exit resumes.
// Callers' frames: their registers are live as at their return point (r0-r5 excluded after a
// local call: the return overwrites them); their stacks are always live (a callee may read
// them through a pointer).
#pragma once

#include "isa/decoder.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bpfvm::verifier {

struct Liveness {
  // Per slot of the program: bit r for register r (r10 always set), bit s of `stack` for
  // the slot [-512 + 8s, -504 + 8s) of the current frame.
  std::vector<std::uint16_t> regs;
  std::vector<std::uint64_t> stack;
  // The slots of `stack` whose values matter: some path loads them into a register (a fill,
  // an atomic, a local call's callee) before writing them. The others are read only as
  // helper memory, which asks only that the bytes be written and hold no spilled pointer
  // (Linux does not mark a spilled scalar precise when a helper reads it as memory). In a
  // program with callbacks (lddw src 4), whose helpers pass stack pointers on to code that
  // loads through them, every read counts here.
  std::vector<std::uint64_t> stack_values;
};

// `subprogram_starts`: the first instruction of every subprogram (Cfg::subprograms), where
// r1-r5 may hold stack pointers of the caller.
Liveness compute_liveness(const std::vector<DecodedInsn>& program,
                          const std::vector<std::size_t>& subprogram_starts);

}  // namespace bpfvm::verifier
