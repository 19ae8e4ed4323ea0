// Parses Ethernet (with up to two VLAN tags), IPv4 and IPv6, TCP and UDP; counts bytes per
// flow in a hash map with a 16-byte key; answers ICMP echo requests in place (XDP_TX) by
// swapping addresses and patching the checksum.
#include "common.h"

struct flow_key {
  __u32 source;
  __u32 destination;
  __u16 source_port;
  __u16 destination_port;
  __u8 protocol;
  __u8 pad[3];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct flow_key);
  __type(value, __u64);
} flow_bytes SEC(".maps");

static __always_inline void swap_mac(struct ethhdr *eth) {
  __u8 tmp[ETH_ALEN];
  __builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

SEC("xdp")
int parse_flows(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_DROP;

  void *cursor = eth + 1;
  __u16 proto = eth->h_proto;
#pragma unroll
  for (int i = 0; i < 2; i++) {
    if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD)) break;
    struct vlan_tag *tag = cursor;
    if ((void *)(tag + 1) > data_end) return XDP_DROP;
    proto = tag->encapsulated_proto;
    cursor = tag + 1;
  }

  struct flow_key key = {};
  void *l4;
  if (proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = cursor;
    if ((void *)(ip + 1) > data_end) return XDP_DROP;
    if (ip->ihl < 5) return XDP_DROP;
    key.source = ip->saddr;
    key.destination = ip->daddr;
    key.protocol = ip->protocol;
    l4 = (void *)ip + ip->ihl * 4;
    if (ip->protocol == IPPROTO_ICMP) {
      struct icmphdr *icmp = l4;
      if ((void *)(icmp + 1) > data_end) return XDP_DROP;
      if (icmp->type == ICMP_ECHO) {
        swap_mac(eth);
        __u32 address = ip->saddr;
        ip->saddr = ip->daddr;
        ip->daddr = address;
        icmp->type = ICMP_ECHOREPLY;
        // RFC 1624: the checksum changes by the difference of the type byte (8 -> 0).
        __u32 sum = (__u16)~bpf_ntohs(icmp->checksum) + (__u16)~(ICMP_ECHO << 8);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        icmp->checksum = bpf_htons(~sum & 0xffff);
        return XDP_TX;
      }
    }
  } else if (proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = cursor;
    if ((void *)(ip6 + 1) > data_end) return XDP_DROP;
    key.source = ip6->saddr.in6_u.u6_addr32[3];
    key.destination = ip6->daddr.in6_u.u6_addr32[3];
    key.protocol = ip6->nexthdr;
    l4 = ip6 + 1;
  } else {
    return XDP_PASS;
  }

  if (key.protocol == IPPROTO_TCP) {
    struct tcphdr *tcp = l4;
    if ((void *)(tcp + 1) > data_end) return XDP_DROP;
    key.source_port = bpf_ntohs(tcp->source);
    key.destination_port = bpf_ntohs(tcp->dest);
  } else if (key.protocol == IPPROTO_UDP) {
    struct udphdr *udp = l4;
    if ((void *)(udp + 1) > data_end) return XDP_DROP;
    key.source_port = bpf_ntohs(udp->source);
    key.destination_port = bpf_ntohs(udp->dest);
  }

  __u64 length = data_end - data;
  __u64 *bytes = bpf_map_lookup_elem(&flow_bytes, &key);
  if (bytes) {
    __sync_fetch_and_add(bytes, length);
  } else if (bpf_map_update_elem(&flow_bytes, &key, &length, BPF_NOEXIST) != 0) {
    return XDP_ABORTED;
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
