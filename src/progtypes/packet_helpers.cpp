// The packet helpers (Linux net/core/filter.c), with Linux's ids, argument checks, return
// values and effects on the internal contexts of kernel_context.hpp.
#include "progtypes/active_context.hpp"
#include "progtypes/checksum.hpp"
#include "progtypes/helper_arguments.hpp"
#include "progtypes/net_helpers.hpp"
#include "progtypes/skb_helpers.hpp"

#include <bpfvm/linux_prototypes.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace bpfvm {
namespace progtypes {

ActiveContext& active_context() {
  thread_local ActiveContext context;
  return context;
}

}  // namespace progtypes

namespace {

using namespace progtypes;
using u64 = std::uint64_t;

// uapi flags.
constexpr u64 f_recompute_csum = 1u << 0;          // BPF_F_RECOMPUTE_CSUM
constexpr u64 f_invalidate_hash = 1u << 1;         // BPF_F_INVALIDATE_HASH
constexpr u64 f_hdr_field_mask = 0xf;              // BPF_F_HDR_FIELD_MASK
constexpr u64 f_pseudo_hdr = 1u << 4;              // BPF_F_PSEUDO_HDR
constexpr u64 f_mark_mangled_0 = 1u << 5;          // BPF_F_MARK_MANGLED_0
constexpr u64 f_mark_enforce = 1u << 6;            // BPF_F_MARK_ENFORCE
constexpr u64 f_ipv6 = 1u << 7;                    // BPF_F_IPV6
constexpr u64 f_broadcast = 1u << 3;               // BPF_F_BROADCAST
constexpr u64 f_exclude_ingress = 1u << 4;         // BPF_F_EXCLUDE_INGRESS
constexpr std::size_t eth_hlen = 14;               // ETH_HLEN
constexpr std::size_t xdp_frame_size = 40;         // sizeof(struct xdp_frame)
constexpr std::size_t xdp_meta_max = 255;          // type_max(skb_shared_info.meta_len)
constexpr u64 f_ingress = 1u << 0;                 // BPF_F_INGRESS
constexpr u64 tc_act_shot = 2;                     // TC_ACT_SHOT
constexpr u64 tc_act_redirect = 7;                 // TC_ACT_REDIRECT
constexpr std::size_t skb_shared_info_size = 320;  // SKB_DATA_ALIGN(sizeof(skb_shared_info))
constexpr std::uint16_t csum_mangled_0 = 0xffff;   // CSUM_MANGLED_0

SkbKernelContext* skb_of(HelperCall& call, u64 r1, const char* helper) {
  ActiveContext& active = active_context();
  if (active.skb == nullptr || reinterpret_cast<void*>(r1) != &active.skb->view ||
      call.context() != &active.skb->view) {
    call.fail(fmt::format("{}: r1 is not the context of a socket_filter or sched_cls run", helper));
    return nullptr;
  }
  return active.skb;
}

XdpKernelContext* xdp_of(HelperCall& call, u64 r1, const char* helper) {
  ActiveContext& active = active_context();
  if (active.xdp == nullptr || reinterpret_cast<void*>(r1) != &active.xdp->view ||
      call.context() != &active.xdp->view) {
    call.fail(fmt::format("{}: r1 is not the context of an xdp run", helper));
    return nullptr;
  }
  return active.xdp;
}

// bpf_skb_load_bytes(skb, offset, to, len): 0, or -EFAULT with `to` zeroed.
u64 skb_load_bytes(HelperCall& call, u64 r1, u64 offset, u64 to, u64 len, u64) {
  SkbKernelContext* skb = skb_of(call, r1, "skb_load_bytes");
  if (skb == nullptr) return 0;
  std::uint8_t* out = memory_arg(call, to, len, true, "skb_load_bytes");
  if (out == nullptr && len != 0) return 0;
  const auto off = static_cast<std::uint32_t>(offset);
  const auto size = static_cast<std::uint32_t>(len);
  if (off > 0xffff || static_cast<u64>(off) + size > skb->len) {
    if (size != 0) std::memset(out, 0, size);
    return errno_result(EFAULT);
  }
  if (size != 0) std::memmove(out, skb->packet() + off, size);
  return 0;
}

// __skb_postpull_rcsum / __skb_postpush_rcsum for CHECKSUM_COMPLETE skbs (csum_block_sub and
// csum_block_add: a block at an odd offset contributes its sum byte-swapped).
std::uint32_t block_sum(const std::uint8_t* data, std::size_t len, std::size_t offset) {
  std::uint32_t sum = csum_partial(data, len, 0);
  if (offset & 1) sum = (sum >> 8) | (sum << 24);
  return sum;
}

// bpf_skb_store_bytes(skb, offset, from, len, flags).
u64 skb_store_bytes(HelperCall& call, u64 r1, u64 offset, u64 from, u64 len, u64 flags) {
  SkbKernelContext* skb = skb_of(call, r1, "skb_store_bytes");
  if (skb == nullptr) return 0;
  const std::uint8_t* in = memory_arg(call, from, len, false, "skb_store_bytes");
  if (in == nullptr && len != 0) return 0;
  if (flags & ~(f_recompute_csum | f_invalidate_hash)) return errno_result(EINVAL);
  const auto off = static_cast<std::uint32_t>(offset);
  const auto size = static_cast<std::uint32_t>(len);
  if (off > INT_MAX) return errno_result(EFAULT);
  // bpf_try_make_writable: the bytes must be in the (linear) packet.
  if (static_cast<u64>(off) + size > skb->len) return errno_result(EFAULT);
  std::uint8_t* ptr = skb->packet() + off;
  const bool complete = (flags & f_recompute_csum) && skb->ip_summed == IpSummed::complete;
  if (complete) skb->csum = csum_sub(skb->csum, block_sum(ptr, size, off));
  if (size != 0) std::memmove(ptr, in, size);
  if (complete) skb->csum = csum_add(skb->csum, block_sum(ptr, size, off));
  if (flags & f_invalidate_hash) {  // skb_clear_hash
    skb->hash = 0;
    skb->sw_hash = skb->l4_hash = false;
  }
  skb->publish(call);
  return 0;
}

std::uint16_t load16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void store16(std::uint8_t* p, std::uint16_t v) { std::memcpy(p, &v, 2); }

// bpf_l3_csum_replace(skb, offset, from, to, flags).
u64 l3_csum_replace(HelperCall& call, u64 r1, u64 offset, u64 from, u64 to, u64 flags) {
  SkbKernelContext* skb = skb_of(call, r1, "l3_csum_replace");
  if (skb == nullptr) return 0;
  if (flags & ~f_hdr_field_mask) return errno_result(EINVAL);
  const auto off = static_cast<std::uint32_t>(offset);
  if (off > 0xffff || (off & 1) || static_cast<u64>(off) + 2 > skb->len)
    return errno_result(EFAULT);
  std::uint8_t* ptr = skb->packet() + off;
  std::uint16_t field = load16(ptr);
  switch (flags & f_hdr_field_mask) {
    case 0:
      if (from != 0) return errno_result(EINVAL);
      csum_replace_by_diff(field, static_cast<std::uint32_t>(to));
      break;
    case 2:
      csum_replace2(field, static_cast<std::uint16_t>(from), static_cast<std::uint16_t>(to));
      break;
    case 4:
      csum_replace4(field, static_cast<std::uint32_t>(from), static_cast<std::uint32_t>(to));
      break;
    default: return errno_result(EINVAL);
  }
  store16(ptr, field);
  return 0;
}

// inet_proto_csum_replace4 / _by_diff (net/core/utils.c) on the L4 checksum.
void proto_replace4(SkbKernelContext& skb, std::uint16_t& field, std::uint32_t from,
                    std::uint32_t to, bool pseudo) {
  if (skb.ip_summed != IpSummed::partial) {
    csum_replace4(field, from, to);
    if (skb.ip_summed == IpSummed::complete && pseudo)
      skb.csum = ~csum_add(csum_sub(~skb.csum, from), to);
  } else if (pseudo) {
    field = static_cast<std::uint16_t>(
        ~csum_fold(csum_add(csum_sub(static_cast<std::uint32_t>(field), from), to)));
  }
}

void proto_replace_by_diff(SkbKernelContext& skb, std::uint16_t& field, std::uint32_t diff,
                           bool pseudo) {
  if (skb.ip_summed != IpSummed::partial) {
    csum_replace_by_diff(field, diff);
    if (skb.ip_summed == IpSummed::complete && pseudo) skb.csum = ~csum_sub(diff, skb.csum);
  } else if (pseudo) {
    field =
        static_cast<std::uint16_t>(~csum_fold(csum_add(static_cast<std::uint32_t>(field), diff)));
  }
}

// bpf_l4_csum_replace(skb, offset, from, to, flags).
u64 l4_csum_replace(HelperCall& call, u64 r1, u64 offset, u64 from, u64 to, u64 flags) {
  SkbKernelContext* skb = skb_of(call, r1, "l4_csum_replace");
  if (skb == nullptr) return 0;
  const bool pseudo = flags & f_pseudo_hdr;
  const bool mangled_0 = flags & f_mark_mangled_0;
  const bool enforce = flags & f_mark_enforce;
  if (flags & ~(f_mark_mangled_0 | f_mark_enforce | f_pseudo_hdr | f_hdr_field_mask | f_ipv6))
    return errno_result(EINVAL);
  const auto off = static_cast<std::uint32_t>(offset);
  if (off > 0xffff || (off & 1) || static_cast<u64>(off) + 2 > skb->len)
    return errno_result(EFAULT);
  std::uint8_t* ptr = skb->packet() + off;
  std::uint16_t field = load16(ptr);
  if (mangled_0 && !enforce && field == 0) return 0;
  switch (flags & f_hdr_field_mask) {
    case 0:
      if (from != 0) return errno_result(EINVAL);
      proto_replace_by_diff(*skb, field, static_cast<std::uint32_t>(to), pseudo);
      break;
    case 2:
      proto_replace4(*skb, field, static_cast<std::uint16_t>(from), static_cast<std::uint16_t>(to),
                     pseudo);
      break;
    case 4:
      proto_replace4(*skb, field, static_cast<std::uint32_t>(from), static_cast<std::uint32_t>(to),
                     pseudo);
      break;
    default: return errno_result(EINVAL);
  }
  if (mangled_0 && field == 0) field = csum_mangled_0;
  store16(ptr, field);
  return 0;
}

// bpf_csum_diff(from, from_size, to, to_size, seed), as Linux 6.12 and later: no size
// rule beyond the verifier's, and the result folded to 16 bits on every architecture.
u64 csum_diff(HelperCall& call, u64 from, u64 from_size, u64 to, u64 to_size, u64 seed) {
  const auto from_bytes = static_cast<std::uint32_t>(from_size);
  const auto to_bytes = static_cast<std::uint32_t>(to_size);
  const std::uint8_t* a = memory_arg(call, from, from_bytes, false, "csum_diff");
  const std::uint8_t* b = memory_arg(call, to, to_bytes, false, "csum_diff");
  if ((a == nullptr && from_bytes != 0) || (b == nullptr && to_bytes != 0)) return 0;
  auto sum = static_cast<std::uint32_t>(seed);
  if (from_bytes != 0 && to_bytes != 0)
    sum = csum_sub(csum_partial(b, to_bytes, sum), csum_partial(a, from_bytes, 0));
  else if (to_bytes != 0)
    sum = csum_partial(b, to_bytes, sum);
  else if (from_bytes != 0)
    sum = ~csum_partial(a, from_bytes, ~sum);
  return csum_from32to16(sum);
}

// bpf_xdp_adjust_head(xdp_md, delta).
u64 xdp_adjust_head(HelperCall& call, u64 r1, u64 delta, u64, u64, u64) {
  XdpKernelContext* xdp = xdp_of(call, r1, "xdp_adjust_head");
  if (xdp == nullptr) return 0;
  const auto offset = static_cast<std::int64_t>(static_cast<std::int32_t>(delta));
  const std::size_t metalen = xdp->data - xdp->data_meta;
  const auto data_start = static_cast<std::int64_t>(xdp_frame_size + metalen);
  const std::int64_t data = static_cast<std::int64_t>(xdp->data) + offset;
  if (data < data_start ||
      data > static_cast<std::int64_t>(xdp->data_end) - static_cast<std::int64_t>(eth_hlen))
    return errno_result(EINVAL);
  if (metalen != 0)
    std::memmove(xdp->hard_start + xdp->data_meta + offset, xdp->hard_start + xdp->data_meta,
                 metalen);
  xdp->data_meta = static_cast<std::size_t>(static_cast<std::int64_t>(xdp->data_meta) + offset);
  xdp->data = static_cast<std::size_t>(data);
  xdp->publish();
  return 0;
}

// bpf_xdp_adjust_meta(xdp_md, delta): data_meta moves by delta. -EINVAL when it would leave
// [hard_start + sizeof(struct xdp_frame), data]; -EACCES when the metadata would not be a
// whole number of 4-byte words or longer than xdp_metalen_invalid allows (the u8
// skb_shared_info.meta_len: 255, so 252 in words; Linux before 6.7: 32).
u64 xdp_adjust_meta(HelperCall& call, u64 r1, u64 delta, u64, u64, u64) {
  XdpKernelContext* xdp = xdp_of(call, r1, "xdp_adjust_meta");
  if (xdp == nullptr) return 0;
  const auto offset = static_cast<std::int64_t>(static_cast<std::int32_t>(delta));
  const std::int64_t meta = static_cast<std::int64_t>(xdp->data_meta) + offset;
  if (meta < static_cast<std::int64_t>(xdp_frame_size) ||
      meta > static_cast<std::int64_t>(xdp->data))
    return errno_result(EINVAL);
  const auto metalen = static_cast<std::size_t>(static_cast<std::int64_t>(xdp->data) - meta);
  if ((metalen & 3) != 0 || metalen > xdp_meta_max) return errno_result(EACCES);
  xdp->data_meta = static_cast<std::size_t>(meta);
  xdp->publish();
  return 0;
}

// bpf_xdp_adjust_tail(xdp_md, delta): the tail may grow up to the frame's end less the
// skb_shared_info reserve, and shrink to an Ethernet header.
u64 xdp_adjust_tail(HelperCall& call, u64 r1, u64 delta, u64, u64, u64) {
  XdpKernelContext* xdp = xdp_of(call, r1, "xdp_adjust_tail");
  if (xdp == nullptr) return 0;
  const auto offset = static_cast<std::int64_t>(static_cast<std::int32_t>(delta));
  const auto hard_end = static_cast<std::int64_t>(xdp->frame_size - skb_shared_info_size);
  const std::int64_t data_end = static_cast<std::int64_t>(xdp->data_end) + offset;
  if (data_end > hard_end) return errno_result(EINVAL);
  if (data_end < static_cast<std::int64_t>(xdp->data + eth_hlen)) return errno_result(EINVAL);
  if (offset > 0) std::memset(xdp->hard_start + xdp->data_end, 0, static_cast<std::size_t>(offset));
  xdp->data_end = static_cast<std::size_t>(data_end);
  xdp->publish();
  return 0;
}

// bpf_redirect_map(map, key, flags) for XDP (__bpf_xdp_redirect_map): XDP_REDIRECT when the
// key is in the map (or BPF_F_BROADCAST), else the low two bits of flags.
u64 redirect_map(HelperCall& call, u64 r1, u64 key, u64 flags, u64, u64) {
  ActiveContext& active = active_context();
  if (active.xdp == nullptr || call.context() != &active.xdp->view) {
    call.fail("redirect_map: not called from an xdp run");
    return 0;
  }
  // Only the program's own maps (LoadOptions::maps) and inner maps it looked up: a forged
  // pointer is refused, never dereferenced.
  Map* map = call.map(r1);
  if (map == nullptr) {
    call.fail("redirect_map: r1 is not one of the program's maps");
    return 0;
  }
  const MapType type = map->type();
  u64 flag_mask = 0;
  if (type == MapType::devmap || type == MapType::devmap_hash)
    flag_mask = f_broadcast | f_exclude_ingress;
  else if (type != MapType::cpumap && type != MapType::xskmap) {
    call.fail(
        fmt::format("redirect_map: map type {} cannot redirect (devmap, devmap_hash, "
                    "cpumap or xskmap only)",
                    static_cast<std::uint32_t>(type)));
    return 0;
  }
  constexpr u64 action_mask = 3;  // XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX
  if (flags & ~(action_mask | flag_mask)) return static_cast<u64>(XdpAction::aborted);
  const auto index = static_cast<std::uint32_t>(key);
  const bool found = map->lookup(&index) != nullptr;
  RedirectTarget& target = active.xdp->redirect;
  if (!found && !(flags & f_broadcast)) {
    target = RedirectTarget{};
    return flags & action_mask;
  }
  target = RedirectTarget{true, map, index, flags & f_broadcast ? flags : 0};
  return static_cast<u64>(XdpAction::redirect);
}

// bpf_redirect(ifindex, flags), one id with two functions (net/core/filter.c). From tc:
// TC_ACT_SHOT for any flag but BPF_F_INGRESS, else TC_ACT_REDIRECT with the interface and
// flags recorded (bpf_redirect_info) for the stack to act on if the program returns it. From
// xdp (bpf_xdp_redirect): XDP_ABORTED for any flag, else XDP_REDIRECT to the interface. The
// interface is not looked up: that happens when the redirect is carried out.
u64 redirect(HelperCall& call, u64 ifindex, u64 flags, u64, u64, u64) {
  ActiveContext& active = active_context();
  if (active.xdp != nullptr && call.context() == &active.xdp->view) {
    if (flags != 0) return static_cast<u64>(XdpAction::aborted);
    active.xdp->redirect = RedirectTarget{true, nullptr, static_cast<std::uint32_t>(ifindex), 0};
    return static_cast<u64>(XdpAction::redirect);
  }
  if (active.skb != nullptr && call.context() == &active.skb->view &&
      active.type == ProgramType::sched_cls) {
    if (flags & ~f_ingress) return tc_act_shot;
    active.skb->redirect =
        RedirectTarget{true, nullptr, static_cast<std::uint32_t>(ifindex), flags};
    active.skb->nexthop_family = 0;  // no BPF_F_NEXTHOP: a next hop set before is not used
    return tc_act_redirect;
  }
  call.fail("redirect: not called from a sched_cls or xdp run");
  return 0;
}

SkbKernelContext* tc_redirect_skb(HelperCall& call, const char* helper) {
  ActiveContext& active = active_context();
  if (active.skb == nullptr || call.context() != &active.skb->view ||
      active.type != ProgramType::sched_cls) {
    call.fail(fmt::format("{}: not called from a sched_cls run", helper));
    return nullptr;
  }
  return active.skb;
}

// bpf_redirect_neigh(ifindex, params, plen, flags): TC_ACT_SHOT for flags or a plen that is
// neither 0 nor at least sizeof(struct bpf_redir_neigh); else TC_ACT_REDIRECT, recording the
// interface, BPF_F_NEIGH (| BPF_F_NEXTHOP with params) and the next hop.
u64 redirect_neigh(HelperCall& call, u64 ifindex, u64 params, u64 plen_arg, u64 flags, u64) {
  SkbKernelContext* skb = tc_redirect_skb(call, "redirect_neigh");
  if (skb == nullptr) return 0;
  const auto plen = static_cast<std::int32_t>(plen_arg);
  constexpr std::int32_t redir_neigh_size = 20;  // sizeof(struct bpf_redir_neigh)
  if (plen > 0 && !call.accessible(params, static_cast<std::size_t>(plen), false)) {
    call.fail(fmt::format("redirect_neigh: {} bytes at {:#x} are not readable", plen, params));
    return 0;
  }
  if ((plen != 0 && plen < redir_neigh_size) || flags != 0) return tc_act_shot;
  constexpr u64 f_neigh = 1u << 1, f_nexthop = 1u << 3;  // BPF_F_NEIGH, BPF_F_NEXTHOP
  skb->redirect = RedirectTarget{true, nullptr, static_cast<std::uint32_t>(ifindex),
                                 f_neigh | (plen != 0 ? f_nexthop : 0)};
  skb->nexthop_family = 0;
  std::memset(skb->nexthop, 0, sizeof skb->nexthop);
  if (plen != 0) {
    const auto* in = reinterpret_cast<const std::uint8_t*>(params);
    std::memcpy(&skb->nexthop_family, in, 4);
    std::memcpy(skb->nexthop, in + 4, 16);
  }
  return tc_act_redirect;
}

// bpf_redirect_peer(ifindex, flags): TC_ACT_SHOT for any flag, else TC_ACT_REDIRECT with the
// interface and BPF_F_PEER recorded.
u64 redirect_peer(HelperCall& call, u64 ifindex, u64 flags, u64, u64, u64) {
  SkbKernelContext* skb = tc_redirect_skb(call, "redirect_peer");
  if (skb == nullptr) return 0;
  if (flags != 0) return tc_act_shot;
  constexpr u64 f_peer = 1u << 2;  // BPF_F_PEER
  skb->redirect = RedirectTarget{true, nullptr, static_cast<std::uint32_t>(ifindex), f_peer};
  return tc_act_redirect;
}

// A packet helper as the registry holds it: its name and prototype from the table of every
// Linux helper (linux_prototypes.hpp), the one source of both.
Helper packet_helper(std::uint32_t id, HelperFunction function) {
  const LinuxHelperInfo* info = linux_helper_info(id);
  return {.id = id,
          .name = std::string(info->name.substr(4)),  // no "bpf_"
          .function = function,
          .prototype = info->prototype};
}

}  // namespace

