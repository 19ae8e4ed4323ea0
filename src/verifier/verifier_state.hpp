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

  friend bool operator==(const Frame&, const Frame&) = default;
};

struct VerifierState {
  std::vector<Frame> frames;
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
    return a.frames == b.frames;
  }
};

// Everything `other` stands for is in `old`: same call chain, every register and stack byte
// included, and scalars linked by an id in `old` linked in `other` too, one to one (Linux:
// states_equal with regsafe, stacksafe and check_ids, without liveness marks, so a little
// less pruning than Linux but never unsound).
bool includes(const VerifierState& old, const VerifierState& other);

// "R0=scalar(...) R1=ctx() R10=fp0 fp-8=..." for the current frame, as the kernel's log.
std::string to_string(const VerifierState& s);

}  // namespace bpfvm::verifier
