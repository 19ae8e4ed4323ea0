// An XDP IPv4 router as people write them with bpf_fib_lookup (as samples/bpf/xdp_fwd_kern.c):
// look the destination up with the packet's length, and on success rewrite the MACs,
// decrement the TTL (fixing the checksum) and send the frame back out (XDP_TX: bpfvm has no
// bpf_redirect yet). No neighbour: let the kernel resolve it (XDP_PASS); anything else is
// not forwarded (XDP_DROP). The lookup's result code goes to the `last_result` array.
// `bpfvm run --network` runs it over a described network (docs/network.md).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef AF_INET
#define AF_INET 2
#endif

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} last_result SEC(".maps");

SEC("xdp")
int xdp_router(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  struct iphdr *ip = data + sizeof(*eth);
  if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
  if (ip->ttl <= 1) return XDP_PASS;

  struct bpf_fib_lookup fib = {};
  fib.family = AF_INET;
  fib.tos = ip->tos;
  fib.l4_protocol = ip->protocol;
  fib.tot_len = bpf_ntohs(ip->tot_len);
  fib.ipv4_src = ip->saddr;
  fib.ipv4_dst = ip->daddr;
  fib.ifindex = ctx->ingress_ifindex;
  long rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
  __u32 key = 0, code = (__u32)rc;
  bpf_map_update_elem(&last_result, &key, &code, BPF_ANY);
  if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) return XDP_PASS;
  if (rc != BPF_FIB_LKUP_RET_SUCCESS) return XDP_DROP;

  // ip_decrease_ttl: the TTL is the high byte of its 16-bit word, so the checksum grows by
  // 0x0100, end-around carry folded in.
  __u32 check = ip->check;
  check += bpf_htons(0x0100);
  ip->check = (__u16)(check + (check >= 0xFFFF));
  ip->ttl--;
  __builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
  return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
