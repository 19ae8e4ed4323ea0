// The Linux-numbered helper functions (uapi/linux/bpf.h, enum bpf_func_id): ids, semantics,
// return values and prototypes as Linux's, with the differences docs/helpers.md lists.
//
//   HelperRegistry helpers = linux_helpers();
//   helpers.add({.id = 1000, .name = "my_helper", .function = my_helper, .prototype = ...});
//   auto program = Program::load(insns, {.helpers = &helpers, .maps = {map}});
//
// The packet helpers (skb_load_bytes, xdp_adjust_head, ...) belong to the program types
// (progtypes); conformance_helpers()'s "unwind" (id 5 there) is a separate registry.
#pragma once

#include <bpfvm/helper.hpp>
#include <bpfvm/result.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

namespace bpfvm {

// enum bpf_func_id values of the helpers linux_helpers() registers.
namespace linux_helper {
inline constexpr std::uint32_t map_lookup_elem = 1;
inline constexpr std::uint32_t map_update_elem = 2;
inline constexpr std::uint32_t map_delete_elem = 3;
inline constexpr std::uint32_t probe_read = 4;
inline constexpr std::uint32_t ktime_get_ns = 5;
inline constexpr std::uint32_t trace_printk = 6;
inline constexpr std::uint32_t get_prandom_u32 = 7;
inline constexpr std::uint32_t get_smp_processor_id = 8;
inline constexpr std::uint32_t tail_call = 12;
inline constexpr std::uint32_t get_current_pid_tgid = 14;
inline constexpr std::uint32_t get_current_uid_gid = 15;
inline constexpr std::uint32_t get_current_comm = 16;
inline constexpr std::uint32_t perf_event_output = 25;
inline constexpr std::uint32_t get_current_task = 35;
inline constexpr std::uint32_t probe_read_str = 45;
inline constexpr std::uint32_t probe_read_user = 112;
inline constexpr std::uint32_t probe_read_kernel = 113;
inline constexpr std::uint32_t probe_read_user_str = 114;
inline constexpr std::uint32_t probe_read_kernel_str = 115;
inline constexpr std::uint32_t map_push_elem = 87;
inline constexpr std::uint32_t map_pop_elem = 88;
inline constexpr std::uint32_t map_peek_elem = 89;
inline constexpr std::uint32_t ktime_get_boot_ns = 125;
inline constexpr std::uint32_t jiffies64 = 118;
inline constexpr std::uint32_t get_stackid = 27;
inline constexpr std::uint32_t ringbuf_output = 130;
inline constexpr std::uint32_t ringbuf_reserve = 131;
inline constexpr std::uint32_t ringbuf_submit = 132;
inline constexpr std::uint32_t ringbuf_discard = 133;
inline constexpr std::uint32_t ringbuf_query = 134;
inline constexpr std::uint32_t for_each_map_elem = 164;
inline constexpr std::uint32_t snprintf = 165;
inline constexpr std::uint32_t loop = 181;
inline constexpr std::uint32_t strncmp = 182;
}  // namespace linux_helper

// Linux's limits the helpers honour.
inline constexpr std::uint32_t bpf_max_loops = 1u << 23;      // BPF_MAX_LOOPS (bpf_loop)
inline constexpr std::uint32_t max_bprintf_varargs = 12;      // MAX_BPRINTF_VARARGS (snprintf)
inline constexpr std::uint32_t max_trace_printk_varargs = 3;  // MAX_TRACE_PRINTK_VARARGS
inline constexpr std::size_t max_bprintf_buf = 1024;          // MAX_BPRINTF_BUF (trace_printk)

struct HelperOptions {
  // Where bpf_trace_printk writes each formatted message (as the kernel's trace_pipe gets
  // it: the program's own newline included). Empty: standard error.
  std::function<void(std::string_view)> trace_sink = {};
  // bpf_get_prandom_u32: 0 draws a seed from std::random_device; another value makes the
  // sequence reproducible (one sequence shared by every program and thread using this
  // registry).
  std::uint64_t prandom_seed = 0;
  // What bpf_get_current_task returns. Linux gives the address of the current task_struct,
  // which programs pass to bpf_probe_read_kernel; bpfvm has none, and 0 makes such reads fail
  // with -EFAULT (zeroed destination). An embedder may give the address of memory it admits to
  // the run (HelperCall::grant, RunInput regions) to serve its own task layout.
  std::uint64_t current_task = 0;
  // bpf_jiffies64's tick rate (Linux: CONFIG_HZ). 0: the running kernel's CONFIG_HZ, read
  // from /proc/config.gz or /boot/config-$(uname -r), else 250.
  std::uint32_t config_hz = 0;
  // bpf_get_stackid's call chain: fills `ips` with up to ips.size() instruction pointers,
  // innermost first, of the user stack (`user`, BPF_F_USER_STACK) or the kernel's, and
  // returns how many. Empty (the default): no frames, and get_stackid returns -EFAULT, as
  // Linux does when there is no call chain. Called on the thread running the program.
  std::function<std::size_t(bool user, std::span<std::uint64_t> ips)> stack_trace = {};
};

// A registry with every helper above. Embedders add their own with HelperRegistry::add,
// giving a HelperPrototype so the verifier can check calls to them.
HelperRegistry linux_helpers(const HelperOptions& options = {});

// Adds the same helpers to an existing registry; fails when one of their ids is taken.
Status add_linux_helpers(HelperRegistry& registry, const HelperOptions& options = {});

// The prototype linux_helpers() gives helper `id`, or nullopt when it has none.
std::optional<HelperPrototype> linux_helper_prototype(std::uint32_t id);

}  // namespace bpfvm
