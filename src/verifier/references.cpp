#include "verifier/references.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace bpfvm::verifier {

std::uint32_t acquire_reference(VerifierState& st, std::size_t insn) {
  const std::uint32_t id = st.next_id++;
  st.refs.push_back({id, insn, st.depth()});
  return id;
}

std::optional<std::string> release_reference(VerifierState& st, std::uint32_t id) {
  auto it =
      std::find_if(st.refs.begin(), st.refs.end(), [&](const Reference& r) { return r.id == id; });
  if (it == st.refs.end()) return fmt::format("reference id={} is not held", id);
  st.refs.erase(it);
  auto drop = [&](RegValue& r) {
    if (r.ref_obj_id == id) r = RegValue::scalar(ScalarValue::unknown());
  };
  for (Frame& f : st.frames) {
    for (RegValue& r : f.regs) drop(r);
    f.stack.for_each_spill(drop);
  }
  return std::nullopt;
}

std::optional<std::string> check_reference_leak(const VerifierState& st, bool callback_exit) {
  for (const Reference& r : st.refs)
    if (!callback_exit || r.frame >= st.depth())
      return fmt::format("Unreleased reference id={} alloc_insn={}", r.id, r.insn);
  return std::nullopt;
}

}  // namespace bpfvm::verifier
