// A tc program that mirrors every packet to interface 2 with bpf_clone_redirect and tags it
// with its flow hash (bpf_get_hash_recalc) in skb->mark; the original goes on (TC_ACT_OK).
// The clone's result code goes to cb[0]. `bpfvm run --network` shows the clone.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define MIRROR_IFINDEX 2

SEC("tc")
int tc_mirror(struct __sk_buff *skb) {
  skb->mark = bpf_get_hash_recalc(skb);
  skb->cb[0] = (__u32)bpf_clone_redirect(skb, MIRROR_IFINDEX, 0);
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
