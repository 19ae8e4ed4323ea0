#include "verifier/verifier_state.hpp"

#include <fmt/format.h>

namespace bpfvm::verifier {

std::uint32_t VerifierState::link(int reg) {
  RegValue& v = current().regs[static_cast<std::size_t>(reg)];
  if (v.id == 0) v.id = next_id++;
  return v.id;
}

void VerifierState::sync_id(std::uint32_t id, const ScalarValue& value) {
  if (id == 0) return;
  for (Frame& f : frames) {
    for (RegValue& r : f.regs)
      if (r.is_scalar() && r.id == id) r.value = value;
    f.stack.sync_id(id, value);
  }
}

namespace {

// Linux's check_ids: an id of `old` must always meet the same id of `other` and the other
// way round, so registers linked in `old` are linked in `other`.
class IdMap {
 public:
  bool check(const RegValue& old, const RegValue& other) {
    if (!old.is_scalar() || old.id == 0) return true;
    if (other.id == 0) return false;
    for (const auto& [a, b] : pairs_)
      if (a == old.id || b == other.id) return a == old.id && b == other.id;
    pairs_.emplace_back(old.id, other.id);
    return true;
  }

 private:
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs_;
};

}  // namespace

bool includes(const VerifierState& old, const VerifierState& other) {
  if (old.frames.size() != other.frames.size()) return false;
  // Registers of every frame first: they differ far more often than stacks and cost little.
  // Innermost frame first: the callers' frames rarely differ between states of one callee.
  for (std::size_t f = old.frames.size(); f-- > 0;) {
    const Frame& a = old.frames[f];
    const Frame& b = other.frames[f];
    if (a.callsite != b.callsite) return false;
    for (int r = 0; r < register_count; ++r)
      if (!includes(a.regs[static_cast<std::size_t>(r)], b.regs[static_cast<std::size_t>(r)]))
        return false;
  }
  for (std::size_t f = 0; f < old.frames.size(); ++f)
    if (!includes(old.frames[f].stack, other.frames[f].stack)) return false;
  IdMap ids;
  for (std::size_t f = 0; f < old.frames.size(); ++f) {
    const Frame& a = old.frames[f];
    const Frame& b = other.frames[f];
    for (int r = 0; r < register_count; ++r)
      if (!ids.check(a.regs[static_cast<std::size_t>(r)], b.regs[static_cast<std::size_t>(r)]))
        return false;
    for (int off = -StackState::size; off < 0; off += StackState::slot_size)
      if (a.stack.byte(off) == StackByte::spill &&
          !ids.check(a.stack.spilled(off), b.stack.spilled(off)))
        return false;
  }
  return true;
}

std::string to_string(const VerifierState& s) {
  std::string out;
  const Frame& f = s.current();
  if (s.depth() > 0) out = fmt::format("frame{}: ", s.depth());
  for (int r = 0; r < register_count; ++r) {
    const RegValue& v = f.regs[static_cast<std::size_t>(r)];
    if (!v.is_init()) continue;
    if (out.size() > 0 && out.back() != ' ') out += ' ';
    out += fmt::format("R{}={}", r, to_string(v));
  }
  const std::string stack = to_string(f.stack, s.depth());
  if (!stack.empty()) out += ' ' + stack;
  return out;
}

}  // namespace bpfvm::verifier
