// Dispatches on the first byte of the packet through a program array: each stage counts
// itself in a global array and tail-calls the next while the packet asks for more stages.
#include "common.h"

__u64 stage_hits[4] = {};

int stage1(struct xdp_md *ctx);
int stage2(struct xdp_md *ctx);
int stage3(struct xdp_md *ctx);

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 4);
  __uint(key_size, sizeof(__u32));
  __array(values, int(struct xdp_md *));
} stages SEC(".maps") = {
    .values = {[1] = (void *)&stage1, [2] = (void *)&stage2, [3] = (void *)&stage3},
};

static __always_inline int next_stage(struct xdp_md *ctx, __u32 stage) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u8 *first = data;
  if ((void *)(first + 1) > data_end) return XDP_ABORTED;
  __sync_fetch_and_add(&stage_hits[stage], 1);
  if (*first > stage) bpf_tail_call(ctx, &stages, stage + 1);
  return XDP_PASS + stage;  // reached when no further stage runs (or the tail call failed)
}

SEC("xdp")
int stage0(struct xdp_md *ctx) { return next_stage(ctx, 0); }
SEC("xdp")
int stage1(struct xdp_md *ctx) { return next_stage(ctx, 1); }
SEC("xdp")
int stage2(struct xdp_md *ctx) { return next_stage(ctx, 2); }
SEC("xdp")
int stage3(struct xdp_md *ctx) { return next_stage(ctx, 3); }

char LICENSE[] SEC("license") = "GPL";
