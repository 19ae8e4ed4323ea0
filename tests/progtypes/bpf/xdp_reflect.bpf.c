// An XDP program as clang builds it: swaps MAC addresses, IPv4 addresses and UDP ports and
// sends the packet back (XDP_TX); trims what follows the UDP payload with xdp_adjust_tail and
// pushes 4 bytes of header room with xdp_adjust_head for non-UDP frames.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline, section("xdp"))) int frame_length(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}

__attribute__((section("xdp"), used)) int xdp_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return XDP_PASS;
	if (ip->protocol != IPPROTO_UDP) {
		if (bpf_xdp_adjust_head(ctx, -4))
			return XDP_ABORTED;
		return frame_length(ctx) + ctx->ingress_ifindex * 10000;
	}

	unsigned char mac[ETH_ALEN];
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	__be32 addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	__be16 port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;

	int extra = frame_length(ctx) - (int)(sizeof(*eth) + bpf_ntohs(ip->tot_len));
	if (extra > 0 && extra < 1500 && bpf_xdp_adjust_tail(ctx, -extra))
		return XDP_ABORTED;
	return XDP_TX;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
