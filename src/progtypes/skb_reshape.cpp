// bpf_skb_change_type, bpf_skb_change_proto and bpf_skb_adjust_room (net/core/filter.c): the
// helpers that retag the packet or open and close room for headers between the MAC header
// and the network header, or after the network header. sched_cls runs with skb->data at the
// MAC header, so the MAC header's offset is skb->data's and skb_mac_header_len is the
// network header's distance from it. All end with bpf_compute_data_pointers.
#include "progtypes/checksum.hpp"
#include "progtypes/helper_arguments.hpp"
#include "progtypes/skb_helpers.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace bpfvm::progtypes {
namespace {

using u64 = std::uint64_t;

constexpr std::uint16_t be_ip = 0x0008;        // htons(ETH_P_IP) as a little-endian u16
constexpr std::uint16_t be_ipv6 = 0xdd86;      // htons(ETH_P_IPV6)
constexpr std::uint32_t ipv4_header = 20;      // sizeof(struct iphdr)
constexpr std::uint32_t ipv6_header = 40;      // sizeof(struct ipv6hdr)
constexpr std::uint32_t packet_otherhost = 3;  // PACKET_OTHERHOST

// uapi BPF_F_ADJ_ROOM_* and BPF_ADJ_ROOM_* (Linux 6.x).
constexpr u64 f_fixed_gso = 1u << 0;                      // BPF_F_ADJ_ROOM_FIXED_GSO
constexpr u64 f_encap_ipv4 = 1u << 1;                     // BPF_F_ADJ_ROOM_ENCAP_L3_IPV4
constexpr u64 f_encap_ipv6 = 1u << 2;                     // BPF_F_ADJ_ROOM_ENCAP_L3_IPV6
constexpr u64 f_encap_gre = 1u << 3;                      // BPF_F_ADJ_ROOM_ENCAP_L4_GRE
constexpr u64 f_encap_udp = 1u << 4;                      // BPF_F_ADJ_ROOM_ENCAP_L4_UDP
constexpr u64 f_no_csum_reset = 1u << 5;                  // BPF_F_ADJ_ROOM_NO_CSUM_RESET
constexpr u64 f_encap_eth = 1u << 6;                      // BPF_F_ADJ_ROOM_ENCAP_L2_ETH
constexpr u64 f_decap_ipv4 = 1u << 7;                     // BPF_F_ADJ_ROOM_DECAP_L3_IPV4
constexpr u64 f_decap_ipv6 = 1u << 8;                     // BPF_F_ADJ_ROOM_DECAP_L3_IPV6
constexpr u64 encap_l2_shift = 56;                        // BPF_ADJ_ROOM_ENCAP_L2_SHIFT
constexpr u64 encap_l2_mask = 0xffull << encap_l2_shift;  // BPF_F_ADJ_ROOM_ENCAP_L2(0xff)
constexpr u64 encap_l3_mask = f_encap_ipv4 | f_encap_ipv6;
constexpr u64 decap_l3_mask = f_decap_ipv4 | f_decap_ipv6;
constexpr u64 adj_room_mask = f_fixed_gso | encap_l3_mask | f_encap_gre | f_encap_udp |
                              f_encap_eth | encap_l2_mask | decap_l3_mask;
constexpr std::uint32_t adj_room_net = 0;  // BPF_ADJ_ROOM_NET
constexpr std::uint32_t adj_room_mac = 1;  // BPF_ADJ_ROOM_MAC
constexpr std::uint32_t eth_hlen = 14;     // ETH_HLEN

std::uint32_t mac_header_len(const SkbKernelContext& skb) {
  return static_cast<std::uint32_t>(skb.network - skb.data);
}

// bpf_skb_net_hdr_push: `len` zeroed bytes at `off` from skb->data (the caller made the
// headroom); the bytes before `off` move to the new start, and so do the MAC and network
// headers (the transport header too when it sat on the network header). No checksum change:
// zeroes add nothing to a CHECKSUM_COMPLETE sum.
void net_hdr_push(SkbKernelContext& skb, std::uint32_t off, std::uint32_t len) {
  const bool trans_same = skb.transport == skb.network;
  skb.data -= len;
  skb.len += len;
  std::memmove(skb.packet(), skb.packet() + len, off);
  std::memset(skb.packet() + off, 0, len);
  skb.network -= len;
  if (trans_same) skb.transport = skb.network;
}

// bpf_skb_net_hdr_pop: the `len` bytes at `off` go (-ENOMEM when the packet is shorter than
// off + len: pskb_may_pull).
bool net_hdr_pop(SkbKernelContext& skb, std::uint32_t off, std::uint32_t len) {
  if (static_cast<u64>(off) + len > skb.len) return false;
  const bool trans_same = skb.transport == skb.network;
  std::uint8_t* old_data = skb.packet();
  skb_postpull_rcsum(skb, old_data + off, len);
  skb.data += len;
  skb.len -= len;
  std::memmove(skb.packet(), old_data, off);
  skb.network += len;
  if (trans_same) skb.transport = skb.network;
  return true;
}

// __skb_reset_checksum_unnecessary.
void reset_checksum_unnecessary(SkbKernelContext& skb) {
  if (skb.ip_summed == IpSummed::unnecessary) skb.ip_summed = IpSummed::none;
}

// bpf_skb_net_base_len.
std::uint32_t net_base_len(SkbKernelContext& skb) {
  switch (skb.protocol()) {
    case be_ip: return ipv4_header;
    case be_ipv6: return ipv6_header;
    default: return ~0u;
  }
}

// The GSO check both directions of adjust_room start with. A test_run skb's gso_type is 0
// (ctx_in sets gso_size and gso_segs only), so a GSO packet is neither TCP nor UDP_L4 GSO:
// -ENOTSUPP.
bool gso_refused(const SkbKernelContext& skb) { return skb.view.gso_size != 0; }

// bpf_skb_net_grow.
int net_grow(HelperCall& call, SkbKernelContext& skb, std::uint32_t off, std::uint32_t len_diff,
             u64 flags) {
  const auto inner_mac_len = static_cast<std::uint32_t>(flags >> encap_l2_shift);
  const bool encap = flags & encap_l3_mask;
  if (gso_refused(skb)) return -enotsupp;
  if (!skb_cow(call, skb, len_diff)) return -ENOMEM;
  std::uint32_t mac_len = 0;
  if (encap) {
    if ((flags & f_encap_ipv4) && (flags & f_encap_ipv6)) return -EINVAL;
    if ((flags & f_encap_gre) && (flags & f_encap_udp)) return -EINVAL;
    if ((flags & f_encap_eth) && inner_mac_len < eth_hlen) return -EINVAL;
    if (skb.encapsulation) return -EALREADY;
    mac_len = mac_header_len(skb);
    if (inner_mac_len > len_diff) return -EINVAL;
  }
  net_hdr_push(skb, off, len_diff);
  if (encap) {
    // The inner headers (inner_mac_header, inner_protocol: ETH_P_TEB with ENCAP_L2_ETH) are
    // visible to neither programs nor test_run; the outer ones are.
    skb.encapsulation = true;
    skb.network = skb.data + mac_len;
    if (flags & (f_encap_gre | f_encap_udp))
      skb.transport = skb.network + ((flags & f_encap_ipv6) ? ipv6_header : ipv4_header);
    if (skb.protocol() == be_ip && (flags & f_encap_ipv6))
      skb.set_protocol(be_ipv6);
    else if (skb.protocol() == be_ipv6 && (flags & f_encap_ipv4))
      skb.set_protocol(be_ip);
  }
  return 0;
}

// bpf_skb_net_shrink.
int net_shrink(SkbKernelContext& skb, std::uint32_t off, std::uint32_t len_diff, u64 flags) {
  if (flags & ~(f_fixed_gso | decap_l3_mask | f_no_csum_reset)) return -EINVAL;
  if (gso_refused(skb)) return -enotsupp;
  if (!net_hdr_pop(skb, off, len_diff)) return -ENOMEM;
  if (skb.protocol() == be_ip && (flags & f_decap_ipv6))
    skb.set_protocol(be_ipv6);
  else if (skb.protocol() == be_ipv6 && (flags & f_decap_ipv4))
    skb.set_protocol(be_ip);
  return 0;
}

int adjust_room(HelperCall& call, SkbKernelContext& skb, std::int32_t len_diff, std::uint32_t mode,
                u64 flags) {
  // abs() of INT_MIN stays INT_MIN, which as a u32 is past 0xfff.
  const auto len_diff_abs =
      len_diff < 0 ? static_cast<std::uint32_t>(0u - static_cast<std::uint32_t>(len_diff))
                   : static_cast<std::uint32_t>(len_diff);
  std::uint32_t len_min = net_base_len(skb);
  const bool shrink = len_diff < 0;
  if (flags & ~(adj_room_mask | f_no_csum_reset)) return -EINVAL;
  if (len_diff_abs > 0xfff) return -EFAULT;
  if (skb.protocol() != be_ip && skb.protocol() != be_ipv6) return -enotsupp;
  std::uint32_t off = mac_header_len(skb);
  if (mode == adj_room_net)
    off += net_base_len(skb);
  else if (mode != adj_room_mac)
    return -enotsupp;
  if (flags & decap_l3_mask) {
    if (!shrink) return -EINVAL;
    switch (flags & decap_l3_mask) {
      case f_decap_ipv4: len_min = ipv4_header; break;
      case f_decap_ipv6: len_min = ipv6_header; break;
      default: return -EINVAL;
    }
  }
  const auto len_cur = static_cast<std::uint32_t>(skb.len - (skb.network - skb.data));
  const bool gso = skb.view.gso_size != 0;
  if ((shrink && (len_diff_abs >= len_cur || len_cur - len_diff_abs < len_min)) ||
      (!shrink && skb.len + len_diff_abs > skb_max_len && !gso))
    return -enotsupp;
  const int ret = shrink ? net_shrink(skb, off, len_diff_abs, flags)
                         : net_grow(call, skb, off, len_diff_abs, flags);
  if (ret == 0 && !(flags & f_no_csum_reset)) reset_checksum_unnecessary(skb);
  return ret;
}

// bpf_skb_proto_4_to_6 / bpf_skb_proto_6_to_4: 20 zeroed bytes after the MAC header, or the
// first 20 bytes of the network header taken out; the program writes the new header.
int change_proto(HelperCall& call, SkbKernelContext& skb, std::uint16_t to) {
  constexpr std::uint32_t len_diff = ipv6_header - ipv4_header;
  const std::uint32_t off = mac_header_len(skb);
  if (skb.protocol() == be_ip && to == be_ipv6) {
    if (!skb_cow(call, skb, len_diff)) return -ENOMEM;
    net_hdr_push(skb, off, len_diff);
  } else if (skb.protocol() == be_ipv6 && to == be_ip) {
    if (!net_hdr_pop(skb, off, len_diff)) return -ENOMEM;
  } else {
    return -enotsupp;
  }
  // A GSO packet's gso_type would turn TCPV4 <-> TCPV6 and become DODGY: test_run's is 0.
  skb.set_protocol(to);
  skb.clear_hash();
  return 0;
}

}  // namespace

