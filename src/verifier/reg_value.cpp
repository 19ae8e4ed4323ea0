#include "verifier/reg_value.hpp"

#include <fmt/format.h>

namespace bpfvm::verifier {

bool includes(const RegValue& old, const RegValue& other) {
  if (old.kind == RegKind::uninit) return true;
  if (old.kind != other.kind) return false;
  if (old.kind == RegKind::stack && old.frame != other.frame) return false;
  return old.value.includes(other.value);
}

std::string to_string(const RegValue& v) {
  switch (v.kind) {
    case RegKind::uninit: return "?";
    case RegKind::scalar: return to_string(v.value);
    case RegKind::stack: {
      const std::string base = v.frame == 0 ? "fp" : fmt::format("fp[{}]", v.frame);
      if (v.value.is_const()) {
        const auto off = static_cast<std::int64_t>(v.value.const_value());
        return off == 0 ? base + "0" : fmt::format("{}{:+}", base, off);
      }
      return fmt::format("{}(off={})", base, to_string(v.value));
    }
    case RegKind::ctx:
      return v.value.is_const() && v.value.const_value() == 0
                 ? "ctx()"
                 : fmt::format("ctx(off={})", to_string(v.value));
  }
  return "?";
}

}  // namespace bpfvm::verifier
