#include "verifier/map_access.hpp"

#include "verifier/scalar_branch.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace bpfvm::verifier {
std::string_view kind_name(RegKind k) {
  switch (k) {
    case RegKind::uninit: return "?";
    case RegKind::scalar: return "scalar";
    case RegKind::stack: return "fp";
    case RegKind::ctx: return "ctx";
    case RegKind::map_ptr: return "map_ptr";
    case RegKind::map_value: return "map_value";
    case RegKind::map_value_or_null: return "map_value_or_null";
    case RegKind::map_key: return "map_key";
    case RegKind::ringbuf_mem: return "ringbuf_mem";
    case RegKind::ringbuf_mem_or_null: return "ringbuf_mem_or_null";
    case RegKind::func: return "func";
    case RegKind::map_ptr_or_null: return "map_ptr_or_null";
    case RegKind::packet: return "pkt";
    case RegKind::packet_end: return "pkt_end";
    case RegKind::packet_meta: return "pkt_meta";
    case RegKind::sock_common: return "sock_common";
    case RegKind::sock_common_or_null: return "sock_common_or_null";
    case RegKind::socket: return "sock";
    case RegKind::socket_or_null: return "sock_or_null";
    case RegKind::tcp_sock: return "tcp_sock";
    case RegKind::tcp_sock_or_null: return "tcp_sock_or_null";
  }
  return "?";
}

namespace {

// Linux's map_direct_value_addr exists for array maps (not per-CPU ones) of one entry:
// global data (.data, .rodata, .bss) is such a map.
bool has_direct_value(const MapSpec& m) { return m.type == MapType::array && m.max_entries == 1; }

// The smallest offset the access may start at, for messages (wrapping as the machine would).
std::int64_t wrapped_offset(const ScalarValue& v, std::int64_t off) {
  const std::uint64_t base = v.is_const() ? v.const_value() : static_cast<std::uint64_t>(v.smin);
  return static_cast<std::int64_t>(base + static_cast<std::uint64_t>(off));
}

// Linux's check_mem_region_access: [smin + off, umax + off + size) inside [0, limit).
std::optional<std::string> region(const RegValue& base, int reg, std::int64_t off,
                                  std::int64_t size, std::int64_t limit, std::string_view what,
                                  std::string_view limit_name) {
  const ScalarValue& v = base.value;
  // Offsets may be anything a pointer was moved by: compute in 128 bits, never overflowing.
  using Wide = __int128;
  if (v.is_const()) {
    const Wide start = Wide{static_cast<std::int64_t>(v.const_value())} + off;
    if (start < 0 || start + size > limit)
      return fmt::format("invalid access to {}, {}={} off={} size={}", what, limit_name, limit,
                         wrapped_offset(v, off), size);
    return std::nullopt;
  }
  const Wide smin = Wide{v.smin} + off;
  if (v.smin < 0 && (v.smin == std::numeric_limits<std::int64_t>::min() || smin < 0))
    return fmt::format(
        "R{} min value is negative, either use unsigned index or do a if (index >=0) check.", reg);
  if (v.umax >= (std::uint64_t{1} << 29))
    return fmt::format("R{} unbounded memory access, make sure to bounds check any such access",
                       reg);
  if (smin < 0 || smin + size > limit)
    return fmt::format("R{} min value is outside of the allowed memory range", reg);
  if (Wide{v.umax} + off + size > limit)
    return fmt::format("R{} max value is outside of the allowed memory range", reg);
  return std::nullopt;
}

}  // namespace

bool may_be_null(RegKind k) {
  return k == RegKind::map_value_or_null || k == RegKind::ringbuf_mem_or_null ||
         k == RegKind::map_ptr_or_null || k == RegKind::sock_common_or_null ||
         k == RegKind::socket_or_null || k == RegKind::tcp_sock_or_null;
}

std::variant<RegValue, std::string> lddw_pointer(const VerifyOptions& options, const DecodedInsn& d,
                                                 std::size_t pc) {
  const std::uint8_t src = d.insn.src;
  const std::int32_t imm = d.insn.imm;
  const auto next_imm = static_cast<std::uint32_t>(d.imm64 >> 32);
  RegValue out;
  switch (src) {
    case lddw_src::func:
      if (next_imm != 0) return std::string("func pseudo lddw takes imm 0 in its second slot");
      // cfg.cpp made the target a subprogram and checked it is in the program.
      out.kind = RegKind::func;
      out.value = ScalarValue::constant(0);
      out.mem_size = static_cast<std::uint32_t>(static_cast<std::int64_t>(pc) + 1 + imm);
      return out;
    case lddw_src::map_fd:
    case lddw_src::map_idx:
    case lddw_src::map_value:
    case lddw_src::map_idx_value: break;
    case lddw_src::btf_id:
      return std::string("lddw with pseudo source 3 (BPF_PSEUDO_BTF_ID) is not supported");
    default: return fmt::format("unrecognized bpf_ld_imm64 insn (src {})", src);
  }
  if (imm < 0 || static_cast<std::size_t>(imm) >= options.maps.size())
    return fmt::format("map index {} in lddw is out of range ({} maps given)", imm,
                       options.maps.size());
  const MapSpec& map = options.maps[static_cast<std::size_t>(imm)];
  out.map = &map;
  out.value = ScalarValue::constant(0);
  if (src == lddw_src::map_fd || src == lddw_src::map_idx) {
    if (next_imm != 0) return std::string("unrecognized bpf_ld_imm64 insn (map with an offset)");
    out.kind = RegKind::map_ptr;
    return out;
  }
  if (!has_direct_value(map))
    return fmt::format("map {} ({}) has no direct value access: only single-entry arrays do", imm,
                       map_type_name(map.type));
  if (next_imm >= map.value_size)
    return fmt::format("invalid access to map value pointer, value_size={} off={}", map.value_size,
                       next_imm);
  out.kind = RegKind::map_value;
  out.value = ScalarValue::constant(next_imm);
  return out;
}

