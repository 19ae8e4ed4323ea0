#include "verifier/access_kinds.hpp"

namespace bpfvm::verifier {

std::optional<std::string> AccessKinds::record(std::size_t pc, const RegValue& base) {
  if (!base.is_pointer() || pc >= kinds_.size()) return std::nullopt;
  RegKind& seen = kinds_[pc];
  if (seen == RegKind::uninit) {
    seen = base.kind;
    return std::nullopt;
  }
  if (seen != base.kind && (seen == RegKind::ctx || base.kind == RegKind::ctx))
    return std::string("same insn cannot be used with different pointers");
  return std::nullopt;
}

}  // namespace bpfvm::verifier
