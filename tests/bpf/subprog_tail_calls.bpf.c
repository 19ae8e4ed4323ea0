// bpf_tail_call from a subprogram (Linux 5.10+ on x86-64): the target replaces only the
// subprogram's frame, its return value is what the subprogram returns, and the caller goes on.
// The first byte of the packet picks the slot: 1 reaches `tx`, 2 reaches `chain` (which
// tail-calls `tx` from its entry frame), others are empty and the subprogram goes on itself.
#include "common.h"

__u64 hits[4] = {};

int tx(struct xdp_md *ctx);
int chain(struct xdp_md *ctx);

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 4);
  __uint(key_size, sizeof(__u32));
  __array(values, int(struct xdp_md *));
} targets SEC(".maps") = {
    .values = {[1] = (void *)&tx, [2] = (void *)&chain},
};

SEC("xdp")
int tx(struct xdp_md *ctx) {
  __sync_fetch_and_add(&hits[1], 1);
  return XDP_TX;
}

SEC("xdp")
int chain(struct xdp_md *ctx) {
  __sync_fetch_and_add(&hits[2], 1);
  bpf_tail_call(ctx, &targets, 1);
  return XDP_ABORTED;
}

__attribute__((noinline)) static int dispatch(struct xdp_md *ctx, __u32 slot) {
  volatile __u32 local = slot * 7;  // a value on the subprogram's own stack frame
  bpf_tail_call(ctx, &targets, slot);
  __sync_fetch_and_add(&hits[3], 1);  // only when the tail call failed
  return 40 + local;
}

SEC("xdp")
int from_subprogram(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u8 *first = data;
  if ((void *)(first + 1) > data_end) return XDP_ABORTED;
  __u32 kept = *first + 100;  // held in a callee-saved register across the call
  int result = dispatch(ctx, *first);
  __sync_fetch_and_add(&hits[0], 1);  // the caller goes on after the subprogram returns
  if (result == XDP_TX) return kept == 101 || kept == 102 ? XDP_TX : XDP_ABORTED;
  return result == 40 + (int)(kept - 100) * 7 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
