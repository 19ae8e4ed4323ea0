// The helper functions of the Linux helper set, by file; linux_helpers.cpp registers them
// with their ids and prototypes.
#pragma once

#include <bpfvm/helper.hpp>

#include <cstdint>

namespace bpfvm::helpers {

#define BPFVM_HELPER(name)                                                                   \
  std::uint64_t name(HelperCall& call, std::uint64_t r1, std::uint64_t r2, std::uint64_t r3, \
                     std::uint64_t r4, std::uint64_t r5)

// map_helpers.cpp
BPFVM_HELPER(map_lookup_elem);
BPFVM_HELPER(map_update_elem);
BPFVM_HELPER(map_delete_elem);
BPFVM_HELPER(map_push_elem);
BPFVM_HELPER(map_pop_elem);
BPFVM_HELPER(map_peek_elem);
BPFVM_HELPER(for_each_map_elem);

// ringbuf_helpers.cpp
BPFVM_HELPER(ringbuf_output);
BPFVM_HELPER(ringbuf_reserve);
BPFVM_HELPER(ringbuf_submit);
BPFVM_HELPER(ringbuf_discard);
BPFVM_HELPER(ringbuf_query);

// control_helpers.cpp: tail calls and bpf_loop
BPFVM_HELPER(tail_call);
BPFVM_HELPER(loop);

// string_helpers.cpp
BPFVM_HELPER(trace_printk);
BPFVM_HELPER(snprintf);
BPFVM_HELPER(strncmp);
BPFVM_HELPER(probe_read);

// task_helpers.cpp: time, randomness, the calling thread
BPFVM_HELPER(ktime_get_ns);
BPFVM_HELPER(ktime_get_boot_ns);
BPFVM_HELPER(jiffies64);
BPFVM_HELPER(get_prandom_u32);
BPFVM_HELPER(get_smp_processor_id);
BPFVM_HELPER(get_current_pid_tgid);
BPFVM_HELPER(get_current_uid_gid);
BPFVM_HELPER(get_current_comm);

// probe_helpers.cpp: probe reads past probe_read, the current task
BPFVM_HELPER(probe_read_str);
BPFVM_HELPER(probe_read_user);
BPFVM_HELPER(probe_read_kernel);
BPFVM_HELPER(probe_read_user_str);
BPFVM_HELPER(probe_read_kernel_str);
BPFVM_HELPER(get_current_task);

// perf_helpers.cpp
BPFVM_HELPER(perf_event_output);
// stack_helpers.cpp
BPFVM_HELPER(get_stackid);

#undef BPFVM_HELPER

}  // namespace bpfvm::helpers
