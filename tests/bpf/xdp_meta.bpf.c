// XDP metadata and bpf_redirect, for the object differential test: `tag_and_redirect` reserves
// 8 bytes of metadata (bpf_xdp_adjust_meta) holding the EtherType and the frame's length,
// redirects UDP over IPv4 to interface 3 and passes the rest; a second adjust_meta asks for
// more than the metadata limit and must fail.
#include "common.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u64);
} meta_stats SEC(".maps");

SEC("xdp")
int tag_and_redirect(struct xdp_md *ctx) {
  __u32 slot = 0;
  __u64 *calls = bpf_map_lookup_elem(&meta_stats, &slot);
  if (!calls) return XDP_ABORTED;
  *calls += 1;
  if (bpf_xdp_adjust_meta(ctx, -8) != 0) return XDP_DROP;
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u32 *meta = (void *)(long)ctx->data_meta;
  if ((void *)(meta + 2) > data) return XDP_ABORTED;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_PASS;
  meta[0] = eth->h_proto;
  meta[1] = (__u32)(data_end - data);
  struct iphdr *ip = (void *)(eth + 1);
  int udp = (void *)(ip + 1) <= data_end && eth->h_proto == bpf_htons(ETH_P_IP) &&
            ip->protocol == IPPROTO_UDP;
  // Packet pointers are invalid after this call, whatever it returns.
  slot = 1;
  __u64 *refused = bpf_map_lookup_elem(&meta_stats, &slot);
  if (refused && bpf_xdp_adjust_meta(ctx, -256) != 0) *refused += 1;
  return udp ? bpf_redirect(3, 0) : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
