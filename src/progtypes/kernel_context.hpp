// The internal contexts rewritten programs see (as the kernel's struct sk_buff and
// struct xdp_buff behind __sk_buff and xdp_md): packet pointers are 64 bits wide.
//
// Each struct has two parts. The `view` is what r1 points at and what checked mode admits:
// rewritten loads and stores reach only it. The private part after it is the helpers' own
// state; they never trust the view (a program may have written to it), only the private part.
#pragma once

#include <bpfvm/helper.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/packet_run.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace bpfvm::progtypes {

// struct xdp_md as the rewritten program reads it.
struct XdpView {
  std::uint64_t data = 0;       // xdp_md.data (u32 in uapi)
  std::uint64_t data_end = 0;   // xdp_md.data_end
  std::uint64_t data_meta = 0;  // xdp_md.data_meta
  std::uint32_t ingress_ifindex = 0;
  std::uint32_t rx_queue_index = 0;
  std::uint32_t egress_ifindex = 0;
  std::uint32_t reserved = 0;
};

// What bpf_redirect_map or bpf_redirect decided (struct bpf_redirect_info): a map and key,
// or, with no map, the interface `key` (tgt_index).
struct RedirectTarget {
  bool set = false;
  Map* map = nullptr;
  std::uint32_t key = 0;
  std::uint64_t flags = 0;
};

// struct xdp_buff: the frame [hard_start, hard_start + frame_size) holds headroom, metadata,
// packet and tailroom.
struct XdpKernelContext {
  XdpView view;
  std::uint8_t* hard_start = nullptr;
  std::size_t frame_size = 0;
  std::size_t data = 0;  // offsets into the frame
  std::size_t data_end = 0;
  std::size_t data_meta = 0;
  RedirectTarget redirect;

  // Rewrites the view's pointers from the offsets.
  void publish() {
    auto base = reinterpret_cast<std::uintptr_t>(hard_start);
    view.data = base + data;
    view.data_end = base + data_end;
    view.data_meta = base + data_meta;
  }
};

// struct __sk_buff as the rewritten program reads it. The u32 fields of __sk_buff from len to
// napi_id keep their uapi layout in `words` (offset 40 + uapi offset), so narrow loads are
// plain loads; the u16 fields the program may write are stored as u16, as in struct sk_buff.
struct SkbView {
  std::uint64_t data = 0;           // 0
  std::uint64_t data_end = 0;       // 8
  std::uint64_t data_meta = 0;      // 16
  std::uint64_t tstamp = 0;         // 24
  std::uint64_t hwtstamp = 0;       // 32
  std::uint32_t words[22] = {};     // 40: __sk_buff offsets 0..87
  std::uint32_t wire_len = 0;       // 128
  std::uint32_t gso_segs = 0;       // 132
  std::uint32_t gso_size = 0;       // 136
  std::uint16_t queue_mapping = 0;  // 140
  std::uint16_t tc_index = 0;       // 142
  std::uint16_t tc_classid = 0;     // 144
  std::uint16_t reserved[3] = {};
};
inline constexpr std::size_t skb_words_offset = 40;
static_assert(offsetof(SkbView, words) == skb_words_offset);
static_assert(offsetof(SkbView, wire_len) == 128);
static_assert(offsetof(SkbView, queue_mapping) == 140);
static_assert(offsetof(SkbView, tc_index) == 142);
static_assert(offsetof(SkbView, tc_classid) == 144);

// uapi __sk_buff offsets (uapi/linux/bpf.h), checked against <linux/bpf.h> in the tests.
namespace skb_off {
inline constexpr std::uint16_t len = 0, pkt_type = 4, mark = 8, queue_mapping = 12, protocol = 16,
                               vlan_present = 20, vlan_tci = 24, vlan_proto = 28, priority = 32,
                               ingress_ifindex = 36, ifindex = 40, tc_index = 44, cb = 48,
                               hash = 68, tc_classid = 72, data = 76, data_end = 80, napi_id = 84,
                               family = 88, remote_ip4 = 92, local_ip4 = 96, remote_ip6 = 100,
                               local_ip6 = 116, remote_port = 132, local_port = 136,
                               data_meta = 140, flow_keys = 144, tstamp = 152, wire_len = 160,
                               gso_segs = 164, sk = 168, gso_size = 176, tstamp_type = 180,
                               hwtstamp = 184, size = 192;
}
namespace xdp_off {
inline constexpr std::uint16_t data = 0, data_end = 4, data_meta = 8, ingress_ifindex = 12,
                               rx_queue_index = 16, egress_ifindex = 20, size = 24;
}

