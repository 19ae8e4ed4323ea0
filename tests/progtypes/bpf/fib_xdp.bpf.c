// bpf_fib_lookup from xdp, driven by the packet: after the Ethernet header, a u32 of flags,
// 4 bytes of padding and a struct bpf_fib_lookup. The helper's result goes back into the
// packet (data_out) and its return value is the program's, so the kernel and bpfvm can be
// compared byte for byte (tests/progtypes/net_helpers_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct probe {
  __u32 flags;
  __u32 pad;
  struct bpf_fib_lookup params;
};

SEC("xdp")
int fib_xdp(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct probe *probe = data + 14;
  if ((void *)(probe + 1) > end) return -1;
  struct bpf_fib_lookup params;
  __builtin_memcpy(&params, &probe->params, sizeof(params));
  long rc = bpf_fib_lookup(ctx, &params, sizeof(params), probe->flags);
  __builtin_memcpy(&probe->params, &params, sizeof(params));
  return rc;
}

char LICENSE[] SEC("license") = "GPL";
