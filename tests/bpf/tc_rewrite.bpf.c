// A tc classifier that rewrites IPv4 destination 10.0.0.1 to 10.0.0.2 with bpf_skb_store_bytes
// and fixes the IP and TCP/UDP checksums with l3/l4_csum_replace; marks what it saw.
#include "common.h"

#define IP_DST_OFFSET (ETH_HLEN + offsetof(struct iphdr, daddr))
#define IP_CSUM_OFFSET (ETH_HLEN + offsetof(struct iphdr, check))

__u32 rewritten;
__u32 last_len;
__u32 last_protocol;

SEC("tc")
int rewrite_destination(struct __sk_buff *skb) {
  last_len = skb->len;
  last_protocol = skb->protocol;
  void *data = (void *)(long)skb->data;
  void *data_end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > data_end) return TC_ACT_OK;
  if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5) return TC_ACT_OK;
  __u32 old_address = ip->daddr;
  if (old_address != bpf_htonl(0x0a000001)) return TC_ACT_OK;
  __u32 new_address = bpf_htonl(0x0a000002);
  __u8 protocol = ip->protocol;

  __u32 l4_csum_offset;
  if (protocol == IPPROTO_TCP)
    l4_csum_offset = ETH_HLEN + sizeof(struct iphdr) + offsetof(struct tcphdr, check);
  else if (protocol == IPPROTO_UDP)
    l4_csum_offset = ETH_HLEN + sizeof(struct iphdr) + offsetof(struct udphdr, check);
  else
    return TC_ACT_SHOT;

  if (bpf_l4_csum_replace(skb, l4_csum_offset, old_address, new_address,
                          BPF_F_PSEUDO_HDR | sizeof(new_address)) != 0)
    return TC_ACT_SHOT;
  if (bpf_l3_csum_replace(skb, IP_CSUM_OFFSET, old_address, new_address, sizeof(new_address)) !=
      0)
    return TC_ACT_SHOT;
  if (bpf_skb_store_bytes(skb, IP_DST_OFFSET, &new_address, sizeof(new_address), 0) != 0)
    return TC_ACT_SHOT;
  rewritten += 1;
  skb->mark = 0x42;
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
