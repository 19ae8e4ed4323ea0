// bpf_get_hash_recalc from tc: returns the flow hash, or 0 when __sk_buff.hash does not hold
// the same value afterwards (tests/progtypes/net_helpers_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int hash_tc(struct __sk_buff *skb) {
  __u32 hash = bpf_get_hash_recalc(skb);
  if (skb->hash != hash) return 0;
  if (bpf_get_hash_recalc(skb) != hash) return 0;  // computed once, then kept
  return hash;
}

char LICENSE[] SEC("license") = "GPL";
