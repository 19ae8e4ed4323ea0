// The run harness (packet_run.hpp): packet buffers and internal contexts built as
// net/bpf/test_run.c builds its sk_buff and xdp_buff.
#include <bpfvm/packet_run.hpp>

#include "progtypes/active_context.hpp"
#include "progtypes/context_layout.hpp"

#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace bpfvm {
namespace {

using namespace progtypes;

constexpr std::size_t eth_hlen = 14;               // ETH_HLEN
constexpr std::size_t page_size = 4096;            // PAGE_SIZE: test_run's buffer limit
constexpr std::size_t skb_headroom = 64;           // NET_SKB_PAD + NET_IP_ALIGN (x86-64)
constexpr std::size_t xdp_headroom = 256;          // XDP_PACKET_HEADROOM
constexpr std::size_t shared_info_size = 320;      // SKB_DATA_ALIGN(sizeof(skb_shared_info))
constexpr std::uint16_t eth_p_802_3_min = 0x0600;  // ETH_P_802_3_MIN
constexpr std::uint16_t eth_p_802_3 = 0x0001;      // ETH_P_802_3
constexpr std::uint16_t eth_p_802_2 = 0x0004;      // ETH_P_802_2
constexpr std::uint16_t eth_p_ip = 0x0800;         // ETH_P_IP
constexpr std::uint16_t eth_p_ipv6 = 0x86dd;       // ETH_P_IPV6
constexpr std::size_t ipv4_header = 20;            // sizeof(struct iphdr)
constexpr std::size_t ipv6_header = 40;            // sizeof(struct ipv6hdr)

std::uint16_t byte_swap16(std::uint16_t value) {
  return static_cast<std::uint16_t>((value >> 8) | (value << 8));
}

// eth_type_trans on the loopback device: skb->protocol as the program reads it (network
// byte order in a u32) and skb->pkt_type. The loopback device's address is all zeros and it
// has no broadcast address, so ff:ff:ff:ff:ff:ff is PACKET_MULTICAST there (the kernel's
// test_run agrees).
void eth_type_trans(std::span<const std::uint8_t> frame, SkbKernelContext& skb) {
  const std::uint8_t* dest = frame.data();
  std::uint32_t pkt_type = 0;  // PACKET_HOST
  bool all_zero = true;
  for (int i = 0; i < 6; ++i) all_zero = all_zero && dest[i] == 0;
  if (!all_zero) pkt_type = (dest[0] & 1) ? 2 : 3;  // PACKET_MULTICAST, PACKET_OTHERHOST
  const auto proto = static_cast<std::uint16_t>((frame[12] << 8) | frame[13]);
  std::uint16_t host_order = proto;
  if (proto < eth_p_802_3_min) {
    // An 802.3 length field: raw IPX (0xFFFF after the header) or 802.2 LLC.
    const bool raw = frame.size() >= eth_hlen + 2 && frame[14] == 0xff && frame[15] == 0xff;
    host_order = raw ? eth_p_802_3 : eth_p_802_2;
  }
  skb.word(skb_off::protocol) = byte_swap16(host_order);
  skb.word(skb_off::pkt_type) = pkt_type;
}

SkbMetadata skb_metadata_out(const SkbKernelContext& skb) {
  SkbMetadata out;
  const auto& words = skb.view.words;
  out.mark = words[skb_off::mark / 4];
  out.priority = words[skb_off::priority / 4];
  out.ingress_ifindex = words[skb_off::ingress_ifindex / 4];
  out.ifindex = words[skb_off::ifindex / 4];
  for (int i = 0; i < 5; ++i) out.cb[i] = words[skb_off::cb / 4 + i];
  out.tstamp = skb.view.tstamp;
  out.wire_len = skb.view.wire_len;
  out.gso_segs = skb.view.gso_segs;
  out.gso_size = skb.view.gso_size;
  out.hwtstamp = skb.view.hwtstamp;
  out.tc_index = skb.view.tc_index;
  out.tc_classid = skb.view.tc_classid;
  out.queue_mapping = skb.view.queue_mapping;
  return out;
}

// Runs `input.repeat` times (test_run's repeat) on the same context and buffer.
Result<std::uint64_t> run_repeated(const ProgramRunner& runner, const PacketRunInput& input,
                                   const RunInput& run, const RunOptions& options) {
  Result<std::uint64_t> r0 = runner(run, options);
  for (std::uint32_t i = 1; i < input.repeat && r0; ++i) r0 = runner(run, options);
  return r0;
}

// The page test_run gives an XDP frame, kept per thread and reused: allocating and freeing
// 4 KiB cost more than a small program's run. Zeroed again for every packet, as a fresh
// page is. A run_packet nested in a runner on the same thread gets its own page.
class FramePage {
 public:
  FramePage() {
    if (!busy_) {
      busy_ = true;
      owner_ = true;
      if (shared_.size() != page_size) shared_.assign(page_size, 0);
      std::memset(shared_.data(), 0, page_size);
      page_ = shared_.data();
    } else {
      own_.assign(page_size, 0);
      page_ = own_.data();
    }
  }
  ~FramePage() {
    if (owner_) busy_ = false;
  }
  FramePage(const FramePage&) = delete;
  FramePage& operator=(const FramePage&) = delete;
  std::uint8_t* data() { return page_; }

