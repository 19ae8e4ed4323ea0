// bpf-to-bpf calls: non-inlined functions with several arguments, a call chain three deep, a
// function used by two programs, and stack use in callee frames.
#include "common.h"

__u64 results[4];

static __attribute__((noinline)) __u64 mix(__u64 a, __u64 b, __u64 c, __u64 d, __u64 e) {
  return (a * 31 + b) ^ (c << 3) ^ (d >> 2) ^ e;
}

static __attribute__((noinline)) __u64 checksum_bytes(const __u8 *data, const void *data_end) {
  __u8 copy[32] = {};
  __u64 sum = 0;
  for (int i = 0; i < 32; i++) {
    if ((void *)(data + i + 1) > data_end) break;
    copy[i] = data[i];
  }
  for (int i = 0; i < 32; i++) sum = sum * 131 + copy[i];
  return mix(sum, sizeof(copy), sum >> 7, sum & 0xff, 0x5a5a);
}

static __attribute__((noinline)) __u64 summarize(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  return checksum_bytes(data, data_end) + mix(data_end - data, 1, 2, 3, 4);
}

SEC("xdp")
int call_chain(struct xdp_md *ctx) {
  __u64 value = summarize(ctx);
  results[0] = value;
  return (value & 1) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int call_shared(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  results[1] = checksum_bytes(data, data_end);
  results[2] = mix(results[1], 2, 3, 4, 5);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
