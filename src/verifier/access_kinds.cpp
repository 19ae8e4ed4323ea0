#include "verifier/access_kinds.hpp"

#include "verifier/socket_access.hpp"

namespace bpfvm::verifier {

std::optional<std::string> AccessKinds::record(std::size_t pc, const RegValue& base) {
  if (!base.is_pointer() || pc >= kinds_.size()) return std::nullopt;
  RegKind& seen = kinds_[pc];
  if (seen == RegKind::uninit) {
    seen = base.kind;
    return std::nullopt;
  }
  // Linux's reg_type_mismatch: the context and sockets are rewritten (convert_ctx_accesses),
  // so they may not share an instruction with another kind.
  auto rewritten = [](RegKind k) { return k == RegKind::ctx || is_socket_kind(k); };
  if (seen != base.kind && (rewritten(seen) || rewritten(base.kind)))
    return std::string("same insn cannot be used with different pointers");
  return std::nullopt;
}

}  // namespace bpfvm::verifier
