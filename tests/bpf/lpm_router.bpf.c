// Routes IPv4 packets by longest-prefix match on the destination: the first packet installs
// the routing table from the program itself, so the kernel and bpfvm start from the same maps.
#include "common.h"

struct route_key {
  __u32 prefix_length;
  __u32 address;  // network byte order
};

struct route {
  __u32 action;  // an XDP action
  __u32 hits;
};

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 64);
  __type(key, struct route_key);
  __type(value, struct route);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} routes SEC(".maps");

__u32 installed = 0;

static __always_inline void add_route(__u32 a, __u32 b, __u32 c, __u32 d, __u32 length,
                                      __u32 action) {
  struct route_key key = {length, bpf_htonl(a << 24 | b << 16 | c << 8 | d)};
  struct route value = {action, 0};
  bpf_map_update_elem(&routes, &key, &value, BPF_ANY);
}

SEC("xdp")
int route_by_prefix(struct xdp_md *ctx) {
  if (!installed) {
    add_route(0, 0, 0, 0, 0, XDP_PASS);        // default route
    add_route(10, 0, 0, 0, 8, XDP_DROP);       // 10/8
    add_route(10, 1, 0, 0, 16, XDP_TX);        // 10.1/16 overrides 10/8
    add_route(10, 1, 2, 3, 32, XDP_ABORTED);   // one host
    add_route(192, 168, 0, 0, 16, XDP_DROP);
    installed = 1;
  }
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
  struct route_key key = {32, ip->daddr};
  struct route *route = bpf_map_lookup_elem(&routes, &key);
  if (!route) return XDP_PASS;
  __sync_fetch_and_add(&route->hits, 1);
  return route->action;
}

char LICENSE[] SEC("license") = "GPL";
