// One call frame's 512-byte stack as the verifier sees it, byte by byte (Linux:
// struct bpf_stack_state, slot_type[] per byte and a spilled register per 8-byte slot).
//
//   invalid  never written: reading it is an error (STACK_INVALID)
//   spill    part of an aligned 8-byte slot holding a whole register (STACK_SPILL): a fill
//            of the slot gets the register back with its precision, pointers included
//   misc     written with some scalar the verifier does not track (STACK_MISC)
//   zero     known to hold 0 (STACK_ZERO)
//
// Offsets are relative to the frame pointer, in [-512, 0). Callers check bounds first.
#pragma once

#include "verifier/reg_value.hpp"

#include <bpfvm/insn.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <variant>

namespace bpfvm::verifier {

enum class StackByte : std::uint8_t { invalid, spill, misc, zero };

class StackState {
 public:
  static constexpr int size = static_cast<int>(stack_frame_size);
  static constexpr int slot_size = 8;

  // A store of `size` bytes at `offset` of register value `value` (for a store of an
  // immediate, a scalar constant). An aligned 8-byte store spills the register; a smaller
  // one records zero or misc bytes. Errors: a pointer stored in fewer than 8 bytes (Linux:
  // "invalid size of register spill").
  std::variant<std::monostate, std::string> write(int offset, int size, const RegValue& value);

  // A load of `size` bytes at `offset`: the register a whole-slot fill gets back, 0 for
  // zero bytes, otherwise an unknown scalar of that width. Errors: a byte never written
  // ("invalid read from stack"), part of a spilled pointer ("invalid size of register fill").
  std::variant<RegValue, std::string> read(int offset, int size, bool sign_extend) const;

  // A load of `size` bytes starting anywhere in [lowest, highest]: every byte it may touch
  // must be written and none may be part of a spilled pointer; the result is an unknown
  // scalar of that width, or 0 when every byte is zero.
  std::variant<RegValue, std::string> read_variable(int lowest, int highest, int size,
                                                    bool sign_extend) const;

  // Every byte in [offset, offset + size) is written (for atomics and variable-offset reads).
  bool initialised(int offset, int size) const;
  // The bytes become misc, written or not (atomics and helpers change memory the verifier
  // does not follow).
  void clobber(int offset, int size);

  // Every whole spilled scalar with this id gets `value` (a branch refined a copy of it).
  void sync_id(std::uint32_t id, const ScalarValue& value);
  // Applies `f` to every spilled register, which it may change (null checks, released
  // references, packet pointers retyped after a helper moved the packet, ranges proven by a
  // comparison: wherever the pointers were spilled).
  template <class F>
  void for_each_spill(F&& f) {
    for (std::size_t slot = 0; slot < spills_.size(); ++slot)
      if (bytes_[slot * slot_size] == StackByte::spill) f(spills_[slot]);
  }

  StackByte byte(int offset) const { return bytes_[index(offset)]; }
  const RegValue& spilled(int offset) const { return spills_[index(offset) / slot_size]; }

  // How far below the frame pointer the program wrote (for statistics).
  int depth() const { return depth_; }

  friend bool operator==(const StackState&, const StackState&) = default;

 private:
  static int index(int offset) { return size + offset; }
  bool zero_byte(int offset) const;
  // Leaves a slot's spill as misc bytes before part of it is overwritten.
  void scrub_slot(int slot);

  std::array<StackByte, stack_frame_size> bytes_{};
  std::array<RegValue, stack_frame_size / slot_size> spills_{};
  int depth_ = 0;  // bytes below the frame pointer down to the lowest one written
};

// Linux's stacksafe: every byte `old` relied on holds, in `other`, something included by what
// `old` had. Only the slots set in `live` (bit s: [-512 + 8s, -504 + 8s), liveness.hpp) and
// written in `old` (its depth) are compared: bytes `old` never wrote, or no path reads before
// writing, constrain nothing.
// Slots in `live` but not in `values` are read only as helper memory (liveness.hpp): there
// a written byte must meet a written byte and a spilled pointer the same pointer, but
// scalars need not be included in each other.
// A spilled scalar or zero bytes of `old` in a slot not in `precise` include any scalar bytes
// (spilled, misc or zero; precision.hpp), as misc bytes do.
bool includes(const StackState& old, const StackState& other,
              std::uint64_t live = ~std::uint64_t{0}, std::uint64_t values = ~std::uint64_t{0},
              std::uint64_t precise = ~std::uint64_t{0});

// The first slot `s` may have written (slots below it are all invalid).
inline int first_written_slot(const StackState& s) {
  return (StackState::size - s.depth()) / StackState::slot_size;
}

// "fp-8=spill(scalar(...)) fp-16=mmmmmmmm" for the written slots, as the kernel log.
std::string to_string(const StackState& s, int frame);

}  // namespace bpfvm::verifier