std::vector<Helper> packet_helpers() {
  return {
      packet_helper(9, skb_store_bytes),     packet_helper(10, l3_csum_replace),
      packet_helper(11, l4_csum_replace),    packet_helper(26, skb_load_bytes),
      packet_helper(28, csum_diff),          packet_helper(44, xdp_adjust_head),
      packet_helper(51, redirect_map),       packet_helper(65, xdp_adjust_tail),
      packet_helper(13, clone_redirect),     packet_helper(34, get_hash_recalc),
      packet_helper(69, fib_lookup),         packet_helper(23, redirect),
      packet_helper(54, xdp_adjust_meta),    packet_helper(38, skb_change_tail),
      packet_helper(43, skb_change_head),    packet_helper(20, skb_get_tunnel_key),
      packet_helper(21, skb_set_tunnel_key), packet_helper(29, skb_get_tunnel_opt),
      packet_helper(30, skb_set_tunnel_opt), packet_helper(152, redirect_neigh),
      packet_helper(155, redirect_peer),     packet_helper(39, skb_pull_data),
      packet_helper(32, skb_change_type),    packet_helper(31, skb_change_proto),
      packet_helper(50, skb_adjust_room),    packet_helper(18, skb_vlan_push),
      packet_helper(19, skb_vlan_pop),       packet_helper(46, get_socket_cookie),
      packet_helper(122, get_netns_cookie),  packet_helper(49, setsockopt),
  };
}

Status add_packet_helpers(HelperRegistry& registry, ProgramType type) {
  for (Helper& helper : packet_helpers()) {
    if (!helper_allowed(type, helper.id) || registry.find(helper.id) != nullptr) continue;
    if (auto ok = registry.add(std::move(helper)); !ok) return ok.error();
  }
  return Ok{};
}

}  // namespace bpfvm
