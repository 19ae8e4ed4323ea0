#include "verifier/socket_access.hpp"

#include "verifier/map_access.hpp"
#include "verifier/references.hpp"

#include <fmt/format.h>

namespace bpfvm::verifier {
namespace {

// uapi struct bpf_sock (80 bytes) and struct bpf_tcp_sock, as <linux/bpf.h> lays them out.
namespace sock_off {
constexpr std::int64_t family = 4, type = 8, protocol = 12, priority_end = 24, src_ip4 = 24,
                       src_ip6 = 28, src_port = 44, dst_port = 48, dst_port_end = 50, dst_ip4 = 52,
                       dst_ip6 = 56, state = 72, rx_queue_mapping = 76, size = 80;
}
namespace tcp_sock_off {
constexpr std::int64_t bytes_received = 80, bytes_acked = 88, end = 112;  // icsk_retransmits
}

bool in(std::int64_t off, std::int64_t start, std::int64_t end) {
  return off >= start && off < end;
}

// bpf_ctx_narrow_access_ok: a power of two no wider than the field.
bool narrow_ok(std::int64_t size, std::int64_t field) {
  return size <= field && (size & (size - 1)) == 0;
}

// Linux's bpf_sock_is_valid_access (net/core/filter.c), reads only.
bool sock_field_ok(std::int64_t off, std::int64_t size) {
  if (off < 0 || off >= sock_off::size || off % size != 0) return false;
  if (off == sock_off::state || off == sock_off::family || off == sock_off::type ||
      off == sock_off::protocol || off == sock_off::src_port || off == sock_off::rx_queue_mapping ||
      in(off, sock_off::src_ip4, sock_off::src_ip4 + 4) ||
      in(off, sock_off::src_ip6, sock_off::src_ip6 + 16) ||
      in(off, sock_off::dst_ip4, sock_off::dst_ip4 + 4) ||
      in(off, sock_off::dst_ip6, sock_off::dst_ip6 + 16))
    return narrow_ok(size, 4);
  if (in(off, sock_off::dst_port, sock_off::dst_port + 4))
    return narrow_ok(size, size == 4 ? 4 : 2);
  if (in(off, sock_off::dst_port_end, sock_off::dst_ip4)) return false;
  return size == 4;
}

// bpf_sock_common_is_valid_access: a socket of any state (a request or timewait socket) has
// none of type, protocol, mark, priority.
bool sock_common_field_ok(std::int64_t off, std::int64_t size) {
  if (in(off, sock_off::type, sock_off::priority_end)) return false;
  return sock_field_ok(off, size);
}

// bpf_tcp_sock_is_valid_access.
bool tcp_sock_field_ok(std::int64_t off, std::int64_t size) {
  if (off < 0 || off >= tcp_sock_off::end || off % size != 0) return false;
  if (off == tcp_sock_off::bytes_received || off == tcp_sock_off::bytes_acked) return size == 8;
  return size == 4;
}

std::string expected(ArgKind kind) {
  switch (kind) {
    case ArgKind::socket:
    case ArgKind::socket_or_null: return "sock";
    case ArgKind::sock_common: return "sock_common, sock, tcp_sock, xdp_sock";
    default: return "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_";
  }
}

}  // namespace

bool is_socket_kind(RegKind kind) {
  return kind == RegKind::sock_common || kind == RegKind::socket || kind == RegKind::tcp_sock;
}

std::optional<std::string> check_socket_access(const RegValue& base, int reg, std::int64_t off,
                                               std::int64_t size, bool write) {
  if (write) return fmt::format("R{} cannot write into {}", reg, kind_name(base.kind));
  // Pointer arithmetic on sockets is refused, so the offset is the instruction's.
  if (!base.value.is_const() || base.value.const_value() != 0)
    return fmt::format("R{} invalid {} access: modified pointer", reg, kind_name(base.kind));
  const bool ok = base.kind == RegKind::sock_common ? sock_common_field_ok(off, size)
                  : base.kind == RegKind::socket    ? sock_field_ok(off, size)
                                                    : tcp_sock_field_ok(off, size);
  if (ok) return std::nullopt;
  return fmt::format("R{} invalid {} access off={} size={}", reg, kind_name(base.kind), off, size);
}

bool is_socket_arg_kind(ArgKind kind) {
  switch (kind) {
    case ArgKind::sock_common:
    case ArgKind::socket:
    case ArgKind::socket_or_null:
    case ArgKind::btf_id_sock_common:
    case ArgKind::release_sock_common: return true;
    default: return false;
  }
}

std::optional<std::string> check_socket_arg(ArgKind kind, int reg, const RegValue& v,
                                            CallMeta& meta) {
  const bool null = v.is_scalar() && v.value.is_const() && v.value.const_value() == 0;
  bool fits = false;
  switch (kind) {
    case ArgKind::socket: fits = v.kind == RegKind::socket; break;
    case ArgKind::socket_or_null:
      fits = v.kind == RegKind::socket || v.kind == RegKind::socket_or_null || null;
      break;
    default: fits = is_socket_kind(v.kind); break;  // sock_common and the BTF form
  }
  if (!fits) return fmt::format("R{} type={} expected={}", reg, kind_name(v.kind), expected(kind));
  if (v.ref_obj_id != 0) {
    // Linux's check_func_arg: one referenced argument per call (meta->ref_obj_id).
    if (meta.socket_ref != 0 && meta.socket_ref != v.ref_obj_id)
      return fmt::format("more than one arg with ref_obj_id R{} {} {}", reg, v.ref_obj_id,
                         meta.socket_ref);
    meta.socket_ref = v.ref_obj_id;
  }
  if (kind == ArgKind::release_sock_common) {
    if (v.ref_obj_id == 0)
      return fmt::format("R{} must be referenced when passed to release function", reg);
    meta.release_ref = v.ref_obj_id;
  }
  return std::nullopt;
}

bool is_socket_return_kind(ReturnKind kind) {
  switch (kind) {
    case ReturnKind::socket_or_null:
    case ReturnKind::acquired_socket_or_null:
    case ReturnKind::acquired_sock_common_or_null:
    case ReturnKind::tcp_sock_or_null: return true;
    default: return false;
  }
}

RegValue socket_return(ReturnKind kind, const CallMeta& meta, std::size_t pc, VerifierState& st) {
  RegValue out;
  out.value = ScalarValue::constant(0);
  switch (kind) {
    case ReturnKind::acquired_socket_or_null:
    case ReturnKind::acquired_sock_common_or_null:
      out.kind = kind == ReturnKind::acquired_socket_or_null ? RegKind::socket_or_null
                                                             : RegKind::sock_common_or_null;
      // Linux: id = ref_obj_id = acquire_reference; the null branch drops the reference.
      out.ref_obj_id = acquire_reference(st, pc);
      out.id = out.ref_obj_id;
      return out;
    default:
      out.kind = kind == ReturnKind::tcp_sock_or_null ? RegKind::tcp_sock_or_null
                                                      : RegKind::socket_or_null;
      // A cast keeps the argument's reference: releasing either releases both, and the null
      // branch of the cast drops nothing (its id is not the reference).
      out.ref_obj_id = meta.ptr_cast ? meta.socket_ref : 0;
      out.id = st.next_id++;
      return out;
  }
}

}  // namespace bpfvm::verifier
