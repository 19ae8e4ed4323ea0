// Program type names, as bpftool and libbpf's section names spell them.
#include <bpfvm/program_type.hpp>

#include <array>
#include <utility>

namespace bpfvm {
namespace {

constexpr std::array<std::pair<ProgramType, std::string_view>, 32> names = {{
    {ProgramType::raw, "raw"},
    {ProgramType::socket_filter, "socket_filter"},
    {ProgramType::kprobe, "kprobe"},
    {ProgramType::sched_cls, "sched_cls"},
    {ProgramType::sched_act, "sched_act"},
    {ProgramType::tracepoint, "tracepoint"},
    {ProgramType::xdp, "xdp"},
    {ProgramType::perf_event, "perf_event"},
    {ProgramType::cgroup_skb, "cgroup_skb"},
    {ProgramType::cgroup_sock, "cgroup_sock"},
    {ProgramType::lwt_in, "lwt_in"},
    {ProgramType::lwt_out, "lwt_out"},
    {ProgramType::lwt_xmit, "lwt_xmit"},
    {ProgramType::sock_ops, "sock_ops"},
    {ProgramType::sk_skb, "sk_skb"},
    {ProgramType::cgroup_device, "cgroup_device"},
    {ProgramType::sk_msg, "sk_msg"},
    {ProgramType::raw_tracepoint, "raw_tracepoint"},
    {ProgramType::cgroup_sock_addr, "cgroup_sock_addr"},
    {ProgramType::lwt_seg6local, "lwt_seg6local"},
    {ProgramType::lirc_mode2, "lirc_mode2"},
    {ProgramType::sk_reuseport, "sk_reuseport"},
    {ProgramType::flow_dissector, "flow_dissector"},
    {ProgramType::cgroup_sysctl, "cgroup_sysctl"},
    {ProgramType::raw_tracepoint_writable, "raw_tracepoint_writable"},
    {ProgramType::cgroup_sockopt, "cgroup_sockopt"},
    {ProgramType::tracing, "tracing"},
    {ProgramType::struct_ops, "struct_ops"},
    {ProgramType::ext, "ext"},
    {ProgramType::lsm, "lsm"},
    {ProgramType::sk_lookup, "sk_lookup"},
    {ProgramType::syscall, "syscall"},
}};

}  // namespace

std::string_view program_type_name(ProgramType type) {
  for (const auto& [value, name] : names)
    if (value == type) return name;
  return "unknown";
}

std::optional<ProgramType> program_type_from_name(std::string_view name) {
  for (const auto& [value, known] : names)
    if (known == name) return value;
  // libbpf's section names for the types bpfvm runs.
  if (name == "tc" || name == "classifier") return ProgramType::sched_cls;
  if (name == "socket") return ProgramType::socket_filter;
  return std::nullopt;
}

}  // namespace bpfvm
