// Shared by the BPF C test programs: libbpf's headers and the packet structures they parse.
// These programs run both in the kernel (BPF_PROG_TEST_RUN) and in bpfvm; the differential
// test compares return values, output packets and maps.
#pragma once

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// linux/icmp.h pulls in libc headers that do not exist for the BPF target.
struct icmphdr {
  __u8 type;
  __u8 code;
  __sum16 checksum;
  __be16 id;
  __be16 sequence;
};
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

// An 802.1Q tag, which linux/if_vlan.h only defines for the kernel.
struct vlan_tag {
  __be16 tci;
  __be16 encapsulated_proto;
};
