// Counts packets and bytes per IP protocol in an array map; drops UDP to port 9 (discard).
#include "common.h"

struct counter {
  __u64 packets;
  __u64 bytes;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, struct counter);
} per_protocol SEC(".maps");

SEC("xdp")
int count_protocols(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_ABORTED;
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > data_end) return XDP_ABORTED;

  __u32 key = ip->protocol;
  struct counter *counter = bpf_map_lookup_elem(&per_protocol, &key);
  if (!counter) return XDP_ABORTED;
  __sync_fetch_and_add(&counter->packets, 1);
  __sync_fetch_and_add(&counter->bytes, (__u64)(data_end - data));

  if (ip->protocol == IPPROTO_UDP && ip->ihl == 5) {
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > data_end) return XDP_ABORTED;
    if (udp->dest == bpf_htons(9)) return XDP_DROP;
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
