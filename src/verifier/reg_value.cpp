#include "verifier/reg_value.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <vector>

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
  // Maps, records and functions: the same object (ids are compared by the state, which
  // maps them one to one, as Linux's check_ids).
  if (old.map != other.map || old.ref_obj_id != other.ref_obj_id || old.mem_size != other.mem_size)
    return false;
  return old.value.includes(other.value);
}

namespace {

// The kernel's print_reg_state form for the map and record pointers:
// "map_value(map=counts,ks=4,vs=8,off=4)", "map_value_or_null(id=1,map=counts,ks=4,vs=8)",
// "ringbuf_mem(ref_obj_id=2,sz=16)", "map_ptr(map=counts,ks=4,vs=8)", "func(insn=7)".
std::string pointer_to_string(const RegValue& v) {
  std::string name;
  switch (v.kind) {
    case RegKind::map_ptr: name = "map_ptr"; break;
    case RegKind::map_ptr_or_null: name = "map_ptr_or_null"; break;
    case RegKind::map_value: name = "map_value"; break;
    case RegKind::map_value_or_null: name = "map_value_or_null"; break;
    case RegKind::map_key: name = "map_key"; break;
    case RegKind::ringbuf_mem: name = "ringbuf_mem"; break;
    case RegKind::ringbuf_mem_or_null: name = "ringbuf_mem_or_null"; break;
    case RegKind::func: return fmt::format("func(insn={})", v.mem_size);
    case RegKind::sock_common: name = "sock_common"; break;
    case RegKind::sock_common_or_null: name = "sock_common_or_null"; break;
    case RegKind::socket: name = "sock"; break;
    case RegKind::socket_or_null: name = "sock_or_null"; break;
    case RegKind::tcp_sock: name = "tcp_sock"; break;
    case RegKind::tcp_sock_or_null: name = "tcp_sock_or_null"; break;
    default: return "?";
  }
  std::vector<std::string> parts;
  if (v.id != 0) parts.push_back(fmt::format("id={}", v.id));
  if (v.ref_obj_id != 0) parts.push_back(fmt::format("ref_obj_id={}", v.ref_obj_id));
  if (v.map != nullptr)
    parts.push_back(fmt::format("map={},ks={},vs={}", v.map->name.empty() ? "?" : v.map->name,
                                v.map->key_size, v.map->value_size));
  if (v.kind == RegKind::ringbuf_mem || v.kind == RegKind::ringbuf_mem_or_null)
    parts.push_back(fmt::format("sz={}", v.mem_size));
  if (!v.value.is_const())
    parts.push_back(fmt::format("off={}", to_string(v.value)));
  else if (v.value.const_value() != 0)
    parts.push_back(fmt::format("off={}", static_cast<std::int64_t>(v.value.const_value())));
  return fmt::format("{}({})", name, fmt::join(parts, ","));
}

}  // namespace

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
    default: return pointer_to_string(v);
  }
  return "?";
}

}  // namespace bpfvm::verifier