// skb->ip_summed (include/linux/skbuff.h).
enum class IpSummed : std::uint8_t { none = 0, unnecessary = 1, complete = 2, partial = 3 };

// struct sk_buff: the buffer [head, head + buffer_size) and the packet [data, data + len).
struct SkbKernelContext {
  SkbView view;
  std::uint8_t* head = nullptr;
  std::size_t buffer_size = 0;
  std::size_t data = 0;  // offset of skb->data in the buffer
  std::size_t len = 0;   // skb->len (linear: every byte is in the buffer)
  IpSummed ip_summed = IpSummed::none;
  std::uint32_t csum = 0;   // skb->csum, meaningful for CHECKSUM_COMPLETE
  std::uint32_t hash = 0;   // skb->hash; the view's copy is what the program reads
  bool sw_hash = false;     // skb->sw_hash: `hash` was computed (get_hash_recalc), keep it
  bool l4_hash = false;     // skb->l4_hash: the computed hash covers ports
  std::size_t network = 0;  // offset of the network header in the buffer
  // skb->transport_header: unset (no_header) in a test_run skb; bpf_skb_adjust_room sets it
  // for a GRE or UDP encapsulation, and from then on bpf_skb_change_tail may not cut it.
  static constexpr std::size_t no_header = static_cast<std::size_t>(-1);
  std::size_t transport = no_header;
  // skb->encapsulation: bpf_skb_adjust_room pushed an outer header (ENCAP_L3 flags). A second
  // encapsulation fails (-EALREADY), as does bpf_skb_change_tail (-ENOTSUPP).
  bool encapsulation = false;
  // The cookie of the socket test_run attaches to the skb (PacketRunInput::socket_cookie);
  // 0: the skb has no socket.
  std::uint64_t socket_cookie = 0;
  // bpf_redirect, redirect_neigh, redirect_peer (tc): tgt_index in `key`, ri->flags in
  // `flags`, and redirect_neigh's next hop.
  RedirectTarget redirect;
  std::uint32_t nexthop_family = 0;
  std::uint8_t nexthop[16] = {};
  // The metadata dst bpf_skb_set_tunnel_key attached.
  std::optional<TunnelKey> tunnel;
  // The buffers the packet lived in, the current one last (`head`). A helper that needs more
  // room (skb_change_head/tail) moves the packet to a new buffer; the old ones stay allocated
  // until the run ends, so a stale packet pointer never reaches freed memory (checked mode
  // refuses it: the old buffer's region is revoked when `buffer_admitted`).
  std::vector<std::vector<std::uint8_t>> buffers;
  bool buffer_admitted = false;  // the whole buffer is a region of the run (sched_cls)

  std::uint8_t* packet() const { return head + data; }
  // skb->protocol as the program reads it: the __be16 in the low half of a u32 (a
  // little-endian load of the wire bytes), e.g. 0x0008 for ETH_P_IP.
  std::uint16_t protocol() { return static_cast<std::uint16_t>(word(skb_off::protocol)); }
  void set_protocol(std::uint16_t be16) { word(skb_off::protocol) = be16; }
  // skb_clear_hash.
  void clear_hash() {
    hash = 0;
    sw_hash = l4_hash = false;
  }
  std::uint32_t& word(std::uint16_t uapi_offset) { return view.words[uapi_offset / 4]; }
  void publish() {
    auto base = reinterpret_cast<std::uintptr_t>(head);
    view.data = base + data;
    view.data_end = base + data + len;
    view.data_meta = view.data;
    word(skb_off::len) = static_cast<std::uint32_t>(len);
    word(skb_off::hash) = hash;
  }
  // The same from a helper: LD_ABS / LD_IND read the packet as it is now, too.
  void publish(HelperCall& call) {
    publish();
    call.set_packet(packet(), len);
  }
};

}  // namespace bpfvm::progtypes
