// The Linux helper set: ids (enum bpf_func_id), functions and prototypes (struct
// bpf_func_proto, as kernel/bpf/helpers.c and kernel/trace/bpf_trace.c declare them).
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/linux_prototypes.hpp>

#include "helpers/helper_functions.hpp"
#include "helpers/helper_support.hpp"

#include <memory>
#include <random>

namespace bpfvm {
namespace {

// The functions of the helpers bpfvm runs; their names and prototypes come from the table
// of every Linux helper (linux_prototypes.hpp), the one source of both.
struct Entry {
  std::uint32_t id;
  HelperFunction function;
};

// clang-format off
const Entry entries[] = {
  {linux_helper::map_lookup_elem, helpers::map_lookup_elem},
  {linux_helper::map_update_elem, helpers::map_update_elem},
  {linux_helper::map_delete_elem, helpers::map_delete_elem},
  {linux_helper::probe_read, helpers::probe_read},
  {linux_helper::ktime_get_ns, helpers::ktime_get_ns},
  {linux_helper::trace_printk, helpers::trace_printk},
  {linux_helper::get_prandom_u32, helpers::get_prandom_u32},
  {linux_helper::get_smp_processor_id, helpers::get_smp_processor_id},
  {linux_helper::tail_call, helpers::tail_call},
  {linux_helper::get_current_pid_tgid, helpers::get_current_pid_tgid},
  {linux_helper::get_current_uid_gid, helpers::get_current_uid_gid},
  {linux_helper::get_current_comm, helpers::get_current_comm},
  {linux_helper::perf_event_output, helpers::perf_event_output},
  {linux_helper::get_current_task, helpers::get_current_task},
  {linux_helper::probe_read_str, helpers::probe_read_str},
  {linux_helper::probe_read_user, helpers::probe_read_user},
  {linux_helper::probe_read_kernel, helpers::probe_read_kernel},
  {linux_helper::probe_read_user_str, helpers::probe_read_user_str},
  {linux_helper::probe_read_kernel_str, helpers::probe_read_kernel_str},
  {linux_helper::map_push_elem, helpers::map_push_elem},
  {linux_helper::map_pop_elem, helpers::map_pop_elem},
  {linux_helper::map_peek_elem, helpers::map_peek_elem},
  {linux_helper::ktime_get_boot_ns, helpers::ktime_get_boot_ns},
  {linux_helper::jiffies64, helpers::jiffies64},
  {linux_helper::get_stackid, helpers::get_stackid},
  {linux_helper::ringbuf_output, helpers::ringbuf_output},
  {linux_helper::ringbuf_reserve, helpers::ringbuf_reserve},
  {linux_helper::ringbuf_submit, helpers::ringbuf_submit},
  {linux_helper::ringbuf_discard, helpers::ringbuf_discard},
  {linux_helper::ringbuf_query, helpers::ringbuf_query},
  {linux_helper::for_each_map_elem, helpers::for_each_map_elem},
  {linux_helper::snprintf, helpers::snprintf},
  {linux_helper::loop, helpers::loop},
  {linux_helper::strncmp, helpers::strncmp},
};
// clang-format on

}  // namespace

Status add_linux_helpers(HelperRegistry& registry, const HelperOptions& options) {
  auto state = std::make_shared<helpers::HelperState>();
  state->options = options;
  std::uint64_t seed = options.prandom_seed;
  if (seed == 0)
    seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
  state->prandom.store(seed);
  for (const Entry& entry : entries) {
    const LinuxHelperInfo* info = linux_helper_info(entry.id);
    Status added = registry.add({.id = entry.id,
                                 .name = std::string(info->name.substr(4)),  // no "bpf_"
                                 .function = entry.function,
                                 .user = state.get(),
                                 .prototype = info->prototype,
                                 .owner = state,
                                 .fast_path = entry.function == helpers::map_lookup_elem
                                                  ? HelperFastPath::map_lookup_elem
                                                  : HelperFastPath::none});
    if (!added) return added;
  }
  return Ok{};
}

HelperRegistry linux_helpers(const HelperOptions& options) {
  HelperRegistry registry;
  Status added = add_linux_helpers(registry, options);
  (void)added;  // an empty registry has every id free
  return registry;
}

std::optional<HelperPrototype> linux_helper_prototype(std::uint32_t id) {
  for (const Entry& entry : entries)
    if (entry.id == id) return linux_prototype(id);
  return std::nullopt;
}

}  // namespace bpfvm
