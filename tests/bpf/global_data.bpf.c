// Global data in all three sections: a read-only configuration (.rodata), counters that start
// with values (.data), a zeroed table (.bss), and string constants compared in the program.
#include "common.h"

const volatile __u32 multiplier = 7;
const char greeting[] = "bpfvm";
__u64 packets_seen = 1000;
__u32 length_histogram[16];

static __always_inline int same_prefix(const __u8 *data, const void *data_end) {
  if ((void *)(data + sizeof(greeting) - 1) > data_end) return 0;
#pragma unroll
  for (int i = 0; i < (int)sizeof(greeting) - 1; i++)
    if (data[i] != greeting[i]) return 0;
  return 1;
}

SEC("xdp")
int use_globals(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u32 length = data_end - data;
  packets_seen += 1;
  __u32 bucket = length / 64;
  if (bucket > 15) bucket = 15;
  length_histogram[bucket] += multiplier;
  return same_prefix(data, data_end) ? XDP_TX : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
