// bpf_clone_redirect, bpf_get_hash_recalc and bpf_fib_lookup (net/core/filter.c) over the
// run's Network (network.hpp; Network::loopback() when the run gives none).
#include "progtypes/net_helpers.hpp"

#include "progtypes/active_context.hpp"
#include "progtypes/fib.hpp"
#include "progtypes/flow_hash.hpp"
#include "progtypes/helper_arguments.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace bpfvm::progtypes {
namespace {

using u64 = std::uint64_t;

constexpr u64 f_ingress = 1;          // BPF_F_INGRESS
constexpr std::size_t eth_hlen = 14;  // ETH_HLEN: every bpfvm interface is Ethernet-like
constexpr std::size_t vlan_hlen = 4;  // VLAN_HLEN

}  // namespace

// bpf_clone_redirect(skb, ifindex, flags): -EINVAL for flags other than BPF_F_INGRESS or an
// ifindex no interface has (dev_get_by_index_rcu); otherwise a clone of the packet as it is
// now goes to the interface: recorded in the run's clone sink (PacketRunOutput::clones). The
// result is the device's: 0 (NET_XMIT_SUCCESS / NET_RX_SUCCESS); for a down interface
// -ENETDOWN on egress (dev_queue_xmit) and 1 (NET_RX_DROP) on ingress (dev_forward_skb), and
// nothing recorded. An ingress clone longer than the interface's MTU plus its Ethernet and
// VLAN headers is dropped the same way (__is_skb_forwardable).
u64 clone_redirect(HelperCall& call, u64 r1, u64 ifindex, u64 flags, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "clone_redirect");
  if (skb == nullptr) return 0;
  if (flags & ~f_ingress) return errno_result(EINVAL);
  const ActiveContext& active = active_context();
  const NetInterface* dev = network_of(active).find_interface(static_cast<std::uint32_t>(ifindex));
  if (dev == nullptr) return errno_result(EINVAL);
  const bool ingress = flags & f_ingress;
  // The frame from the MAC header: sched_cls runs with skb->data there.
  const std::uint8_t* frame = skb->head + skb->network - eth_hlen;
  const std::size_t frame_len = skb->packet() + skb->len - frame;
  if (ingress) {
    if (!dev->up || frame_len > std::size_t{dev->mtu} + eth_hlen + vlan_hlen) return 1;
  } else if (!dev->up) {
    return errno_result(ENETDOWN);
  }
  if (active.clones != nullptr)
    active.clones->push_back({dev->ifindex, ingress, {frame, frame + frame_len}});
  return 0;
}

// bpf_get_hash_recalc(skb): skb_get_hash. A hash already computed (and not cleared since by
// skb_store_bytes' BPF_F_INVALIDATE_HASH) is returned as is; otherwise the flow hash of the
// packet (flow_hash.hpp, keyed by Network::flow_hash_key) becomes skb->hash, which the program
// then also reads from __sk_buff.hash.
u64 get_hash_recalc(HelperCall& call, u64 r1, u64, u64, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "get_hash_recalc");
  if (skb == nullptr) return 0;
  if (!skb->sw_hash && !skb->l4_hash) {
    const std::uint8_t* l3 = skb->head + skb->network;
    const std::uint8_t* end = skb->packet() + skb->len;
    const std::span<const std::uint8_t> network(l3,
                                                end > l3 ? static_cast<std::size_t>(end - l3) : 0);
    const auto protocol = static_cast<std::uint16_t>(skb->view.words[skb_off::protocol / 4]);
    FlowHash hash = flow_hash(network, protocol, network_of(active_context()).flow_hash_key);
    skb->hash = hash.hash;
    skb->sw_hash = true;
    skb->l4_hash = hash.l4;
    skb->publish();
  }
  return skb->hash;
}

// bpf_fib_lookup(ctx, params, plen, flags) for xdp (bpf_xdp_fib_lookup: the MTU is always
// checked) and tc (bpf_skb_fib_lookup: checked against tot_len when it is set; otherwise the
// packet must fit the output device, else BPF_FIB_LKUP_RET_FRAG_NEEDED, and mtu_result is the
// device's MTU). -EINVAL for plen < sizeof(struct bpf_fib_lookup) or unknown flags,
// -EAFNOSUPPORT for a family other than AF_INET and AF_INET6.
u64 fib_lookup(HelperCall& call, u64 r1, u64 params_address, u64 plen, u64 flags, u64) {
  ActiveContext& active = active_context();
  const bool xdp = active.xdp != nullptr && reinterpret_cast<void*>(r1) == &active.xdp->view &&
                   call.context() == &active.xdp->view;
  const bool tc = active.skb != nullptr && reinterpret_cast<void*>(r1) == &active.skb->view &&
                  call.context() == &active.skb->view;
  if (!xdp && !tc) {
    call.fail("fib_lookup: r1 is not the context of an xdp or sched_cls run");
    return 0;
  }
  const auto length = static_cast<std::int32_t>(plen);
  if (length > 0 && !call.accessible(params_address, static_cast<std::size_t>(length), true)) {
    call.fail(fmt::format("fib_lookup: {} bytes at {:#x} are not writable by the program", length,
                          params_address));
    return 0;
  }
  if (length < static_cast<std::int32_t>(sizeof(FibParams))) return errno_result(EINVAL);
  if (flags & ~static_cast<u64>(fib_flag::all)) return errno_result(EINVAL);
  FibParams params;
  std::memcpy(&params, reinterpret_cast<const void*>(params_address), sizeof params);
  if (params.family != IpAddress::inet && params.family != IpAddress::inet6)
    return errno_result(EAFNOSUPPORT);
  const Network& network = network_of(active);
  const bool check_mtu = xdp || params.tot_len != 0;
  int rc = fib_lookup_family(network, params, static_cast<std::uint32_t>(flags), check_mtu);
  if (tc && rc == fib_ret::success && !check_mtu) {
    const NetInterface* dev = network.find_interface(params.ifindex);
    const SkbKernelContext& skb = *active.skb;
    // is_skb_forwardable: up, and no longer than MTU + hard_header_len + VLAN_HLEN.
    if (!dev->up || skb.len > std::size_t{dev->mtu} + eth_hlen + vlan_hlen)
      rc = fib_ret::frag_needed;
    params.tot_len = static_cast<std::uint16_t>(dev->mtu);  // mtu_result
  }
  std::memcpy(reinterpret_cast<void*>(params_address), &params, sizeof params);
  return rc < 0 ? errno_result(-rc) : static_cast<u64>(rc);
}

}  // namespace bpfvm::progtypes
