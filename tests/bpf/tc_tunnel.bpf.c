// Two tc programs around a tunnel, for the object differential test: `encapsulate` pads
// IPv4 UDP frames with a 16-byte trailer (bpf_skb_change_tail), sets a tunnel key derived from
// the flow (bpf_skb_set_tunnel_key), reads it back (bpf_skb_get_tunnel_key) and redirects to
// interface 5 (bpf_redirect); `push_outer` puts a copy of the Ethernet header in front of the
// frame (bpf_skb_change_head), as an L2-in-L2 encapsulation would. Maps count what happened.
#include "common.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 8);
  __type(key, __u32);
  __type(value, __u64);
} tunnel_stats SEC(".maps");

static __always_inline void count(__u32 slot, __u64 value) {
  __u64 *counter = bpf_map_lookup_elem(&tunnel_stats, &slot);
  if (counter) *counter += value;
}

SEC("tc")
int encapsulate(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data;
  void *data_end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > data_end) return TC_ACT_OK;
  if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP) return TC_ACT_OK;
  __u32 source = bpf_ntohl(ip->saddr), destination = bpf_ntohl(ip->daddr);
  __u8 tos = ip->tos;

  __u32 old_len = skb->len;
  if (bpf_skb_change_tail(skb, old_len + 16, 0) != 0) return TC_ACT_SHOT;
  // The packet moved: reload, and write the trailer through the new pointers.
  data = (void *)(long)skb->data;
  data_end = (void *)(long)skb->data_end;
  __u8 *trailer = data + (old_len & 0xfff);
  if ((void *)(trailer + 16) > data_end) return TC_ACT_SHOT;
  for (int i = 0; i < 16; i++) trailer[i] = 0xe0 + i;

  struct bpf_tunnel_key key = {};
  key.tunnel_id = source ^ destination;
  key.remote_ipv4 = destination;
  key.local_ipv4 = 0xac100001;  // 172.16.0.1
  key.tunnel_tos = tos;
  key.tunnel_ttl = 64;
  long set = bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX);
  struct bpf_tunnel_key back;
  long get = bpf_skb_get_tunnel_key(skb, &back, sizeof(back), 0);
  count(0, 1);
  count(1, set == 0 && get == 0);
  count(2, back.tunnel_id);
  count(3, back.remote_ipv4);  // the local address: get reports the receiver's view
  count(4, skb->len);
  return bpf_redirect(5, 0);
}

SEC("tc")
int push_outer(struct __sk_buff *skb) {
  struct ethhdr outer;
  if (bpf_skb_load_bytes(skb, 0, &outer, sizeof(outer)) != 0) return TC_ACT_OK;
  __u32 room = skb->len < 100 ? sizeof(outer) : 2 * sizeof(outer);
  if (bpf_skb_change_head(skb, room, 0) != 0) return TC_ACT_SHOT;
  if (bpf_skb_store_bytes(skb, 0, &outer, sizeof(outer), 0) != 0) return TC_ACT_SHOT;
  void *data = (void *)(long)skb->data;
  void *data_end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return TC_ACT_SHOT;
  eth->h_proto = bpf_htons(0x88b5);
  count(5, 1);
  count(6, skb->len);
  return bpf_redirect(7, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
