// Precision tracking (Linux: mark_chain_precision, __mark_chain_precision, backtrack_insn,
// propagate_precision; docs/verifier.md "Precision"). A scalar is imprecise by default: when
// a cached state is compared with a new one, an imprecise scalar of the cached state takes any
// scalar. A scalar becomes precise in a cached state when some decision below that state
// depended on its value: a pointer's offset, a helper's size or constant argument, a return
// value that is checked, a conditional jump whose outcome was known, or the precise scalars
// of a state that pruned a path below it.
//
// Each path keeps the instructions it ran since its nearest checkpoint (a cached state or a
// chain-only checkpoint, verify.cpp); a demand walks that history backwards, turning "the
// value of r3 before instruction i" into the registers and stack slots it was computed from,
// then marks them in the checkpoint and goes on through the checkpoint's own history to its
// parent, until nothing is left to mark or everything left is already precise there (a mark
// always reaches the root, so what is precise in a state is precise in its ancestors).
// Whatever the walk cannot follow (a callback boundary) marks every scalar precise in every
// checkpoint of the path: exactly the comparison there was before precision tracking.
#pragma once

#include "isa/decoder.hpp"
#include "verifier/verifier_state.hpp"
#include "verifier/verify.hpp"

#include <cstddef>
#include <cstdint>

namespace bpfvm::verifier {

// One instruction a path ran (Linux: bpf_jmp_history_entry, kept here for every
// instruction, not only jumps): where, in which frame, and the stack slots a load or store
// touched (whatever register it went through).
struct HistoryEntry {
  std::uint32_t pc = 0;
  std::uint8_t depth = 0;  // index of the frame that ran it
  std::uint8_t flags = 0;
  std::uint8_t stack_frame = 0;  // flags & stack_access: the frame of the slots
  std::uint8_t slot_lo = 0;      // the slots [slot_lo, slot_hi] (liveness.hpp numbering)
  std::uint8_t slot_hi = 0;
  // A conditional jump on a scalar linked to others (same id): 1 + the index of the places
  // that share its operands' ids (Explorer's table), 0 for none. The branch refined all of
  // them, so a demand on one is a demand on all (Linux: linked_regs in jmp_history,
  // bt_sync_linked_regs).
  std::uint32_t linked = 0;

  static constexpr std::uint8_t stack_access = 1;
  static constexpr std::uint8_t whole_slot = 2;  // an aligned 8-byte access of one slot
  static constexpr std::uint8_t callback = 4;    // a callback call or a callback's exit
};

// The helper's prototype as the call's check finds it (options.helpers, then Linux's table
// where linux_prototypes is set), or null.
const HelperPrototype* helper_prototype(const VerifyOptions& options, std::int32_t id);

// The entry for the instruction at `pc`, from the state before it runs.
HistoryEntry history_entry(const VerifyOptions& options, const DecodedInsn& d, std::size_t pc,
                           const VerifierState& before);

// The registers of the current frame whose values the instruction at `pc` relies on, from
// the state before it: the scalar operand of pointer arithmetic, a scalar compared with a
// pointer, the scalar arguments of a helper that are not ARG_ANYTHING, r0 at the exit of the
// program or of a callback. `decided`: the instruction is a conditional jump that went one
// way only, so both scalar operands count (Linux: check_cond_jmp_op).
std::uint16_t demanded_registers(const VerifyOptions& options, const DecodedInsn& d,
                                 const VerifierState& before, bool decided);

// One step backwards through `e` (Linux: backtrack_insn): `needed`, what must be precise
// after the instruction, becomes what must be precise before it. False when the walk cannot
// follow (the caller then marks everything precise).
bool backtrack(const DecodedInsn& d, const HistoryEntry& e, Precision& needed);

// The scalar registers and spilled scalar slots of every frame of `st` whose id is `a` or `b`
// (nonzero): the places a branch on a register with that id refines (Linux:
// collect_linked_regs).
Precision linked_places(const VerifierState& st, std::uint32_t a, std::uint32_t b);

// Linux's bt_sync_linked_regs: when `needed` names one of `linked`, it names them all.
void sync_linked(const Precision& linked, Precision& needed);

// The registers and slots of `st` that hold scalars (the only values precision applies to).
Precision scalar_places(const VerifierState& st);

// Marks `needed` in a checkpoint whose scalars are `scalars` and whose marks are `marks`:
// what is not a scalar there, or already precise, leaves `needed` (Linux: the loop over the
// parent state's registers in __mark_chain_precision). True when something is left to carry
// on to the parent.
bool mark_checkpoint(const Precision& scalars, Precision& marks, Precision& needed);

}  // namespace bpfvm::verifier