std::optional<std::string> check_object_access(const RegValue& base, int reg, std::int64_t off,
                                               std::int64_t size, bool read, bool write) {
  switch (base.kind) {
    case RegKind::map_value: {
      const MapSpec& m = *base.map;
      // Linux's check_map_access_type: the program's side of the map's flags.
      const std::int64_t at = wrapped_offset(base.value, off);
      if (write && (m.flags & map_flag::rdonly_prog) != 0)
        return fmt::format("write into map forbidden, value_size={} off={} size={}", m.value_size,
                           at, size);
      if (read && (m.flags & map_flag::wronly_prog) != 0)
        return fmt::format("read from map forbidden, value_size={} off={} size={}", m.value_size,
                           at, size);
      return region(base, reg, off, size, m.value_size, "map value", "value_size");
    }
    case RegKind::map_key:
      if (write) return fmt::format("write to change key R{} not allowed", reg);
      return region(base, reg, off, size, base.map->key_size, "map key", "key_size");
    case RegKind::ringbuf_mem:
      return region(base, reg, off, size, base.mem_size, "memory", "mem_size");
    default: return fmt::format("R{} invalid mem access '{}'", reg, kind_name(base.kind));
  }
}

std::optional<std::string> check_object_store(const RegValue& base, const RegValue& value,
                                              int value_reg) {
  if (!value.is_pointer()) return std::nullopt;
  return fmt::format("R{} leaks addr into {}", value_reg,
                     base.kind == RegKind::ringbuf_mem ? "mem" : "map");
}

std::optional<std::string> check_pointer_arithmetic(const RegValue& p, int reg) {
  if (may_be_null(p.kind))
    return fmt::format("R{} pointer arithmetic on {} prohibited, null-check it first", reg,
                       kind_name(p.kind));
  if (p.kind == RegKind::map_ptr || p.kind == RegKind::func || p.kind == RegKind::sock_common ||
      p.kind == RegKind::socket || p.kind == RegKind::tcp_sock)
    return fmt::format("R{} pointer arithmetic on {} prohibited", reg, kind_name(p.kind));
  return std::nullopt;
}

std::optional<NullCheck> null_check(const DecodedInsn& d, const RegValue& dst,
                                    const RegValue& src) {
  const auto row = jump_row(d.row->op);
  if (!row || row->bits != 64 || (row->op != CmpOp::eq && row->op != CmpOp::ne)) return {};
  auto is_zero = [](const RegValue& v) {
    return v.is_scalar() && v.value.is_const() && v.value.const_value() == 0;
  };
  const RegValue* p = nullptr;
  if (may_be_null(dst.kind) && is_zero(src)) p = &dst;
  if (may_be_null(src.kind) && is_zero(dst)) p = &src;
  if (p == nullptr || p->id == 0) return {};
  return NullCheck{p->id, row->op == CmpOp::eq};
}

void mark_ptr_or_null(VerifierState& st, std::uint32_t id, bool is_null) {
  std::uint32_t ref = 0;
  auto mark = [&](RegValue& r) {
    if (!may_be_null(r.kind) || r.id != id) return;
    // Only the pointer that acquired the reference drops it when null (Linux:
    // mark_ptr_or_null_regs, ref_obj_id == id); a cast of it (bpf_tcp_sock) has its own id.
    if (r.ref_obj_id != 0 && r.ref_obj_id == r.id) ref = r.ref_obj_id;
    if (is_null) {
      r = RegValue::scalar(ScalarValue::constant(0));
      return;
    }
    switch (r.kind) {
      case RegKind::map_value_or_null: r.kind = RegKind::map_value; break;
      case RegKind::ringbuf_mem_or_null: r.kind = RegKind::ringbuf_mem; break;
      case RegKind::sock_common_or_null: r.kind = RegKind::sock_common; break;
      case RegKind::socket_or_null: r.kind = RegKind::socket; break;
      case RegKind::tcp_sock_or_null: r.kind = RegKind::tcp_sock; break;
      default: r.kind = RegKind::map_ptr; break;
    }
    r.id = 0;  // Linux keeps it only for spin locks
  };
  for (Frame& f : st.frames) {
    for (RegValue& r : f.regs) mark(r);
    f.stack.for_each_spill(mark);
  }
  // A null record holds nothing to release (Linux: release_reference_state on the null edge).
  if (is_null && ref != 0) std::erase_if(st.refs, [&](const Reference& r) { return r.id == ref; });
}

}  // namespace bpfvm::verifier
