#include "verifier/verifier_state.hpp"

#include <fmt/format.h>

namespace bpfvm::verifier {

bool includes(const VerifierState& old, const VerifierState& other) {
  if (old.frames.size() != other.frames.size()) return false;
  // Registers of every frame first: they differ far more often than stacks and cost little.
  for (std::size_t f = 0; f < old.frames.size(); ++f) {
    const Frame& a = old.frames[f];
    const Frame& b = other.frames[f];
    if (a.callsite != b.callsite) return false;
    for (int r = 0; r < register_count; ++r)
      if (!includes(a.regs[static_cast<std::size_t>(r)], b.regs[static_cast<std::size_t>(r)]))
        return false;
  }
  for (std::size_t f = 0; f < old.frames.size(); ++f)
    if (!includes(old.frames[f].stack, other.frames[f].stack)) return false;
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