 private:
  static thread_local std::vector<std::uint8_t> shared_;
  static thread_local bool busy_;
  std::vector<std::uint8_t> own_;
  std::uint8_t* page_ = nullptr;
  bool owner_ = false;
};
thread_local std::vector<std::uint8_t> FramePage::shared_;
thread_local bool FramePage::busy_ = false;

Result<PacketRunOutput> run_skb(const ProgramRunner& runner, const PacketRunInput& input,
                                RunOptions options) {
  const std::size_t size = input.packet.size();
  const std::size_t max_size = page_size - skb_headroom - shared_info_size;
  if (size < eth_hlen || size > max_size)
    return make_error(Error::Kind::usage,
                      fmt::format("a {} packet must be {} to {} bytes (test_run), not {}",
                                  program_type_name(input.type), eth_hlen, max_size, size));
  // sched_cls runs at layer 2 (skb->data at the Ethernet header); socket_filter after
  // eth_type_trans pulled the header (bpf_prog_test_run_skb's is_l2).
  const bool is_l2 = input.type == ProgramType::sched_cls;
  SkbKernelContext skb;
  std::vector<std::uint8_t>& buffer =
      skb.buffers.emplace_back(skb_headroom + size + shared_info_size, 0);
  std::memcpy(buffer.data() + skb_headroom, input.packet.data(), size);
  skb.head = buffer.data();
  skb.buffer_size = buffer.size();
  skb.data = skb_headroom + (is_l2 ? 0 : eth_hlen);
  skb.len = size - (is_l2 ? 0 : eth_hlen);
  skb.network = skb_headroom + eth_hlen;
  eth_type_trans(input.packet, skb);
  // bpf_prog_test_run_skb pulls the network header it reads the addresses from.
  const std::uint32_t protocol = skb.word(skb_off::protocol);
  const std::size_t network_bytes = size - eth_hlen;
  if ((protocol == byte_swap16(eth_p_ip) && network_bytes < ipv4_header) ||
      (protocol == byte_swap16(eth_p_ipv6) && network_bytes < ipv6_header))
    return make_error(Error::Kind::usage,
                      fmt::format("the packet's network header is truncated ({} bytes after "
                                  "the Ethernet header; test_run: EINVAL)",
                                  network_bytes));
  const SkbMetadata& meta = input.skb;
  if (meta.wire_len != 0 && meta.wire_len < skb.len)
    return make_error(Error::Kind::usage, "wire_len is shorter than the packet (test_run: EINVAL)");
  skb.word(skb_off::mark) = meta.mark;
  skb.word(skb_off::priority) = meta.priority;
  skb.word(skb_off::ingress_ifindex) = meta.ingress_ifindex;
  skb.word(skb_off::ifindex) = meta.ifindex;
  for (int i = 0; i < 5; ++i)
    skb.word(static_cast<std::uint16_t>(skb_off::cb + 4 * i)) = meta.cb[i];
  skb.view.tstamp = meta.tstamp;
  skb.view.hwtstamp = meta.hwtstamp;
  skb.view.wire_len = meta.wire_len != 0 ? meta.wire_len : static_cast<std::uint32_t>(skb.len);
  skb.view.gso_segs = meta.gso_segs;
  skb.view.gso_size = meta.gso_size;
  skb.view.tc_index = static_cast<std::uint16_t>(meta.tc_index);
  skb.view.tc_classid = static_cast<std::uint16_t>(meta.tc_classid);
  skb.view.queue_mapping = static_cast<std::uint16_t>(meta.queue_mapping);
  skb.socket_cookie = input.socket_cookie;
  skb.publish();

  RunInput run;
  run.context = &skb.view;
  run.context_size = internal_view_size(input.type);
  run.context_writable = true;  // stores were rewritten to the writable fields only
  run.packet = std::span<const std::uint8_t>(skb.packet(), skb.len);
  skb.buffer_admitted = is_l2;

  PacketRunOutput out;
  ActiveContextScope scope(ActiveContext{input.type, &skb, nullptr, input.network, &out.clones});
  // Each repeat admits the buffer the packet is in now: skb_change_head/tail may have moved it.
  const std::size_t base_regions = options.regions.size();
  Result<std::uint64_t> r0 = std::uint64_t{0};
  for (std::uint32_t i = 0; i < std::max<std::uint32_t>(input.repeat, 1) && r0; ++i) {
    options.regions.resize(base_regions);
    if (is_l2) options.regions.push_back({skb.head, skb.buffer_size, true});
    run.packet = std::span<const std::uint8_t>(skb.packet(), skb.len);
    r0 = runner(run, options);
  }
  if (!r0) return r0.error();
  out.return_value = *r0;
  if (!is_l2) out.packet.assign(eth_hlen, 0);  // test_run zeroes the pushed header back
  out.packet.insert(out.packet.end(), skb.packet(), skb.packet() + skb.len);
  out.skb = skb_metadata_out(skb);
  if (skb.redirect.set) {
    TcRedirect redirect;
    redirect.ifindex = skb.redirect.key;
    redirect.flags = skb.redirect.flags;
    redirect.ingress = (skb.redirect.flags & 1) != 0;  // BPF_F_INGRESS
    redirect.neigh = (skb.redirect.flags & 2) != 0;    // BPF_F_NEIGH
    redirect.peer = (skb.redirect.flags & 4) != 0;     // BPF_F_PEER
    redirect.nexthop_family = skb.nexthop_family;
    std::memcpy(redirect.nexthop, skb.nexthop, sizeof redirect.nexthop);
    out.tc_redirect = redirect;
  }
  out.tunnel_key = skb.tunnel;
  return out;
}

Result<PacketRunOutput> run_xdp(const ProgramRunner& runner, const PacketRunInput& input,
                                RunOptions options) {
  const std::size_t size = input.packet.size();
  const std::size_t meta = input.xdp.metadata_size;
  const std::size_t max_size = page_size - xdp_headroom - shared_info_size;
  if (meta > size || size - meta < eth_hlen || size > max_size || meta > 32 || meta % 4 != 0)
    return make_error(Error::Kind::usage,
                      fmt::format("an xdp packet must be {} to {} bytes with at most 32 bytes of "
                                  "metadata in 4-byte units (test_run), not {} bytes with {}",
                                  eth_hlen, max_size, size, meta));
  // The metadata is taken from the headroom (bpf_prog_test_run_xdp: headroom -= ctx->data):
  // the packet itself starts at XDP_PACKET_HEADROOM.
  FramePage frame;
  const std::size_t start = xdp_headroom - meta;
  std::memcpy(frame.data() + start, input.packet.data(), size);
  XdpKernelContext xdp;
  xdp.hard_start = frame.data();
  xdp.frame_size = page_size;
  xdp.data_meta = start;
  xdp.data = xdp_headroom;
  xdp.data_end = start + size;
  xdp.view.ingress_ifindex = input.xdp.ingress_ifindex;
  xdp.view.rx_queue_index = input.xdp.rx_queue_index;
  xdp.publish();

  RunInput run;
  run.context = &xdp.view;
  run.context_size = internal_view_size(ProgramType::xdp);
  run.context_writable = false;  // xdp_is_valid_access refuses every write
  // The whole frame is admitted: programs reach headroom and tailroom after adjust_head and
  // adjust_tail, and bytes outside [data, data_end) are the kernel verifier's business.
  options.regions.push_back({frame.data(), page_size, true});

  PacketRunOutput out;
  ActiveContextScope scope(ActiveContext{ProgramType::xdp, nullptr, &xdp, input.network, nullptr});
  auto r0 = run_repeated(runner, input, run, options);
  if (!r0) return r0.error();
  out.return_value = *r0;
  out.packet.assign(frame.data() + xdp.data_meta, frame.data() + xdp.data_end);
  if (xdp.redirect.set)
    out.redirect =
        XdpRedirect{xdp.redirect.map, xdp.redirect.map != nullptr ? xdp.redirect.key : 0,
                    xdp.redirect.flags, xdp.redirect.map == nullptr ? xdp.redirect.key : 0};
  return out;
}

Result<PacketRunOutput> run_raw(const ProgramRunner& runner, const PacketRunInput& input,
                                const RunOptions& options) {
  std::vector<std::uint8_t> memory(input.packet.begin(), input.packet.end());
  auto r0 = run_repeated(runner, input, RunInput::raw(memory), options);
  if (!r0) return r0.error();
  PacketRunOutput out;
  out.return_value = *r0;
  out.packet = std::move(memory);
  return out;
}

}  // namespace

Result<PacketRunOutput> run_packet(const ProgramRunner& runner, const PacketRunInput& input,
                                   const RunOptions& options) {
  switch (input.type) {
    case ProgramType::raw: return run_raw(runner, input, options);
    case ProgramType::socket_filter:
    case ProgramType::sched_cls: return run_skb(runner, input, options);
    case ProgramType::xdp: return run_xdp(runner, input, options);
    default:
      return make_error(Error::Kind::usage, fmt::format("cannot run {} programs on a packet",
                                                        program_type_name(input.type)));
  }
}

Result<PacketRunOutput> run_packet(const Program& program, const PacketRunInput& input,
                                   Engine engine, const RunOptions& options) {
  return run_packet(
      [&](const RunInput& run, const RunOptions& run_options) {
        return run_program(engine, program, run, run_options);
      },
      input, options);
}

}  // namespace bpfvm
