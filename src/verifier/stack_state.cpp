#include "verifier/stack_state.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace bpfvm::verifier {

void StackState::scrub_slot(int slot) {
  for (int i = 0; i < slot_size; ++i) {
    auto& b = bytes_[static_cast<std::size_t>(slot * slot_size + i)];
    if (b == StackByte::spill) b = StackByte::misc;
  }
  spills_[static_cast<std::size_t>(slot)] = RegValue{};
}

std::variant<std::monostate, std::string> StackState::write(int offset, int size,
                                                            const RegValue& value) {
  const int first = index(offset);
  depth_ = std::max(depth_, -offset);
  if (size == slot_size && first % slot_size == 0) {
    const auto slot = static_cast<std::size_t>(first / slot_size);
    for (int i = 0; i < slot_size; ++i)
      bytes_[static_cast<std::size_t>(first + i)] = StackByte::spill;
    spills_[slot] = value;
    return std::monostate{};
  }
  if (value.is_pointer()) return std::string("invalid size of register spill");
  const bool zero = value.is_scalar() && value.value.is_const() && value.value.const_value() == 0;
  for (int i = first; i < first + size; ++i) {
    if (bytes_[static_cast<std::size_t>(i)] == StackByte::spill) scrub_slot(i / slot_size);
  }
  for (int i = first; i < first + size; ++i)
    bytes_[static_cast<std::size_t>(i)] = zero ? StackByte::zero : StackByte::misc;
  return std::monostate{};
}

// A byte known to be 0: stored as zero, or part of a spilled constant 0.
bool StackState::zero_byte(int offset) const {
  const StackByte b = byte(offset);
  if (b == StackByte::zero) return true;
  if (b != StackByte::spill) return false;
  const RegValue& v = spilled(offset);
  return v.is_scalar() && v.value.is_const() && v.value.const_value() == 0;
}

std::variant<RegValue, std::string> StackState::read(int offset, int size, bool sign_extend) const {
  const int first = index(offset);
  bool all_zero = true;
  bool any_spill = false;
  for (int i = first; i < first + size; ++i) {
    const StackByte b = bytes_[static_cast<std::size_t>(i)];
    if (b == StackByte::invalid)
      return fmt::format("invalid read from stack off={} size={} (byte fp{} never written)", offset,
                         size, i - StackState::size);
    if (!zero_byte(i - StackState::size)) all_zero = false;
    if (b == StackByte::spill) any_spill = true;
  }
  if (all_zero) return RegValue::scalar(ScalarValue::constant(0));
  if (size == slot_size && first % slot_size == 0 && any_spill) {
    bool whole = true;
    for (int i = first; i < first + size; ++i)
      whole = whole && bytes_[static_cast<std::size_t>(i)] == StackByte::spill;
    if (whole) return spills_[static_cast<std::size_t>(first / slot_size)];
  }
  if (any_spill) {
    for (int i = first; i < first + size; ++i) {
      if (bytes_[static_cast<std::size_t>(i)] == StackByte::spill &&
          spills_[static_cast<std::size_t>(i / slot_size)].is_pointer())
        return fmt::format("invalid size of register fill: {} bytes at off={} of spilled {}", size,
                           offset, to_string(spills_[static_cast<std::size_t>(i / slot_size)]));
    }
  }
  return RegValue::scalar(ScalarValue::loaded(size, sign_extend));
}

std::variant<RegValue, std::string> StackState::read_variable(int lowest, int highest, int size,
                                                              bool sign_extend) const {
  bool all_zero = true;
  for (int off = lowest; off < highest + size; ++off) {
    const StackByte b = byte(off);
    if (b == StackByte::invalid)
      return fmt::format(
          "invalid variable-offset read from stack off=[{}, {}] size={} (byte "
          "fp{} never written)",
          lowest, highest, size, off);
    if (b == StackByte::spill && spilled(off).is_pointer())
      return fmt::format(
          "variable-offset read from stack off=[{}, {}] size={} may read part of "
          "spilled {} at fp{}",
          lowest, highest, size, to_string(spilled(off)), off);
    if (!zero_byte(off)) all_zero = false;
  }
  if (all_zero) return RegValue::scalar(ScalarValue::constant(0));
  return RegValue::scalar(ScalarValue::loaded(size, sign_extend));
}

