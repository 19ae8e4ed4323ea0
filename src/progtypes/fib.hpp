// bpf_fib_lookup over a Network (fib.cpp): Linux's bpf_ipv4_fib_lookup and
// bpf_ipv6_fib_lookup (net/core/filter.c) with the FIB, rules and neighbour table the embedder
// describes instead of the kernel's.
#pragma once

#include <bpfvm/network.hpp>

#include <cstdint>

namespace bpfvm::progtypes {

// uapi struct bpf_fib_lookup (Linux 6.10 and later: `mark` shares bytes with smac).
struct FibParams {
  std::uint8_t family;
  std::uint8_t l4_protocol;
  std::uint16_t sport;
  std::uint16_t dport;
  std::uint16_t tot_len;  // in: tot_len; out: mtu_result
  std::uint32_t ifindex;
  std::uint32_t tos;  // in: tos (AF_INET) / flowinfo (AF_INET6); out: rt_metric
  std::uint8_t src[16];
  std::uint8_t dst[16];
  std::uint32_t vlan;    // out: h_vlan_proto, h_vlan_TCI; in: tbid
  std::uint8_t smac[6];  // in: mark (the first 4 bytes)
  std::uint8_t dmac[6];
};
static_assert(sizeof(FibParams) == 64);

// uapi BPF_FIB_LOOKUP_* flags.
namespace fib_flag {
inline constexpr std::uint32_t direct = 1u << 0, output = 1u << 1, skip_neigh = 1u << 2,
                               tbid = 1u << 3, src = 1u << 4, mark = 1u << 5,
                               all = direct | output | skip_neigh | tbid | src | mark;
}

// BPF_FIB_LKUP_RET_* codes.
namespace fib_ret {
inline constexpr int success = 0, blackhole = 1, unreachable = 2, prohibit = 3, not_fwded = 4,
                     fwd_disabled = 5, unsupp_lwt = 6, no_neigh = 7, frag_needed = 8,
                     no_src_addr = 9;
}

// One family's lookup (params.family is AF_INET or AF_INET6): a BPF_FIB_LKUP_RET_* code, or
// -ENODEV for an unknown input interface. `check_mtu` compares tot_len with the path MTU
// (XDP always; tc when tot_len is set). On success params holds the output interface, next
// hop (dst), MACs, metric and, when checked, the MTU.
int fib_lookup_family(const Network& network, FibParams& params, std::uint32_t flags,
                      bool check_mtu);

}  // namespace bpfvm::progtypes
