// Which helpers each program type may call: Linux's *_func_proto functions, as a loader with
// CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN sees them on Linux 6.18:
//  - net/core/filter.c: sk_filter_func_proto, tc_cls_act_func_proto, xdp_func_proto,
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

namespace bpfvm {
namespace {

constexpr std::uint32_t socket_filter_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  26,  35,  37,  42,
    46,  47,  55,  68,  80,  87,  88,  89,  93,  94,  105, 106, 109, 112, 113, 114, 115, 117,
    118, 120, 122, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149,
    153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181,
    182, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t sched_cls_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,  17,  18,  19,
    20,  21,  22,  23,  24,  25,  26,  28,  29,  30,  31,  32,  33,  34,  35,  37,  38,  39,
    40,  41,  42,  43,  46,  47,  48,  50,  55,  66,  68,  69,  79,  80,  83,  84,  85,  86,
    87,  88,  89,  93,  94,  95,  96,  97,  98,  99,  100, 105, 106, 107, 108, 109, 110, 112,
    113, 114, 115, 117, 118, 120, 122, 123, 124, 125, 130, 131, 132, 133, 134, 135, 136, 137,
    138, 139, 140, 141, 148, 149, 151, 152, 153, 154, 155, 156, 157, 158, 160, 163, 164, 165,
    169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 192, 194, 195, 196, 197, 198,
    199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211};

constexpr std::uint32_t xdp_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  23,  25,  28,  35,  37,
    42,  44,  51,  54,  55,  65,  69,  80,  84,  85,  86,  87,  88,  89,  93,  94,  99,  100,
    105, 106, 109, 110, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134,
    136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158, 160, 163, 164, 165, 169,
    170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 188, 189, 190, 191, 194, 195, 196, 197,
    198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211};

constexpr std::uint32_t kprobe_helpers[] = {
    1,   2,   3,   4,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  27,  35,
    36,  37,  42,  45,  55,  58,  67,  80,  87,  88,  89,  93,  94,  105, 106, 109, 112,
    113, 114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134, 141, 148, 149, 153,
    154, 156, 157, 158, 164, 165, 169, 170, 171, 172, 173, 174, 175, 176, 177, 180, 181,
    182, 191, 194, 195, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t tracepoint_helpers[] = {
    1,   2,   3,   4,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  27,  35,
    36,  37,  42,  45,  55,  67,  80,  87,  88,  89,  93,  94,  105, 106, 109, 112, 113,
    114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134, 141, 148, 149, 153, 154,
    156, 157, 158, 164, 165, 169, 170, 171, 172, 173, 174, 175, 176, 177, 180, 181, 182,
    191, 194, 195, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t perf_event_helpers[] = {
    1,   2,   3,   4,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  27,  35,
    36,  37,  42,  45,  55,  56,  67,  80,  87,  88,  89,  93,  94,  105, 106, 109, 112,
    113, 114, 115, 117, 118, 119, 120, 123, 125, 130, 131, 132, 133, 134, 141, 148, 149,
    153, 154, 156, 157, 158, 164, 165, 169, 170, 171, 172, 173, 174, 175, 176, 177, 180,
    181, 182, 191, 194, 195, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t raw_tracepoint_helpers[] = {
    1,   2,   3,   4,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  27,  35,
    36,  37,  42,  45,  55,  67,  80,  87,  88,  89,  93,  94,  105, 106, 109, 112, 113,
    114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134, 141, 148, 149, 153, 154,
    156, 157, 158, 164, 165, 169, 170, 171, 172, 173, 174, 175, 176, 177, 180, 181, 182,
    191, 194, 195, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t cgroup_skb_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  26,  35,  37,  42,
    46,  47,  55,  68,  79,  80,  81,  83,  84,  85,  86,  87,  88,  89,  93,  94,  95,  96,
    97,  98,  99,  105, 106, 107, 108, 109, 112, 113, 114, 115, 117, 118, 120, 122, 123, 125,
    128, 129, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156,
    157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194,
    195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t cgroup_sock_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  35,  37,  42,
    46,  55,  80,  81,  87,  88,  89,  93,  94,  105, 106, 107, 109, 112, 113, 114, 115,
    117, 118, 120, 122, 123, 125, 130, 131, 132, 133, 134, 141, 148, 149, 153, 154, 156,
    157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 180, 181, 182, 186, 187,
    191, 194, 195, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t cgroup_sock_addr_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  35,  37,  42,
    46,  49,  55,  57,  64,  80,  81,  84,  85,  86,  87,  88,  89,  93,  94,  99,  105,
    106, 107, 108, 109, 112, 113, 114, 115, 117, 118, 120, 122, 123, 125, 130, 131, 132,
    133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158, 160, 164,
    165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 186, 187, 191, 194, 195,
    196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t sock_ops_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  35,  37,  42,
    46,  49,  53,  55,  57,  59,  70,  80,  81,  87,  88,  89,  93,  94,  96,  105, 106,
    107, 108, 109, 112, 113, 114, 115, 117, 118, 120, 122, 123, 125, 130, 131, 132, 133,
    134, 136, 137, 138, 139, 140, 141, 142, 143, 144, 148, 149, 153, 154, 156, 157, 158,
    160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194, 195,
    196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t sk_skb_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   9,   12,  14,  15,  16,  17,  22,  25,  26,  35,
    37,  38,  39,  42,  43,  46,  47,  50,  52,  55,  72,  80,  84,  85,  86,  87,  88,
    89,  93,  94,  99,  105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130,
    131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158,
    160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194, 195,
    196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t sk_msg_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  35,  37,  42,  55,  60,
    61,  62,  63,  71,  80,  87,  88,  89,  90,  91,  93,  94,  105, 106, 107, 108, 109, 112, 113,
    114, 115, 117, 118, 120, 122, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141,
    148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180,
    181, 182, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t lwt_in_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  24,  25,  26,  28,  33,
    34,  35,  37,  39,  42,  55,  73,  80,  87,  88,  89,  93,  94,  105, 106, 109, 112, 113,
    114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141,
    148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178,
    180, 181, 182, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t lwt_out_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  24,  25,  26,  28,  33,
    34,  35,  37,  39,  42,  55,  80,  87,  88,  89,  93,  94,  105, 106, 109, 112, 113, 114,
    115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148,
    149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180,
    181, 182, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t lwt_xmit_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,  17,  20,  21,
    22,  23,  24,  25,  26,  28,  29,  30,  33,  34,  35,  37,  38,  39,  40,  41,  42,  43,
    55,  73,  80,  87,  88,  89,  93,  94,  105, 106, 109, 112, 113, 114, 115, 117, 118, 120,
    123, 125, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154,
    156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191,
    194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

}  // namespace

std::span<const std::uint32_t> allowed_helpers(ProgramType type) {
  switch (type) {
    case ProgramType::socket_filter: return socket_filter_helpers;
    case ProgramType::sched_cls: return sched_cls_helpers;
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
