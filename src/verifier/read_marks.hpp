// Read marks found during exploration (Linux: mark_reg_read, REG_LIVE_READ and
// REG_LIVE_WRITTEN, propagate_liveness; docs/verifier.md "Exploration and pruning"). The
// static liveness (liveness.hpp) says what some path of the program *may* read after an
// instruction; the read marks say what the paths explored from one cached state *did* read
// before writing it. A state whose paths have all ended compares only what both call live.
//
// Each path keeps what it wrote since its nearest checkpoint; a read of something it has not
// written marks the checkpoint, and goes on to the checkpoint's parent unless the
// checkpoint's own stretch of path wrote it. A path pruned by a state reads, from there on,
// what that state's paths read: its marks are read again from the pruned path's end.
//
// What counts, per instruction (conservative where a view of one instruction cannot tell:
// reads too many, writes too few):
//   - registers: the operands and the base of a memory access are read, the destination
//     written; a helper call reads r1-r5 and writes r0-r5, a local call reads the caller's
//     r1-r5 and writes the whole new frame (its registers and stack are fresh), an exit reads
//     r0 and writes the caller's r0-r5 and the whole ended frame; ld_abs/ld_ind read r6 (and
//     the source) and write r0; atomics read their three registers and write nothing;
//   - stack slots (of whatever frame the pointer is into): a load or atomic reads the slots
//     it may touch (as values); only an aligned 8-byte store at a constant offset writes a
//     slot; a helper reads, as memory, the slots its stack pointer argument may reach: the
//     pointer's offsets plus the size its prototype gives (the next argument's umax for a
//     sized pointer, the map's key or value size, 4 or 8 bytes for int and long pointers,
//     the fixed size), or every slot up to the top of that frame where it gives none.
// Programs with callbacks (lddw src 4) do not use read marks: a callback's exit goes back
// to its helper's call, which the marks do not follow.
#pragma once

#include "isa/decoder.hpp"
#include "verifier/precision.hpp"
#include "verifier/verifier_state.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace bpfvm::verifier {

// A stack read of one instruction: the slots of `frame`, as values or as helper memory.
struct StackRead {
  std::uint8_t frame = 0;
  bool values = false;
  std::uint64_t slots = 0;
};

// What one instruction reads and writes, from the state before it.
struct InsnAccess {
  std::uint16_t use = 0;  // registers of the current frame read
  std::uint16_t def = 0;  // registers of the current frame written
  std::array<StackRead, 5> reads{};
  std::size_t read_count = 0;
  std::uint8_t def_frame = 0;  // def_slots: the slots an aligned 8-byte store wrote
  std::uint64_t def_slots = 0;
  bool new_frame = false;   // a local call: frame depth + 1 is fresh
  bool ends_frame = false;  // an exit from a subprogram: the caller's r0-r5 are written
};

// `proto`: a helper call's prototype (helper_prototype), null for anything else or unknown.
InsnAccess insn_access(const DecodedInsn& d, const HistoryEntry& e, const VerifierState& before,
                       const HelperPrototype* proto);

// Marks (LiveMask: regs, stack, stack_values per frame) in the bits of `m` that a path's
// write mask `written` does not cover; returns what is left to carry further up.
inline void clear_written(LiveMask& m, const LiveMask& written) {
  for (std::size_t f = 0; f < max_call_frames; ++f) {
    m.regs[f] = static_cast<std::uint16_t>(m.regs[f] & ~written.regs[f]);
    m.stack[f] &= ~written.stack[f];
    m.stack_values[f] &= ~written.stack[f];
  }
}

// Applies the writes of `a` (run in frame `depth`) to `written`.
void record_writes(const InsnAccess& a, std::size_t depth, LiveMask& written);

// True when any programme instruction takes a function's address (lddw src 4).
bool has_callbacks(const std::vector<DecodedInsn>& program);

}  // namespace bpfvm::verifier
