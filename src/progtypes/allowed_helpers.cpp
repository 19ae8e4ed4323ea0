// Which helpers each program type may call: Linux's *_func_proto functions, as a loader with
// CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN sees them on Linux 6.18:
//  - net/core/filter.c: sk_filter_func_proto, tc_cls_act_func_proto (sched_cls and
//    sched_act), xdp_func_proto,
//    cg_skb_func_proto, sock_filter_func_proto (cgroup_sock), sock_addr_func_proto,
//    sock_ops_func_proto, sk_skb_func_proto, sk_msg_func_proto, lwt_{in,out,xmit}_func_proto,
//    on top of bpf_sk_base_func_proto and bpf_base_func_proto (kernel/bpf/helpers.c);
//  - kernel/trace/bpf_trace.c: kprobe_prog_func_proto, tp_prog_func_proto,
//    raw_tp_prog_func_proto and pe_prog_func_proto, on top of bpf_tracing_func_proto.
// Two helpers depend on how the kernel is built and booted, and are listed as a kernel that
// offers them sees them (helper_depends_on_kernel_config): bpf_probe_write_user (36), which
// bpf_tracing_func_proto gives every tracing type (kprobe, tracepoint, raw_tracepoint,
// perf_event) unless lockdown forbids it (LOCKDOWN_BPF_WRITE_USER), and
// bpf_override_return (58), which kprobe_prog_func_proto has with CONFIG_BPF_KPROBE_OVERRIDE.
// This machine's kernel has neither; the kernel tests leave those two out of the comparison.
// cgroup_sock_addr is listed for expected_attach_type BPF_CGROUP_INET4_CONNECT (bind, 64,
// is for the connect hooks only; other hooks see a subset). tests/progtypes/
// kernel_oracle_test.cpp (AllowedHelpersMatchTheKernel) checks every list against the running
// kernel.
#include <bpfvm/builtin_helpers.hpp>
#include <bpfvm/progtypes.hpp>

#include <algorithm>
#include <array>

