// The abstract machine state at one instruction (Linux: struct bpf_verifier_state): the
// chain of call frames, each with its registers and its stack.
#pragma once

#include "verifier/reg_value.hpp"
#include "verifier/stack_state.hpp"

#include <bpfvm/insn.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace bpfvm::verifier {

struct Frame {
  std::array<RegValue, register_count> regs{};
  StackState stack{};
  // The `call local` that created this frame (its exit returns to callsite + 1); unused in
  // the entry frame.
  std::size_t callsite = 0;
  // A callback's frame (callbacks.hpp): the helper id whose call at `callsite` runs it; its
  // exit goes back to that call, which may run it again. -1 for a local call's frame.
  std::int32_t callback_of = -1;

  friend bool operator==(const Frame&, const Frame&) = default;
};

// A reference the program holds and must release on every path (Linux: struct
// bpf_reference_state): a ring buffer record until ringbuf_submit or ringbuf_discard.
struct Reference {
  std::uint32_t id = 0;
  std::size_t insn = 0;    // the call that acquired it ("alloc_insn")
  std::uint8_t frame = 0;  // the frame that acquired it (a callback must release its own)
  friend bool operator==(const Reference&, const Reference&) = default;
};

struct VerifierState {
  std::vector<Frame> frames;
  // Unreleased references (references.hpp); pruning requires the same ones.
  std::vector<Reference> refs;
  // The next scalar id to hand out (ids are unique along a path; not part of equality).
  std::uint32_t next_id = 1;

  Frame& current() { return frames.back(); }
  const Frame& current() const { return frames.back(); }
  std::uint8_t depth() const { return static_cast<std::uint8_t>(frames.size() - 1); }

  // Gives `reg` of the current frame an id if it has none (before copying it), and returns it.
  std::uint32_t link(int reg);
  // Every scalar with `id` (registers of every frame, spilled slots) becomes `value`.
  void sync_id(std::uint32_t id, const ScalarValue& value);

  friend bool operator==(const VerifierState& a, const VerifierState& b) {
    return a.frames == b.frames && a.refs == b.refs;
  }
};

// What may still be read, per frame of a state at some instruction (liveness.hpp): bit r of
// regs[f] for register r of frame f, bit s of stack[f] for its stack slot s.
struct LiveMask {
  std::array<std::uint16_t, max_call_frames> regs{};
  std::array<std::uint64_t, max_call_frames> stack{};
  // The slots of `stack` whose values matter (the others are read only as helper memory).
  std::array<std::uint64_t, max_call_frames> stack_values{};
  static LiveMask all() {
    LiveMask m;
    m.regs.fill(0x7ff);
    m.stack.fill(~std::uint64_t{0});
    m.stack_values.fill(~std::uint64_t{0});
    return m;
  }
};

// Registers and stack slots per frame (precision.hpp): bit r of regs[f] for register r of
// frame f, bit s of slots[f] for its stack slot s (liveness.hpp numbering). In a cached
// state, the scalars marked precise (Linux: reg->precise of the registers and spilled
// registers).
struct Precision {
  std::array<std::uint16_t, max_call_frames> regs{};
  std::array<std::uint64_t, max_call_frames> slots{};

  bool empty() const {
    for (std::size_t f = 0; f < max_call_frames; ++f)
      if (regs[f] != 0 || slots[f] != 0) return false;
    return true;
  }
  static Precision all() {
    Precision p;
    p.regs.fill(0x7ff);
    p.slots.fill(~std::uint64_t{0});
    return p;
  }
};

// Everything `other` stands for is in `old`: same call chain, every live register and stack
// byte included, and scalars linked by an id in `old` linked in `other` too, one to one
// (Linux: states_equal with regsafe, stacksafe and check_ids; liveness from `live`, a static
// superset of Linux's read marks). A scalar of `old` that `precise` does not mark includes
// any scalar (Linux: regsafe for !rold->precise); null means every scalar is precise. Ids
// are checked whatever the precision (Linux skips imprecise ones; this keeps linked scalars
// linked without Linux's linked-register backtracking).
bool includes(const VerifierState& old, const VerifierState& other,
              const LiveMask& live = LiveMask::all(), const Precision* precise = nullptr);

// "R0=scalar(...) R1=ctx() R10=fp0 fp-8=..." for the current frame, as the kernel's log.
std::string to_string(const VerifierState& s);

}  // namespace bpfvm::verifier
