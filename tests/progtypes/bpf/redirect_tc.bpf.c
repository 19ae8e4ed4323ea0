// bpf_redirect from tc and from xdp: the ifindex and the two halves of flags are the u32s
// after the Ethernet header; returns the helper's result (tests/progtypes/resize_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int redirect_tc(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  __u32 *args = data + 14;
  if ((void *)(args + 3) > end) return -1;
  return bpf_redirect(args[0], args[1] | (__u64)args[2] << 32);
}

char LICENSE[] SEC("license") = "GPL";
