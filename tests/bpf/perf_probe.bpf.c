// bpf_perf_event_output into a perf_event_array on the current CPU, with what the probe reads
// found: a string copied by bpf_probe_read_kernel_str, a word by bpf_probe_read_user, a failed
// read of an address nothing maps, and bpf_get_current_task. Run on a raw context whose first
// bytes are a NUL-terminated string.
#include "common.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct event {
  __s64 str_len;    // bpf_probe_read_kernel_str's result
  char name[8];     // the string, truncated to 7 bytes and a NUL
  __u64 word;       // bpf_probe_read_user of the context's first 8 bytes
  __s64 bad_read;   // bpf_probe_read_kernel of address 16: -EFAULT
  __u64 task;       // bpf_get_current_task
};

SEC("bpfvm/raw")
int emit(void *memory) {
  struct event e = {};
  e.str_len = bpf_probe_read_kernel_str(e.name, sizeof(e.name), memory);
  bpf_probe_read_user(&e.word, sizeof(e.word), memory);
  __u64 ignored;
  e.bad_read = bpf_probe_read_kernel(&ignored, sizeof(ignored), (void *)16);
  e.task = bpf_get_current_task();
  long first = bpf_perf_event_output(memory, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
  // A slot past max_entries: -E2BIG.
  long past = bpf_perf_event_output(memory, &events, 0xfffffffe, &e, sizeof(e));
  return first == 0 && past == -7 ? 0 : 1;
}

char LICENSE[] SEC("license") = "GPL";
