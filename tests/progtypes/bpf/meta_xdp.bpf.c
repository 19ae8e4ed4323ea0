// bpf_xdp_adjust_head then bpf_xdp_adjust_meta from xdp, their deltas the two u32s after the
// Ethernet header (moving data forward first makes room for more metadata than the headroom
// in front of the packet would). r0 is the head result in bits 8-15 (its negation) and the
// meta result's negation in bits 0-7. After a successful adjust_meta the program writes 0xa5 over every metadata byte (up to 64) through the
// new data_meta. Returns the helper's result (tests/progtypes/resize_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int meta_xdp(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __s32 *args = data + 14;
  if ((void *)(args + 2) > end) return -1;
  __s32 meta_delta = args[1];
  long head = bpf_xdp_adjust_head(ctx, args[0]);
  long ret = bpf_xdp_adjust_meta(ctx, meta_delta);
  if (ret != 0) return (-head & 0xff) << 8 | (-ret & 0xff);
  __u8 *meta = (void *)(long)ctx->data_meta;
  data = (void *)(long)ctx->data;
  for (int i = 0; i < 64; i++) {
    if ((void *)(meta + i + 1) > data) break;
    meta[i] = 0xa5;
  }
  return (-head & 0xff) << 8;
}

char LICENSE[] SEC("license") = "GPL";
