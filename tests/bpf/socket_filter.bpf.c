// A socket filter: keeps the first 64 bytes of TCP packets to port 80 or 443 and of UDP
// packets, drops the rest; reads the packet with LD_ABS loads and the skb's length.
#include "common.h"

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

__u32 kept_bytes;

SEC("socket")
int keep_web(struct __sk_buff *skb) {
  if (load_half(skb, offsetof(struct ethhdr, h_proto)) != ETH_P_IP) return 0;
  __u32 protocol = load_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol));
  __u32 header_length = (load_byte(skb, ETH_HLEN) & 0xf) * 4;
  __u32 keep = skb->len < 64 ? skb->len : 64;
  if (protocol == IPPROTO_UDP) {
    kept_bytes += keep;
    return keep;
  }
  if (protocol != IPPROTO_TCP) return 0;
  __u32 port = load_half(skb, ETH_HLEN + header_length + offsetof(struct tcphdr, dest));
  if (port != 80 && port != 443) return 0;
  kept_bytes += keep;
  return keep;
}

char LICENSE[] SEC("license") = "GPL";
