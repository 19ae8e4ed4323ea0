// bpf_skb_vlan_push and bpf_skb_vlan_pop (net/core/filter.c over skb_vlan_push and
// skb_vlan_pop, net/core/skbuff.c). The outermost tag lives outside the packet, as the
// hardware-accelerated tag (skb->vlan_proto, skb->vlan_tci, read as __sk_buff.vlan_present,
// vlan_tci and vlan_proto); pushing a second tag first writes the first one into the packet
// after the MAC addresses. sched_cls runs with skb->data at the MAC header, which
// skb_vlan_push and __skb_vlan_pop require.
#include "progtypes/helper_arguments.hpp"
#include "progtypes/skb_helpers.hpp"

#include <cerrno>
#include <cstring>

namespace bpfvm::progtypes {
namespace {

using u64 = std::uint64_t;

constexpr std::uint16_t be_8021q = 0x0081;         // htons(ETH_P_8021Q) as a little-endian u16
constexpr std::uint16_t be_8021ad = 0xa888;        // htons(ETH_P_8021AD)
constexpr std::uint16_t be_802_3 = 0x0100;         // htons(ETH_P_802_3)
constexpr std::uint16_t be_802_2 = 0x0400;         // htons(ETH_P_802_2)
constexpr std::uint16_t eth_p_802_3_min = 0x0600;  // ETH_P_802_3_MIN
constexpr std::size_t vlan_hlen = 4;               // VLAN_HLEN
constexpr std::size_t eth_alen = 6;                // ETH_ALEN
constexpr std::size_t eth_hlen = 14;               // ETH_HLEN
constexpr std::size_t vlan_eth_hlen = 18;          // VLAN_ETH_HLEN

bool eth_type_vlan(std::uint16_t be16) { return be16 == be_8021q || be16 == be_8021ad; }

std::uint16_t load_be16_raw(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

bool tag_present(SkbKernelContext& skb) { return skb.word(skb_off::vlan_present) != 0; }

// __vlan_hwaccel_put_tag: vlan_present reads skb->vlan_all != 0, which the protocol alone
// makes true.
void put_tag(SkbKernelContext& skb, std::uint16_t be_proto, std::uint16_t tci) {
  skb.word(skb_off::vlan_proto) = be_proto;
  skb.word(skb_off::vlan_tci) = tci;
  skb.word(skb_off::vlan_present) = (be_proto | tci) != 0 ? 1 : 0;
}

void clear_tag(SkbKernelContext& skb) { put_tag(skb, 0, 0); }

// __vlan_insert_tag: four bytes after the MAC addresses hold the tag; the MAC header moves
// with skb->data.
bool insert_tag(HelperCall& call, SkbKernelContext& skb, std::uint16_t be_proto,
                std::uint16_t tci) {
  if (!skb_cow(call, skb, vlan_hlen)) return false;
  skb.data -= vlan_hlen;
  skb.len += vlan_hlen;
  std::uint8_t* p = skb.packet();
  std::memmove(p, p + vlan_hlen, 2 * eth_alen);
  std::memcpy(p + 2 * eth_alen, &be_proto, 2);
  p[2 * eth_alen + 2] = static_cast<std::uint8_t>(tci >> 8);
  p[2 * eth_alen + 3] = static_cast<std::uint8_t>(tci);
  return true;
}

// __skb_vlan_pop: the tag after the MAC addresses goes; its TCI is returned and the
// encapsulated EtherType becomes skb->protocol (vlan_set_encap_proto). -ENOMEM when the
// packet is shorter than a tagged Ethernet header (skb_ensure_writable).
int pop_packet_tag(SkbKernelContext& skb, std::uint16_t& tci) {
  if (skb.len < vlan_eth_hlen) return -ENOMEM;
  std::uint8_t* p = skb.packet();
  skb_postpull_rcsum(skb, p + 2 * eth_alen, vlan_hlen);
  tci = static_cast<std::uint16_t>(p[eth_hlen] << 8 | p[eth_hlen + 1]);
  const std::uint16_t inner = load_be16_raw(p + eth_hlen + 2);
  const auto inner_host = static_cast<std::uint16_t>((inner >> 8) | (inner << 8));
  std::memmove(p + vlan_hlen, p, 2 * eth_alen);
  if (inner_host >= eth_p_802_3_min) {
    skb.set_protocol(inner);
  } else {
    // An 802.3 length: raw IPX (0xFFFF next) or 802.2 LLC. Linux reads the two bytes after
    // the tag even when the packet ends there (the buffer's tailroom).
    const std::uint8_t* raw = p + vlan_eth_hlen;
    skb.set_protocol(raw[0] == 0xff && raw[1] == 0xff ? be_802_3 : be_802_2);
  }
  skb.data += vlan_hlen;
  skb.len -= vlan_hlen;
  if (skb.network < skb.data + eth_hlen) skb.network = skb.data + eth_hlen;
  return 0;
}

}  // namespace

// bpf_skb_vlan_push(skb, vlan_proto, vlan_tci): vlan_proto (a __be16) other than 802.1Q and
// 802.1ad is taken as 802.1Q; vlan_tci is truncated to 16 bits. A tag already there goes
// into the packet first (skb->protocol becomes its protocol; the network header keeps its
// offset from skb->data, as Linux 6.x's skb_vlan_push leaves it); -ENOMEM only when no
// buffer can be had.
u64 skb_vlan_push(HelperCall& call, u64 r1, u64 proto_arg, u64 tci_arg, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_vlan_push");
  if (skb == nullptr) return 0;
  auto proto = static_cast<std::uint16_t>(proto_arg);
  if (proto != be_8021q && proto != be_8021ad) proto = be_8021q;
  if (tag_present(*skb)) {
    const auto old_proto = static_cast<std::uint16_t>(skb->word(skb_off::vlan_proto));
    const auto old_tci = static_cast<std::uint16_t>(skb->word(skb_off::vlan_tci));
    if (!insert_tag(call, *skb, old_proto, old_tci)) {
      skb->publish(call);
      return errno_result(ENOMEM);
    }
    skb->set_protocol(old_proto);
    skb->network -= vlan_hlen;
    skb_postpush_rcsum(*skb, skb->packet() + 2 * eth_alen, vlan_hlen);
  }
  put_tag(*skb, proto, static_cast<std::uint16_t>(tci_arg));
  skb->publish(call);
  return 0;
}

// bpf_skb_vlan_pop(skb): the accelerated tag goes (or, without one, the tag in the packet
// when skb->protocol says there is one; else nothing happens); then a tag left in the packet
// becomes the accelerated one. -ENOMEM when a tag in the packet is cut short.
u64 skb_vlan_pop(HelperCall& call, u64 r1, u64, u64, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_vlan_pop");
  if (skb == nullptr) return 0;
  int ret = 0;
  std::uint16_t tci = 0;
  if (tag_present(*skb)) {
    clear_tag(*skb);
  } else if (eth_type_vlan(skb->protocol())) {
    ret = pop_packet_tag(*skb, tci);
  } else {
    skb->publish(call);
    return 0;
  }
  if (ret == 0 && eth_type_vlan(skb->protocol())) {
    const std::uint16_t proto = skb->protocol();
    ret = pop_packet_tag(*skb, tci);
    if (ret == 0) put_tag(*skb, proto, tci);
  }
  skb->publish(call);
  return static_cast<u64>(static_cast<std::int64_t>(ret));
}

}  // namespace bpfvm::progtypes
