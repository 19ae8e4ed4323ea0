// A sched_cls program as clang builds it: parses Ethernet/IPv4/TCP-or-UDP with direct packet
// access, rewrites the source address with skb_store_bytes and fixes both checksums with
// l3_csum_replace and l4_csum_replace, and uses __sk_buff fields (mark, cb, len, protocol,
// priority) through a local function that takes the context.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define IP_CSUM_OFF (ETH_HLEN + 10)
#define IP_SRC_OFF (ETH_HLEN + 12)
#define TCP_CSUM_OFF (ETH_HLEN + 20 + 16)
#define UDP_CSUM_OFF (ETH_HLEN + 20 + 6)

static __attribute__((noinline, section("tc"))) __u32 classify(struct __sk_buff *skb, __u32 seed)
{
	skb->cb[1] = seed ^ skb->len;
	skb->priority = skb->cb[0] + 7;
	return skb->mark * 3 + (skb->protocol == bpf_htons(ETH_P_IP));
}

__attribute__((section("tc"), used)) int tc_nat(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 verdict = classify(skb, 0x1234);

	if ((void *)(ip + 1) > data_end)
		return TC_ACT_SHOT;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return verdict;

	__be32 old_src = ip->saddr;
	__be32 new_src = bpf_htonl(0x0a0b0c0d);
	__u64 l4_off = ip->protocol == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	__u64 l4_flags = BPF_F_PSEUDO_HDR | sizeof(new_src);
	if (ip->protocol == IPPROTO_UDP)
		l4_flags |= BPF_F_MARK_MANGLED_0;

	if (bpf_skb_store_bytes(skb, IP_SRC_OFF, &new_src, sizeof(new_src), 0))
		return TC_ACT_SHOT;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_src, new_src, sizeof(new_src)))
		return TC_ACT_SHOT;
	if (bpf_l4_csum_replace(skb, l4_off, old_src, new_src, l4_flags))
		return TC_ACT_SHOT;
	skb->mark = verdict + 1;
	skb->tc_index = 3;
	return TC_ACT_OK;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
