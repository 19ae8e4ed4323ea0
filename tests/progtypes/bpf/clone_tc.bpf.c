// bpf_clone_redirect from tc: the ifindex and flags are the u32s after the Ethernet header;
// returns the helper's result (tests/progtypes/net_helpers_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int clone_tc(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  __u32 *args = data + 14;
  if ((void *)(args + 2) > end) return -1;
  return bpf_clone_redirect(skb, args[0], args[1]);
}

char LICENSE[] SEC("license") = "GPL";
