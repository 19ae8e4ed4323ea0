// Program types: what a program's context is, which helpers it may call, what its return
// value means. Numbered as Linux's enum bpf_prog_type (uapi/linux/bpf.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace bpfvm {

enum class ProgramType : std::uint32_t {
  // Not a Linux type (Linux's BPF_PROG_TYPE_UNSPEC): r1 points at raw memory and r2 holds its
  // length, as the bpf_conformance suite runs programs. Any helper may be called.
  raw = 0,
  socket_filter = 1,
  kprobe = 2,
  sched_cls = 3,
  sched_act = 4,
  tracepoint = 5,
  xdp = 6,
  perf_event = 7,
  cgroup_skb = 8,
  cgroup_sock = 9,
  lwt_in = 10,
  lwt_out = 11,
  lwt_xmit = 12,
  sock_ops = 13,
  sk_skb = 14,
  cgroup_device = 15,
  sk_msg = 16,
  raw_tracepoint = 17,
  cgroup_sock_addr = 18,
  lwt_seg6local = 19,
  lirc_mode2 = 20,
  sk_reuseport = 21,
  flow_dissector = 22,
  cgroup_sysctl = 23,
  raw_tracepoint_writable = 24,
  cgroup_sockopt = 25,
  tracing = 26,
  struct_ops = 27,
  ext = 28,
  lsm = 29,
  sk_lookup = 30,
  syscall = 31,
};

// "xdp", "socket_filter", "sched_cls", "raw", ... ; "unknown" for other values.
std::string_view program_type_name(ProgramType type);
std::optional<ProgramType> program_type_from_name(std::string_view name);

}  // namespace bpfvm