void StackState::sync_id(std::uint32_t id, const ScalarValue& value) {
  for (auto& spill : spills_)
    if (spill.is_scalar() && spill.id == id) spill.value = value;
}

bool StackState::initialised(int offset, int size) const {
  for (int i = index(offset); i < index(offset) + size; ++i)
    if (bytes_[static_cast<std::size_t>(i)] == StackByte::invalid) return false;
  return true;
}

void StackState::clobber(int offset, int size) {
  const int first = index(offset);
  depth_ = std::max(depth_, -offset);
  for (int i = first; i < first + size; ++i)
    if (bytes_[static_cast<std::size_t>(i)] == StackByte::spill) scrub_slot(i / slot_size);
  for (int i = first; i < first + size; ++i) bytes_[static_cast<std::size_t>(i)] = StackByte::misc;
}

bool includes(const StackState& old, const StackState& other, std::uint64_t live,
              std::uint64_t values, std::uint64_t precise) {
  constexpr int slots = StackState::size / StackState::slot_size;
  for (int slot = first_written_slot(old); slot < slots; ++slot) {
    if (((live >> slot) & 1) == 0) continue;
    const int base = -StackState::size + slot * StackState::slot_size;
    if (((values >> slot) & 1) == 0) {
      // Helper memory only: written bytes stay written, spilled pointers stay the same.
      const bool old_ptr = old.byte(base) == StackByte::spill && old.spilled(base).is_pointer();
      const bool new_ptr = other.byte(base) == StackByte::spill && other.spilled(base).is_pointer();
      if (old_ptr || new_ptr) {
        if (!old_ptr || !new_ptr || !includes(old.spilled(base), other.spilled(base))) return false;
        continue;
      }
      for (int off = base; off < base + StackState::slot_size; ++off)
        if (old.byte(off) != StackByte::invalid && other.byte(off) == StackByte::invalid)
          return false;
      continue;
    }
    // An imprecise slot (precision.hpp: nothing below relied on the value read from it): its
    // spilled scalar or zero bytes stand for any scalar, like misc bytes.
    const bool imprecise = ((precise >> slot) & 1) == 0;
    for (int off = base; off < base + StackState::slot_size; ++off) {
      StackByte o = old.byte(off);
      const StackByte n = other.byte(off);
      if (imprecise &&
          (o == StackByte::zero || (o == StackByte::spill && old.spilled(off).is_scalar())))
        o = StackByte::misc;
      switch (o) {
        case StackByte::invalid: break;  // the safe path never read it before writing it
        case StackByte::misc:
          // A read of misc bytes is an unknown scalar: anything but a pointer is included.
          if (n == StackByte::invalid) return false;
          if (n == StackByte::spill && other.spilled(off).is_pointer()) return false;
          break;
        case StackByte::zero:
          if (n != StackByte::zero) return false;
          break;
        case StackByte::spill:
          if (n != StackByte::spill) return false;
          if (off != base) break;
          if (((precise >> slot) & 1) == 0 && old.spilled(off).is_scalar()) {
            if (!other.spilled(off).is_scalar()) return false;
            break;
          }
          if (!includes(old.spilled(off), other.spilled(off))) return false;
          break;
      }
    }
  }
  return true;
}

std::string to_string(const StackState& s, int frame) {
  std::string out;
  const std::string fp = frame == 0 ? "fp" : fmt::format("fp[{}]", frame);
  for (int off = -StackState::size; off < 0; off += StackState::slot_size) {
    std::string slot;
    bool any = false;
    for (int i = 0; i < StackState::slot_size; ++i) {
      const StackByte b = s.byte(off + i);
      any = any || b != StackByte::invalid;
      slot += "?smz"[static_cast<int>(b)];
    }
    if (!any) continue;
    if (!out.empty()) out += ' ';
    if (slot == "ssssssss")
      out += fmt::format("{}{}={}", fp, off, to_string(s.spilled(off)));
    else
      out += fmt::format("{}{}={}", fp, off, slot);
  }
  return out;
}

}  // namespace bpfvm::verifier