void skb_postpull_rcsum(SkbKernelContext& skb, const std::uint8_t* start, std::size_t len) {
  if (skb.ip_summed == IpSummed::complete)
    skb.csum = csum_sub(skb.csum, csum_partial(start, len, 0));
}

void skb_postpush_rcsum(SkbKernelContext& skb, const std::uint8_t* start, std::size_t len) {
  if (skb.ip_summed == IpSummed::complete)
    skb.csum = csum_add(skb.csum, csum_partial(start, len, 0));
}

// bpf_skb_change_type(skb, type): skb->pkt_type, when both the old and the new type are one
// a program may set (skb_pkt_type_ok: PACKET_HOST to PACKET_OTHERHOST); else -EINVAL.
u64 skb_change_type(HelperCall& call, u64 r1, u64 type_arg, u64, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_change_type");
  if (skb == nullptr) return 0;
  const auto type = static_cast<std::uint32_t>(type_arg);
  if (skb->word(skb_off::pkt_type) > packet_otherhost || type > packet_otherhost)
    return errno_result(EINVAL);
  skb->word(skb_off::pkt_type) = type;
  return 0;
}

// bpf_skb_change_proto(skb, proto, flags): IPv4 <-> IPv6 (proto a __be16: htons(ETH_P_IPV6)
// or htons(ETH_P_IP)). -EINVAL for any flag, -ENOTSUPP for any other pair of protocols.
u64 skb_change_proto(HelperCall& call, u64 r1, u64 proto, u64 flags, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_change_proto");
  if (skb == nullptr) return 0;
  if (flags != 0) return errno_result(EINVAL);
  const int ret = change_proto(call, *skb, static_cast<std::uint16_t>(proto));
  skb->publish(call);
  return static_cast<u64>(static_cast<std::int64_t>(ret));
}

// bpf_skb_adjust_room(skb, len_diff, mode, flags).
u64 skb_adjust_room(HelperCall& call, u64 r1, u64 len_diff, u64 mode, u64 flags, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_adjust_room");
  if (skb == nullptr) return 0;
  const int ret = adjust_room(call, *skb, static_cast<std::int32_t>(len_diff),
                              static_cast<std::uint32_t>(mode), flags);
  skb->publish(call);
  return static_cast<u64>(static_cast<std::int64_t>(ret));
}

}  // namespace bpfvm::progtypes
