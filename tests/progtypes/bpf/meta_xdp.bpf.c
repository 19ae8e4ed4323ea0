// bpf_xdp_adjust_meta from xdp, the delta from the u32 after the Ethernet header. After a
// successful call the program writes 0xa5 over every metadata byte (up to 64) through the
// new data_meta. Returns the helper's result (tests/progtypes/resize_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int meta_xdp(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __s32 *args = data + 14;
  if ((void *)(args + 1) > end) return -1;
  long ret = bpf_xdp_adjust_meta(ctx, args[0]);
  if (ret != 0) return ret;
  __u8 *meta = (void *)(long)ctx->data_meta;
  data = (void *)(long)ctx->data;
  for (int i = 0; i < 64; i++) {
    if ((void *)(meta + i + 1) > data) break;
    meta[i] = 0xa5;
  }
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
