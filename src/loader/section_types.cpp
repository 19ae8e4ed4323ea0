// SEC() names to program types, as libbpf's section_defs[] (libbpf.c) has them: a name
// ending in '+' in libbpf's table matches the name alone or followed by '/...'; the others
// match exactly. Before libbpf 1.0 every name matched as a prefix ("socket1", "xdp_prog",
// "kprobe__sys_write"); objects built for those loaders still exist, so a name that matches
// nothing exactly is tried as a prefix afterwards.
#include <bpfvm/object.hpp>

#include <array>

namespace bpfvm {
namespace {

struct SectionDef {
  std::string_view name;
  ProgramType type;
  bool takes_suffix;  // libbpf's "name+": "name" or "name/anything"
};

using T = ProgramType;

// Order matters for the prefix fallback only: longer names first where one prefixes another.
constexpr std::array section_defs{
    SectionDef{"socket", T::socket_filter, false},
    SectionDef{"sk_reuseport/migrate", T::sk_reuseport, false},
    SectionDef{"sk_reuseport", T::sk_reuseport, false},
    SectionDef{"kprobe.multi", T::kprobe, true},
    SectionDef{"kretprobe.multi", T::kprobe, true},
    SectionDef{"kprobe", T::kprobe, true},
    SectionDef{"kretprobe", T::kprobe, true},
    SectionDef{"uprobe.multi.s", T::kprobe, true},
    SectionDef{"uprobe.multi", T::kprobe, true},
    SectionDef{"uretprobe.multi.s", T::kprobe, true},
    SectionDef{"uretprobe.multi", T::kprobe, true},
    SectionDef{"uprobe.s", T::kprobe, true},
    SectionDef{"uprobe", T::kprobe, true},
    SectionDef{"uretprobe.s", T::kprobe, true},
    SectionDef{"uretprobe", T::kprobe, true},
    SectionDef{"ksyscall", T::kprobe, true},
    SectionDef{"kretsyscall", T::kprobe, true},
    SectionDef{"usdt", T::kprobe, true},
    SectionDef{"tc/ingress", T::sched_cls, false},
    SectionDef{"tc/egress", T::sched_cls, false},
    SectionDef{"tcx/ingress", T::sched_cls, false},
    SectionDef{"tcx/egress", T::sched_cls, false},
    SectionDef{"netkit/primary", T::sched_cls, false},
    SectionDef{"netkit/peer", T::sched_cls, false},
    SectionDef{"tc", T::sched_cls, true},
    SectionDef{"classifier", T::sched_cls, true},
    SectionDef{"action", T::sched_act, true},
    SectionDef{"tracepoint", T::tracepoint, true},
    SectionDef{"tp", T::tracepoint, true},
    SectionDef{"raw_tracepoint.w", T::raw_tracepoint_writable, true},
    SectionDef{"raw_tp.w", T::raw_tracepoint_writable, true},
    SectionDef{"raw_tracepoint", T::raw_tracepoint, true},
    SectionDef{"raw_tp", T::raw_tracepoint, true},
    SectionDef{"tp_btf", T::tracing, true},
    SectionDef{"fentry.s", T::tracing, true},
    SectionDef{"fmod_ret.s", T::tracing, true},
    SectionDef{"fexit.s", T::tracing, true},
    SectionDef{"fentry", T::tracing, true},
    SectionDef{"fmod_ret", T::tracing, true},
    SectionDef{"fexit", T::tracing, true},
    SectionDef{"freplace", T::ext, true},
    SectionDef{"lsm.s", T::lsm, true},
    SectionDef{"lsm_cgroup", T::lsm, true},
    SectionDef{"lsm", T::lsm, true},
    SectionDef{"iter.s", T::tracing, true},
    SectionDef{"iter", T::tracing, true},
    SectionDef{"syscall", T::syscall, false},
    SectionDef{"xdp.frags/devmap", T::xdp, false},
    SectionDef{"xdp/devmap", T::xdp, false},
    SectionDef{"xdp.frags/cpumap", T::xdp, false},
    SectionDef{"xdp/cpumap", T::xdp, false},
    SectionDef{"xdp.frags", T::xdp, false},
    SectionDef{"xdp", T::xdp, false},
    SectionDef{"perf_event", T::perf_event, false},
    SectionDef{"lwt_in", T::lwt_in, false},
    SectionDef{"lwt_out", T::lwt_out, false},
    SectionDef{"lwt_xmit", T::lwt_xmit, false},
    SectionDef{"lwt_seg6local", T::lwt_seg6local, false},
    SectionDef{"sockops", T::sock_ops, false},
    SectionDef{"sk_skb/stream_parser", T::sk_skb, false},
    SectionDef{"sk_skb/stream_verdict", T::sk_skb, false},
    SectionDef{"sk_skb", T::sk_skb, false},
    SectionDef{"sk_msg", T::sk_msg, false},
    SectionDef{"lirc_mode2", T::lirc_mode2, false},
    SectionDef{"flow_dissector", T::flow_dissector, false},
    SectionDef{"cgroup_skb/ingress", T::cgroup_skb, false},
    SectionDef{"cgroup_skb/egress", T::cgroup_skb, false},
    SectionDef{"cgroup/skb", T::cgroup_skb, false},
    SectionDef{"cgroup/sock_create", T::cgroup_sock, false},
    SectionDef{"cgroup/sock_release", T::cgroup_sock, false},
    SectionDef{"cgroup/sock", T::cgroup_sock, false},
    SectionDef{"cgroup/post_bind4", T::cgroup_sock, false},
    SectionDef{"cgroup/post_bind6", T::cgroup_sock, false},
    SectionDef{"cgroup/bind4", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/bind6", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/connect4", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/connect6", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/connect_unix", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/sendmsg4", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/sendmsg6", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/sendmsg_unix", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/recvmsg4", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/recvmsg6", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/recvmsg_unix", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/getpeername4", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/getpeername6", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/getpeername_unix", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/getsockname4", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/getsockname6", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/getsockname_unix", T::cgroup_sock_addr, false},
    SectionDef{"cgroup/sysctl", T::cgroup_sysctl, false},
    SectionDef{"cgroup/getsockopt", T::cgroup_sockopt, false},
    SectionDef{"cgroup/setsockopt", T::cgroup_sockopt, false},
    SectionDef{"cgroup/dev", T::cgroup_device, false},
    SectionDef{"struct_ops.s", T::struct_ops, true},
    SectionDef{"struct_ops", T::struct_ops, true},
    SectionDef{"sk_lookup", T::sk_lookup, false},
};

bool matches(const SectionDef& def, std::string_view section) {
  if (section == def.name) return true;
  return def.takes_suffix && section.size() > def.name.size() && section.starts_with(def.name) &&
         section[def.name.size()] == '/';
}

// The expected_attach_type libbpf's section_defs[] give the cgroup and socket hooks whose
// context fields or return values depend on it (enum bpf_attach_type, uapi/linux/bpf.h):
// libbpf loads `SEC("cgroup/post_bind4")` with BPF_CGROUP_INET4_POST_BIND, and the kernel
// lets such a program read bpf_sock's src_ip4 (cgroup_sock_is_valid_access). Exact names
// only, as libbpf. The unix socket hooks are left out (0: no family's fields).
struct SectionAttach {
  std::string_view name;
  std::uint32_t attach;
};

constexpr std::array section_attach{
    SectionAttach{"cgroup_skb/ingress", 0},    // BPF_CGROUP_INET_INGRESS
    SectionAttach{"cgroup_skb/egress", 1},     // BPF_CGROUP_INET_EGRESS
    SectionAttach{"sockops", 3},               // BPF_CGROUP_SOCK_OPS
    SectionAttach{"cgroup/sock_create", 2},    // BPF_CGROUP_INET_SOCK_CREATE
    SectionAttach{"cgroup/sock_release", 34},  // BPF_CGROUP_INET_SOCK_RELEASE
    SectionAttach{"cgroup/sock", 2},           // BPF_CGROUP_INET_SOCK_CREATE
    SectionAttach{"cgroup/post_bind4", 12},    // BPF_CGROUP_INET4_POST_BIND
    SectionAttach{"cgroup/post_bind6", 13},    // BPF_CGROUP_INET6_POST_BIND
    SectionAttach{"cgroup/bind4", 8},          // BPF_CGROUP_INET4_BIND
    SectionAttach{"cgroup/bind6", 9},          // BPF_CGROUP_INET6_BIND
    SectionAttach{"cgroup/connect4", 10},      // BPF_CGROUP_INET4_CONNECT
    SectionAttach{"cgroup/connect6", 11},      // BPF_CGROUP_INET6_CONNECT
    SectionAttach{"cgroup/sendmsg4", 14},      // BPF_CGROUP_UDP4_SENDMSG
    SectionAttach{"cgroup/sendmsg6", 15},      // BPF_CGROUP_UDP6_SENDMSG
    SectionAttach{"cgroup/recvmsg4", 19},      // BPF_CGROUP_UDP4_RECVMSG
    SectionAttach{"cgroup/recvmsg6", 20},      // BPF_CGROUP_UDP6_RECVMSG
    SectionAttach{"cgroup/getpeername4", 29},  // BPF_CGROUP_INET4_GETPEERNAME
    SectionAttach{"cgroup/getpeername6", 30},  // BPF_CGROUP_INET6_GETPEERNAME
    SectionAttach{"cgroup/getsockname4", 31},  // BPF_CGROUP_INET4_GETSOCKNAME
    SectionAttach{"cgroup/getsockname6", 32},  // BPF_CGROUP_INET6_GETSOCKNAME
    SectionAttach{"cgroup/sysctl", 18},        // BPF_CGROUP_SYSCTL
    SectionAttach{"cgroup/getsockopt", 21},    // BPF_CGROUP_GETSOCKOPT
    SectionAttach{"cgroup/setsockopt", 22},    // BPF_CGROUP_SETSOCKOPT
    SectionAttach{"cgroup/dev", 6},            // BPF_CGROUP_DEVICE
};

}  // namespace

std::uint32_t attach_type_from_section(std::string_view section) {
  for (const SectionAttach& def : section_attach)
    if (section == def.name) return def.attach;
  return 0;
}

std::optional<ProgramType> program_type_from_section(std::string_view section) {
  for (const SectionDef& def : section_defs)
    if (matches(def, section)) return def.type;
  // Pre-1.0 libbpf and samples/bpf's bpf_load.c: prefixes ("socket1", "xdp_prog").
  for (const SectionDef& def : section_defs)
    if (section.starts_with(def.name)) return def.type;
  return std::nullopt;
}

}  // namespace bpfvm