namespace bpfvm {
namespace {

// Disjoint lists joined into one sorted list, at compile time (an id in two parts stops the
// build: the lists below are constexpr).
template <std::size_t... N>
constexpr auto joined(const std::array<std::uint32_t, N>&... parts) {
  std::array<std::uint32_t, (N + ...)> all{};
  std::size_t at = 0;
  ((std::copy(parts.begin(), parts.end(), all.begin() + at), at += N), ...);
  std::sort(all.begin(), all.end());
  if (std::adjacent_find(all.begin(), all.end()) != all.end()) throw "a helper id listed twice";
  return all;
}

// bpf_base_func_proto, which every type here gets.
constexpr auto base_helpers = std::to_array<std::uint32_t>(
    {1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  35,  37,  42,  55,  80,
     87,  88,  89,  93,  94,  105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130, 131,
     132, 133, 134, 141, 148, 149, 153, 154, 156, 157, 158, 164, 165, 169, 170, 171, 172, 175, 176,
     177, 180, 181, 182, 191, 194, 195, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211});

// bpf_tracing_func_proto on top of the base, for kprobe, tracepoint, perf_event and
// raw_tracepoint.
constexpr auto tracing_helpers = std::to_array<std::uint32_t>({4, 27, 36, 45, 67, 173, 174});

// The socket casts of bpf_sk_base_func_proto (bpf_skc_to_tcp6_sock ... bpf_skc_to_mptcp_sock),
// which every networking type here but cgroup_sock gets.
constexpr auto sk_cast_helpers = std::to_array<std::uint32_t>({136, 137, 138, 139, 140, 178, 196});

constexpr auto socket_filter_helpers =
    joined(base_helpers, sk_cast_helpers, std::to_array<std::uint32_t>({26, 46, 47, 68, 122, 160}));

constexpr auto sched_cls_helpers =
    joined(base_helpers, sk_cast_helpers,
           std::to_array<std::uint32_t>({9,   10,  11,  13,  18,  19,  20,  21,  23,  24,  26,  28,
                                         29,  30,  31,  32,  33,  34,  38,  39,  40,  41,  43,  46,
                                         47,  48,  50,  66,  68,  69,  79,  83,  84,  85,  86,  95,
                                         96,  97,  98,  99,  100, 107, 108, 110, 122, 124, 135, 151,
                                         152, 155, 160, 163, 192, 204, 205, 206, 207}));

constexpr auto xdp_helpers =
    joined(base_helpers, sk_cast_helpers,
           std::to_array<std::uint32_t>({23,  28,  44,  51,  54,  65,  69,  84,  85,  86,  99,
                                         100, 110, 160, 163, 188, 189, 190, 204, 205, 206, 207}));

constexpr auto kprobe_helpers =
    joined(base_helpers, tracing_helpers, std::to_array<std::uint32_t>({58}));

constexpr auto tracepoint_helpers = joined(base_helpers, tracing_helpers);

constexpr auto perf_event_helpers =
    joined(base_helpers, tracing_helpers, std::to_array<std::uint32_t>({56, 119}));

constexpr auto raw_tracepoint_helpers = joined(base_helpers, tracing_helpers);

constexpr auto cgroup_skb_helpers =
    joined(base_helpers, sk_cast_helpers,
           std::to_array<std::uint32_t>({26, 46, 47, 68, 79,  81,  83,  84,  85,  86, 95,
                                         96, 97, 98, 99, 107, 108, 122, 128, 129, 160}));

constexpr auto cgroup_sock_helpers =
    joined(base_helpers, std::to_array<std::uint32_t>({46, 81, 107, 122, 160, 186, 187}));

constexpr auto cgroup_sock_addr_helpers =
    joined(base_helpers, sk_cast_helpers,
           std::to_array<std::uint32_t>(
               {46, 49, 57, 64, 81, 84, 85, 86, 99, 107, 108, 122, 160, 186, 187}));

constexpr auto sock_ops_helpers =
    joined(base_helpers, sk_cast_helpers,
           std::to_array<std::uint32_t>(
               {46, 49, 53, 57, 59, 70, 81, 96, 107, 108, 122, 142, 143, 144, 160}));

constexpr auto sk_skb_helpers = joined(
    base_helpers, sk_cast_helpers,
    std::to_array<std::uint32_t>({9, 26, 38, 39, 43, 46, 47, 50, 52, 72, 84, 85, 86, 99, 160}));

constexpr auto sk_msg_helpers =
    joined(base_helpers, sk_cast_helpers,
           std::to_array<std::uint32_t>({60, 61, 62, 63, 71, 90, 91, 107, 108, 122, 160}));

constexpr auto lwt_in_helpers = joined(
    base_helpers, sk_cast_helpers, std::to_array<std::uint32_t>({24, 26, 28, 33, 34, 39, 73, 160}));

constexpr auto lwt_out_helpers = joined(
    base_helpers, sk_cast_helpers, std::to_array<std::uint32_t>({24, 26, 28, 33, 34, 39, 160}));

constexpr auto lwt_xmit_helpers =
    joined(base_helpers, sk_cast_helpers,
           std::to_array<std::uint32_t>({9,  10, 11, 13, 20, 21, 23, 24, 26, 28,  29,
                                         30, 33, 34, 38, 39, 40, 41, 43, 73, 135, 160}));

}  // namespace

std::span<const std::uint32_t> allowed_helpers(ProgramType type) {
  switch (type) {
    case ProgramType::socket_filter: return socket_filter_helpers;
    // tc_cls_act_func_proto serves tc classifiers and actions alike.
    case ProgramType::sched_cls:
    case ProgramType::sched_act: return sched_cls_helpers;
    case ProgramType::xdp: return xdp_helpers;
    case ProgramType::kprobe: return kprobe_helpers;
    case ProgramType::tracepoint: return tracepoint_helpers;
    case ProgramType::perf_event: return perf_event_helpers;
    case ProgramType::raw_tracepoint: return raw_tracepoint_helpers;
    case ProgramType::cgroup_skb: return cgroup_skb_helpers;
    case ProgramType::cgroup_sock: return cgroup_sock_helpers;
    case ProgramType::cgroup_sock_addr: return cgroup_sock_addr_helpers;
    case ProgramType::sock_ops: return sock_ops_helpers;
    case ProgramType::sk_skb: return sk_skb_helpers;
    case ProgramType::sk_msg: return sk_msg_helpers;
    case ProgramType::lwt_in: return lwt_in_helpers;
    case ProgramType::lwt_out: return lwt_out_helpers;
    case ProgramType::lwt_xmit: return lwt_xmit_helpers;
    default: return {};
  }
}

bool helper_depends_on_kernel_config(ProgramType type, std::uint32_t id) {
  const bool tracing = type == ProgramType::kprobe || type == ProgramType::tracepoint ||
                       type == ProgramType::raw_tracepoint || type == ProgramType::perf_event;
  return (tracing && id == 36) || (type == ProgramType::kprobe && id == 58);
}

bool helper_allowed(ProgramType type, std::uint32_t id) {
  // bpfvm's built-ins (memset, memcpy, ...) touch only memory the program already may: every
  // type may call them. Linux has no such helper, so the lists above cannot hold them.
  if (type == ProgramType::raw || is_builtin_helper_id(id)) return true;
  const auto ids = allowed_helpers(type);
  return std::binary_search(ids.begin(), ids.end(), id);
}

}  // namespace bpfvm
