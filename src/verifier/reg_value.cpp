#include "verifier/reg_value.hpp"

#include <fmt/format.h>

namespace bpfvm::verifier {

bool includes(const RegValue& old, const RegValue& other) {
  if (old.kind == RegKind::uninit) return true;
  if (old.kind != other.kind) return false;
  if (old.kind == RegKind::stack && old.frame != other.frame) return false;
  // Linux's regsafe for packet pointers: the same constant offset, no more proven range in
  // `old` than in `other`, the variable part included (ids: verifier_state.cpp).
  if (old.kind == RegKind::packet || old.kind == RegKind::packet_meta)
    if (old.fixed_off != other.fixed_off || old.range > other.range ||
        // at/beyond the end (negative) decided comparisons: only the same mark includes.
        ((old.range < 0 || other.range < 0) && old.range != other.range))
      return false;
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
    case RegKind::packet_end: return "pkt_end";
    case RegKind::packet:
    case RegKind::packet_meta: {
      // The kernel's "pkt(id=0,off=14,r=34)", with the variable part when there is one.
      const char* name = v.kind == RegKind::packet ? "pkt" : "pkt_meta";
      std::string out = fmt::format("{}(id={},off={},r={}", name, v.id, v.fixed_off, v.range);
      if (!(v.value.is_const() && v.value.const_value() == 0))
        out += fmt::format(",var={}", to_string(v.value));
      return out + ")";
    }
  }
  return "?";
}

}  // namespace bpfvm::verifier
