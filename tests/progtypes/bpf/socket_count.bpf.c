// A socket filter as clang builds it: LD_ABS through load_byte/load_half, skb_load_bytes and
// __sk_buff reads; accepts IPv4 UDP to port 53 (returning a snap length), drops the rest.
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

__attribute__((section("socket"), used)) int socket_count(struct __sk_buff *skb)
{
	__u8 header[20];
	if ((load_byte(skb, 0) >> 4) != 4)
		return 0;
	if (bpf_skb_load_bytes(skb, 0, header, sizeof(header)))
		return 1;
	if (header[9] != IPPROTO_UDP)
		return 2;
	if (load_half(skb, 22) != 53)
		return 3;
	skb->cb[0] = skb->len;
	return skb->cb[0] + skb->pkt_type * 1000 + header[8];
}

char _license[] __attribute__((section("license"), used)) = "GPL";
