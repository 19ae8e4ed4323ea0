// The Linux helper set: ids (enum bpf_func_id), functions and prototypes (struct
// bpf_func_proto, as kernel/bpf/helpers.c and kernel/trace/bpf_trace.c declare them).
#include <bpfvm/linux_helpers.hpp>

#include "helpers/helper_functions.hpp"
#include "helpers/helper_support.hpp"

#include <memory>
#include <random>

namespace bpfvm {
namespace {

using A = ArgKind;
using R = ReturnKind;

struct Entry {
  std::uint32_t id;
  const char* name;
  HelperFunction function;
  HelperPrototype prototype;
};

// clang-format off
const Entry entries[] = {
  {linux_helper::map_lookup_elem, "map_lookup_elem", helpers::map_lookup_elem,
   {R::map_value_or_null, {A::const_map_ptr, A::map_key}}},
  {linux_helper::map_update_elem, "map_update_elem", helpers::map_update_elem,
   {R::integer, {A::const_map_ptr, A::map_key, A::map_value, A::anything}}},
  {linux_helper::map_delete_elem, "map_delete_elem", helpers::map_delete_elem,
   {R::integer, {A::const_map_ptr, A::map_key}}},
  {linux_helper::probe_read, "probe_read", helpers::probe_read,
   {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {linux_helper::ktime_get_ns, "ktime_get_ns", helpers::ktime_get_ns, {R::integer, {}}},
  {linux_helper::trace_printk, "trace_printk", helpers::trace_printk,
   {R::integer, {A::mem, A::const_size, A::anything, A::anything, A::anything}}},
  {linux_helper::get_prandom_u32, "get_prandom_u32", helpers::get_prandom_u32, {R::integer, {}}},
  {linux_helper::get_smp_processor_id, "get_smp_processor_id", helpers::get_smp_processor_id,
   {R::integer, {}}},
  {linux_helper::tail_call, "tail_call", helpers::tail_call,
   {R::no_return, {A::ctx, A::const_map_ptr, A::anything}}},
  {linux_helper::get_current_pid_tgid, "get_current_pid_tgid", helpers::get_current_pid_tgid,
   {R::integer, {}}},
  {linux_helper::get_current_uid_gid, "get_current_uid_gid", helpers::get_current_uid_gid,
   {R::integer, {}}},
  {linux_helper::get_current_comm, "get_current_comm", helpers::get_current_comm,
   {R::integer, {A::uninit_mem, A::const_size}}},
  // TODO(merge): from the Linux prototype table (bpf_perf_event_output_proto,
  // bpf_get_current_task_proto, bpf_probe_read_{user,kernel}{,_str}_proto).
  {linux_helper::perf_event_output, "perf_event_output", helpers::perf_event_output,
   {R::integer, {A::ctx, A::const_map_ptr, A::anything, A::mem, A::const_size_or_zero}}},
  {linux_helper::get_current_task, "get_current_task", helpers::get_current_task,
   {R::integer, {}}},
  {linux_helper::probe_read_str, "probe_read_str", helpers::probe_read_str,
   {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {linux_helper::probe_read_user, "probe_read_user", helpers::probe_read_user,
   {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {linux_helper::probe_read_kernel, "probe_read_kernel", helpers::probe_read_kernel,
   {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {linux_helper::probe_read_user_str, "probe_read_user_str", helpers::probe_read_user_str,
   {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {linux_helper::probe_read_kernel_str, "probe_read_kernel_str", helpers::probe_read_kernel_str,
   {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {linux_helper::map_push_elem, "map_push_elem", helpers::map_push_elem,
   {R::integer, {A::const_map_ptr, A::map_value, A::anything}}},
  {linux_helper::map_pop_elem, "map_pop_elem", helpers::map_pop_elem,
   {R::integer, {A::const_map_ptr, A::map_value}}},
  {linux_helper::map_peek_elem, "map_peek_elem", helpers::map_peek_elem,
   {R::integer, {A::const_map_ptr, A::map_value}}},
  {linux_helper::ktime_get_boot_ns, "ktime_get_boot_ns", helpers::ktime_get_boot_ns,
   {R::integer, {}}},
  {linux_helper::ringbuf_output, "ringbuf_output", helpers::ringbuf_output,
   {R::integer, {A::const_map_ptr, A::mem, A::const_size_or_zero, A::anything}}},
  {linux_helper::ringbuf_reserve, "ringbuf_reserve", helpers::ringbuf_reserve,
   {R::ringbuf_record_or_null, {A::const_map_ptr, A::const_alloc_size, A::anything}}},
  {linux_helper::ringbuf_submit, "ringbuf_submit", helpers::ringbuf_submit,
   {R::void_, {A::ringbuf_record, A::anything}}},
  {linux_helper::ringbuf_discard, "ringbuf_discard", helpers::ringbuf_discard,
   {R::void_, {A::ringbuf_record, A::anything}}},
  {linux_helper::ringbuf_query, "ringbuf_query", helpers::ringbuf_query,
   {R::integer, {A::const_map_ptr, A::anything}}},
  {linux_helper::for_each_map_elem, "for_each_map_elem", helpers::for_each_map_elem,
   {R::integer, {A::const_map_ptr, A::func, A::stack_or_null, A::anything}}},
  {linux_helper::snprintf, "snprintf", helpers::snprintf,
   {R::integer, {A::mem_or_null, A::const_size_or_zero, A::const_str, A::mem_or_null,
                 A::const_size_or_zero}}},
  {linux_helper::loop, "loop", helpers::loop,
   {R::integer, {A::anything, A::func, A::stack_or_null, A::anything}}},
  {linux_helper::strncmp, "strncmp", helpers::strncmp,
   {R::integer, {A::mem, A::const_size, A::const_str}}},
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
    Status added = registry.add({.id = entry.id,
                                 .name = entry.name,
                                 .function = entry.function,
                                 .user = state.get(),
                                 .prototype = entry.prototype,
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
    if (entry.id == id) return entry.prototype;
  return std::nullopt;
}

}  // namespace bpfvm
