// Two XDP programs for `bpfvm verify` and `bpfvm run` verifying first: one safe whatever the
// verifier learns next, one that every verifier must reject (Linux does: "invalid access to
// packet"), since it reads the packet without comparing against data_end. bpfvm runs the
// second in checked mode, where the read is checked against the packet.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int always_pass(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_PASS;
}

SEC("xdp")
int unchecked_read(struct xdp_md *ctx) {
  const unsigned char *data = (const unsigned char *)(long)ctx->data;
  return data[0] == 0 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
