// Context access rules for the verifier, per program type. xdp, socket_filter and sched_cls
// use plan_access (the rewriter's rules, Linux's xdp_is_valid_access,
// sk_filter_is_valid_access, tc_cls_act_is_valid_access); the other types follow Linux's
// cg_skb_is_valid_access, sk_skb_is_valid_access, lwt_is_valid_access (all ending in
// bpf_skb_is_valid_access), kprobe_prog_is_valid_access, tp_prog_is_valid_access,
// raw_tp_prog_is_valid_access, pe_prog_is_valid_access, sock_ops_is_valid_access and
// sock_addr_is_valid_access.
#include "progtypes/context_rules.hpp"

#include "progtypes/context_layout.hpp"
#include "progtypes/kernel_context.hpp"

#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>

namespace bpfvm::progtypes {
namespace {

using T = ProgramType;

// Linux's bpf_ctx_narrow_access_ok for a field of `width` bytes (the caller checked
// off % size == 0): 1, 2, 4 (and 8 for u64 fields) bytes within it.
bool narrow_ok(int size, int width) { return size == 1 || size == 2 || size == 4 || size == width; }

bool in(std::int32_t off, std::int32_t start, std::int32_t bytes) {
  return off >= start && off < start + bytes;
}

std::string refused(std::string_view why) { return std::string(why); }

// Sizes of the structs the tracing and socket types see (uapi/linux/bpf.h,
// bpf_perf_event.h, arch/x86/include/uapi/asm/ptrace.h; offsets checked in the tests
// against the system headers where they have them).
constexpr std::int32_t pt_regs_size = 168;        // struct pt_regs, x86-64
constexpr std::int32_t perf_trace_size = 8192;    // PERF_MAX_TRACE_SIZE (2048 before 6.6)
constexpr std::int32_t raw_tp_args = 12 * 8;      // MAX_BPF_FUNC_ARGS u64 arguments
constexpr std::int32_t perf_event_size = 184;     // struct bpf_perf_event_data
constexpr std::int32_t perf_sample_period = 168;  // its u64 sample_period
constexpr std::int32_t perf_addr = 176;           // its u64 addr
constexpr std::int32_t sock_ops_size = 224;       // struct bpf_sock_ops (Linux 6.2+)
constexpr std::int32_t sock_addr_size = 72;       // struct bpf_sock_addr

// The part of bpf_skb_is_valid_access every __sk_buff type shares, after the type's own
// refusals. Packet pointers are typed by the caller.
ContextRule skb_common(std::int32_t off, int size, bool write) {
  if (in(off, skb_off::cb, 20)) {
    if (off + size > skb_off::cb + 20) return refused("access past cb[4]");
    return ContextValue::scalar;
  }
  if (in(off, skb_off::data, 4) || in(off, skb_off::data_end, 4) ||
      in(off, skb_off::data_meta, 4)) {
    if (size != 4) return refused("packet pointers are read as exactly 4 bytes");
    return ContextValue::scalar;
  }
  if (in(off, skb_off::flow_keys, 8)) return refused("flow_keys is for flow_dissector programs");
  if (in(off, skb_off::hwtstamp, 8)) {
    if (write || size != 8) return refused("hwtstamp is read as exactly 8 bytes");
    return ContextValue::scalar;
  }
  if (in(off, skb_off::tstamp, 8)) {
    if (size != 8) return refused("tstamp is accessed as exactly 8 bytes");
    return ContextValue::scalar;
  }
  if (in(off, skb_off::sk, 8))
    return refused("sk is a socket pointer, which the verifier does not model yet");
  if (in(off, skb_off::tstamp_type, skb_off::hwtstamp - skb_off::tstamp_type))
    return refused("tstamp_type and the padding after it are not accessible");
  if (write ? size != 4 : !narrow_ok(size, 4))
    return refused(write ? "fields are written as 4 bytes" : "fields are read as 1, 2 or 4 bytes");
  return ContextValue::scalar;
}

ContextValue skb_pointer(std::int32_t off) {
  if (off == skb_off::data) return ContextValue::packet;
  if (off == skb_off::data_end) return ContextValue::packet_end;
  if (off == skb_off::data_meta) return ContextValue::packet_meta;
  return ContextValue::scalar;
}

bool in_any(std::int32_t off, std::initializer_list<std::pair<std::int32_t, std::int32_t>> fields) {
  for (auto [start, bytes] : fields)
    if (in(off, start, bytes)) return true;
  return false;
}

// cgroup_skb, sk_skb, lwt_*: the fields each refuses, then what each may write.
ContextRule skb_like(ProgramType type, std::int32_t off, int size, bool write) {
  using namespace skb_off;
  const std::string_view name = program_type_name(type);
  bool forbidden = false;
  bool writable = false;
  switch (type) {
    case T::cgroup_skb:
      forbidden = in_any(off, {{tc_classid, 4}, {data_meta, 4}, {wire_len, 4}});
      writable = in_any(off, {{mark, 4}, {priority, 4}, {cb, 20}, {tstamp, 8}});
      break;
    case T::sk_skb:
      forbidden = in_any(
          off,
          {{tc_classid, 4}, {data_meta, 4}, {tstamp, 8}, {wire_len, 4}, {hwtstamp, 8}, {mark, 4}});
      writable = in_any(off, {{tc_index, 4}, {priority, 4}});
      break;
    default:  // lwt_in, lwt_out, lwt_xmit, lwt_seg6local
      forbidden = in_any(off, {{tc_classid, 4},
                               {family, local_port + 4 - family},
                               {data_meta, 4},
                               {tstamp, 8},
                               {wire_len, 4},
                               {hwtstamp, 8}});
      writable = in_any(off, {{mark, 4}, {priority, 4}, {cb, 20}});
      break;
  }
  if (forbidden) return fmt::format("{} programs may not access this __sk_buff field", name);
  if (write && !writable)
    return fmt::format("{} programs may not write this __sk_buff field", name);
  auto common = skb_common(off, size, write);
  if (std::holds_alternative<std::string>(common)) return common;
  const ContextValue v = skb_pointer(off);
  if (v != ContextValue::scalar && write) return refused("packet pointers are read-only");
  return v;
}

ContextRule sock_ops_rule(std::int32_t off, int size, bool write) {
  // struct bpf_sock_ops: op, reply/args[4] at 4, ..., sk_txhash at 164, bytes_received and
  // bytes_acked (u64) at 168 and 176, sk at 184, skb_data 192, skb_data_end 200, skb_len 208,
  // skb_tcp_flags 212, skb_hwtstamp (u64) 216.
  if (write) {
    if (off != 4 && off != 164) return refused("only reply and sk_txhash are writable");
    if (size != 4) return refused("written as exactly 4 bytes");
    return ContextValue::scalar;
  }
  if (in(off, 168, 16) || in(off, 216, 8)) {
    if (size != 8) return refused("a u64 field is read as 8 bytes");
    return ContextValue::scalar;
  }
  if (in(off, 184, 8)) return refused("sk is a socket pointer, which the verifier does not model");
  if (in(off, 192, 8) || in(off, 200, 8)) {
    if (size != 8) return refused("skb_data and skb_data_end are read as 8 bytes");
    return off == 192 ? ContextValue::packet : ContextValue::packet_end;
  }
  if (off == 212) {
    if (!narrow_ok(size, 4)) return refused("read as 1, 2 or 4 bytes");
    return ContextValue::scalar;
  }
  if (size != 4) return refused("fields are read as exactly 4 bytes");
  return ContextValue::scalar;
}

// enum bpf_attach_type values (uapi/linux/bpf.h): cgroup_skb egress, the cgroup_sock_addr
// hooks.
namespace attach {
constexpr std::uint32_t inet_egress = 1, unix_recvmsg = 51, unix_getsockname = 53,
                        inet_sock_create = 2, inet4_post_bind = 12, inet6_post_bind = 13,
                        inet_sock_release = 34;
constexpr std::uint32_t inet4_bind = 8, inet6_bind = 9, inet4_connect = 10, inet6_connect = 11,
                        udp4_sendmsg = 14, udp6_sendmsg = 15, udp4_recvmsg = 19, udp6_recvmsg = 20,
                        inet4_getpeername = 29, inet6_getpeername = 30, inet4_getsockname = 31,
                        inet6_getsockname = 32;
}  // namespace attach

// Which address fields the hook has (sock_addr_is_valid_access): user_ip4 for the IPv4 hooks,
// user_ip6 for the IPv6 ones, msg_src_ip4/6 for sendmsg only; user_port for every hook.
std::optional<std::string> sock_addr_field_allowed(std::int32_t off, std::uint32_t at) {
  using namespace attach;
  auto one_of = [at](std::initializer_list<std::uint32_t> hooks) {
    for (std::uint32_t h : hooks)
      if (h == at) return true;
    return false;
  };
  if (in(off, 4, 4) && !one_of({inet4_bind, inet4_connect, inet4_getpeername, inet4_getsockname,
                                udp4_sendmsg, udp4_recvmsg}))
    return refused("user_ip4 is for the IPv4 hooks");
  if (in(off, 8, 16) && !one_of({inet6_bind, inet6_connect, inet6_getpeername, inet6_getsockname,
                                 udp6_sendmsg, udp6_recvmsg}))
    return refused("user_ip6 is for the IPv6 hooks");
  if (in(off, 40, 4) && at != udp4_sendmsg) return refused("msg_src_ip4 is for udp4 sendmsg");
  if (in(off, 44, 16) && at != udp6_sendmsg) return refused("msg_src_ip6 is for udp6 sendmsg");
  return std::nullopt;
}

ContextRule sock_addr_rule(std::int32_t off, int size, bool write, std::uint32_t at) {
  // struct bpf_sock_addr: user_family 0, user_ip4 4, user_ip6[4] 8, user_port 24, family 28,
  // type 32, protocol 36, msg_src_ip4 40, msg_src_ip6[4] 44, sk 64.
  const bool address = in(off, 4, 24) || in(off, 40, 20);
  if (address) {
    if (auto why = sock_addr_field_allowed(off, at)) return *why;
    const bool wide = size == 8 && (in(off, 8, 16) || in(off, 44, 16)) &&
                      ((off - (in(off, 8, 16) ? 8 : 44)) % 8 == 0);
    if (wide) return ContextValue::scalar;
    if (write ? size != 4 : !narrow_ok(size, 4))
      return refused(write ? "written as 4 bytes (or 8 within an ip6 array)"
                           : "read as 1, 2 or 4 bytes (or 8 within an ip6 array)");
    return ContextValue::scalar;
  }
  if (in(off, 64, 8)) return refused("sk is a socket pointer, which the verifier does not model");
  if (write) return refused("only the address and port fields are writable");
  if (size != 4) return refused("fields are read as exactly 4 bytes");
  return ContextValue::scalar;
}

// struct bpf_sock (cgroup_sock): bound_dev_if 0, family 4, type 8, protocol 12, mark 16,
// priority 20, src_ip4 24, src_ip6[4] 28, src_port 44, dst_port (__be16) 48, 2 bytes of
// padding, dst_ip4 52, dst_ip6[4] 56, state 72, rx_queue_mapping 76; 80 bytes.
constexpr std::int32_t bpf_sock_size = 80;

ContextRule bpf_sock_rule(std::int32_t off, int size, bool write, std::uint32_t at) {
  using namespace attach;
  if (at == 0) at = inet_sock_create;  // Linux's bpf_prog_load_fixup_attach_type
  // __sock_filter_check_attach_type: bound_dev_if, mark and priority are read and written
  // by the create and release hooks only; the source address and port are read by the
  // post_bind hooks only; everything else is read-only.
  if (off == 0 || off == 16 || off == 20) {
    if (at != inet_sock_create && at != inet_sock_release)
      return refused("bound_dev_if, mark and priority are for sock_create and sock_release");
  } else if (in(off, 24, 4)) {
    if (at != inet4_post_bind) return refused("src_ip4 is for post_bind4");
  } else if (in(off, 28, 16)) {
    if (at != inet6_post_bind) return refused("src_ip6 is for post_bind6");
  } else if (off == 44) {
    if (at != inet4_post_bind && at != inet6_post_bind)
      return refused("src_port is for post_bind4 and post_bind6");
  }
  if (write && off != 0 && off != 16 && off != 20)
    return refused("only bound_dev_if, mark and priority are writable");
  // bpf_sock_is_valid_access: narrow reads of the ports, addresses, family, type, protocol,
  // state and rx_queue_mapping; whole words elsewhere; nothing in the padding.
  if (in(off, 50, 2)) return refused("padding after dst_port");
  if (in(off, 48, 2)) {
    if (write || size == 8) return refused("dst_port is read as 1, 2 or 4 bytes");
    return ContextValue::scalar;
  }
  const bool narrow = off == 72 || off == 4 || off == 8 || off == 12 || off == 44 || off == 76 ||
                      in(off, 24, 4) || in(off, 28, 16) || in(off, 52, 4) || in(off, 56, 16);
  if (narrow && !write) {
    if (!narrow_ok(size, 4)) return refused("read as 1, 2 or 4 bytes");
    return ContextValue::scalar;
  }
  if (size != 4) return refused("accessed as exactly 4 bytes");
  return ContextValue::scalar;
}

ContextRule tracing_rule(ProgramType type, std::int32_t off, int size, bool write) {
  if (write) return refused("the context is read-only");
  switch (type) {
    case T::kprobe:
      if (off + size > pt_regs_size) return refused("past struct pt_regs");
      return ContextValue::scalar;
    case T::tracepoint:
      // tp_prog_is_valid_access: the first 8 bytes (the common fields' pointer-sized head)
      // are not readable.
      if (off < 8) return refused("the first 8 bytes of a tracepoint record are not readable");
      return ContextValue::scalar;
    case T::raw_tracepoint: return ContextValue::scalar;
    default:  // perf_event
      if (in(off, perf_sample_period, 8) || in(off, perf_addr, 8)) {
        if (!narrow_ok(size, 8)) return refused("read as 1, 2, 4 or 8 bytes");
        return ContextValue::scalar;
      }
      if (size != 8) return refused("the registers are read as 8 bytes");
      return ContextValue::scalar;
  }
}

// The types plan_access describes, and the type whose rules they use.
std::optional<ProgramType> planned(ProgramType type) {
  switch (type) {
    case T::xdp:
    case T::socket_filter:
    case T::sched_cls: return type;
    case T::sched_act: return T::sched_cls;  // tc_cls_act_is_valid_access
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<std::size_t> verifier_context_size(ProgramType type) {
  if (auto p = planned(type)) return uapi_context_size(*p);
  switch (type) {
    case T::cgroup_skb:
    case T::sk_skb:
    case T::lwt_in:
    case T::lwt_out:
    case T::lwt_xmit:
    case T::lwt_seg6local: return skb_off::size;
    case T::kprobe: return pt_regs_size;
    case T::tracepoint: return perf_trace_size;
    case T::raw_tracepoint: return raw_tp_args;
    case T::perf_event: return perf_event_size;
    case T::sock_ops: return sock_ops_size;
    case T::cgroup_sock_addr: return sock_addr_size;
    case T::cgroup_sock: return bpf_sock_size;
    default: return std::nullopt;
  }
}

ContextRule context_rule(ProgramType type, std::int32_t offset, int size, bool write,
                         std::uint32_t expected_attach_type) {
  const auto bytes = verifier_context_size(type);
  if (!bytes)
    return fmt::format("program type {} has no context description", program_type_name(type));
  if (offset < 0 || offset >= static_cast<std::int64_t>(*bytes))
    return fmt::format("outside the {}-byte context", *bytes);
  if (size <= 0 || offset % size != 0) return refused("misaligned");
  if (auto p = planned(type)) {
    auto plan = plan_access(*p, offset, size, write);
    if (auto* e = std::get_if<std::string>(&plan)) return *e;
    if (write) return ContextValue::scalar;
    if (*p == T::xdp) {
      if (offset == xdp_off::data) return ContextValue::packet;
      if (offset == xdp_off::data_end) return ContextValue::packet_end;
      if (offset == xdp_off::data_meta) return ContextValue::packet_meta;
      return ContextValue::scalar;
    }
    return skb_pointer(offset);
  }
  switch (type) {
    case T::cgroup_skb:
    case T::sk_skb:
    case T::lwt_in:
    case T::lwt_out:
    case T::lwt_xmit:
    case T::lwt_seg6local: return skb_like(type, offset, size, write);
    case T::sock_ops: return sock_ops_rule(offset, size, write);
    case T::cgroup_sock_addr: return sock_addr_rule(offset, size, write, expected_attach_type);
    case T::cgroup_sock: return bpf_sock_rule(offset, size, write, expected_attach_type);
    default: return tracing_rule(type, offset, size, write);
  }
}

PacketAccess direct_packet_access(ProgramType type) {
  switch (type) {
    case T::lwt_in:
    case T::lwt_out:
    case T::lwt_seg6local:
    case T::sk_reuseport:
    case T::flow_dissector:
    case T::cgroup_skb:
    case T::sock_ops:  // skb_data may be read, never written (not in Linux's write list)
      return PacketAccess::read;
    case T::sched_cls:
    case T::sched_act:
    case T::xdp:
    case T::lwt_xmit:
    case T::sk_skb:
    case T::sk_msg: return PacketAccess::read_write;
    default: return PacketAccess::none;
  }
}

bool allows_ld_abs(ProgramType type) {
  return type == T::socket_filter || type == T::sched_cls || type == T::sched_act;
}

std::optional<ReturnRange> return_range(ProgramType type, std::uint32_t attach) {
  using namespace attach;
  switch (type) {
    case T::cgroup_skb: return attach == inet_egress ? ReturnRange{0, 3} : ReturnRange{0, 1};
    case T::cgroup_sock_addr:
      if (attach == inet4_bind || attach == inet6_bind) return ReturnRange{0, 3};
      if (attach == udp4_recvmsg || attach == udp6_recvmsg ||
          (attach >= inet4_getpeername && attach <= inet6_getsockname) ||
          (attach >= unix_recvmsg && attach <= unix_getsockname))
        return ReturnRange{1, 1};
      return ReturnRange{0, 1};
    case T::cgroup_sock:
    case T::sock_ops:
    case T::cgroup_device:
    case T::cgroup_sysctl:
    case T::cgroup_sockopt:
    case T::sk_lookup: return ReturnRange{0, 1};
    default: return std::nullopt;
  }
}

}  // namespace bpfvm::progtypes
