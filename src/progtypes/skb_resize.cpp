// bpf_skb_change_tail, bpf_skb_change_head and bpf_skb_pull_data (net/core/filter.c): the
// packet grows or shrinks in its buffer and moves to a bigger buffer when the room runs out,
// as pskb_expand_head does. All end with bpf_compute_data_pointers: the view's data and
// data_end follow the packet (the verifier already invalidated the program's packet
// pointers: the prototypes say these helpers change packet data).
#include "progtypes/active_context.hpp"
#include "progtypes/checksum.hpp"
#include "progtypes/helper_arguments.hpp"
#include "progtypes/skb_helpers.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace bpfvm::progtypes {
namespace {

using u64 = std::uint64_t;

// BPF_SKB_MAX_LEN (SKB_MAX_ALLOC: four pages less the shared info) bounds both helpers
// (change_head only for non-GSO packets).
constexpr std::size_t shared_info_size = 320;  // SKB_DATA_ALIGN(sizeof(skb_shared_info))
constexpr std::size_t net_skb_pad = 64;        // NET_SKB_PAD (x86-64: L1_CACHE_BYTES)
constexpr std::size_t kmalloc_max = 4u << 20;  // KMALLOC_MAX_SIZE (x86-64, 4 KiB pages)

std::size_t tailroom(const SkbKernelContext& skb) {
  return skb.buffer_size - shared_info_size - (skb.data + skb.len);
}

// __bpf_skb_min_len: change_tail may not cut into the headers the stack already parsed: the
// network header's offset from skb->data, or the transport header's once adjust_room set it
// (CHECKSUM_PARTIAL's csum_start is never set in bpfvm).
std::uint32_t min_len(const SkbKernelContext& skb) {
  std::uint32_t min =
      skb.network > skb.data ? static_cast<std::uint32_t>(skb.network - skb.data) : 0;
  if (skb.transport != SkbKernelContext::no_header && skb.transport > skb.data)
    min = static_cast<std::uint32_t>(skb.transport - skb.data);
  return min;
}

// skb_gso_reset: a resized GSO packet is no longer segmented as it was.
void gso_reset(SkbKernelContext& skb) {
  if (skb.view.gso_size == 0) return;
  skb.view.gso_size = 0;
  skb.view.gso_segs = 0;
}

}  // namespace

// pskb_expand_head(skb, more_head, more_tail): the buffer is copied into a bigger one and
// every offset moves with it. The run's region follows (the old one is revoked, the new one
// granted); the old buffer stays allocated until the run ends. False when the new buffer
// would exceed what kmalloc gives (-ENOMEM). The buffer at least doubles when kmalloc allows
// (its sizes are powers of two too), so a loop of small grows copies a few times, not once
// per call, and the buffers kept stay within twice the last one.
bool skb_expand_head(HelperCall& call, SkbKernelContext& skb, std::size_t more_head,
                     std::size_t more_tail) {
  std::size_t size = skb.buffer_size + more_head + more_tail;
  if (size > kmalloc_max) return false;
  if (size < 2 * skb.buffer_size && 2 * skb.buffer_size <= kmalloc_max) {
    const std::size_t spare = 2 * skb.buffer_size - size;
    if (more_head != 0)
      more_head += spare;
    else
      more_tail += spare;
    size = 2 * skb.buffer_size;
  }
  std::vector<std::uint8_t> grown(size, 0);
  std::memcpy(grown.data() + more_head, skb.head, skb.buffer_size);
  if (skb.buffer_admitted) call.revoke(skb.head, skb.buffer_size, true);
  skb.buffers.push_back(std::move(grown));
  skb.head = skb.buffers.back().data();
  skb.buffer_size = size;
  skb.data += more_head;
  skb.network += more_head;
  if (skb.transport != SkbKernelContext::no_header) skb.transport += more_head;
  if (skb.buffer_admitted) call.grant(skb.head, skb.buffer_size, true);
  return true;
}

// __skb_cow: the missing headroom, rounded up to NET_SKB_PAD, in a new buffer.
bool skb_cow(HelperCall& call, SkbKernelContext& skb, std::size_t headroom) {
  if (headroom <= skb.data) return true;
  const std::size_t delta = headroom - skb.data;
  return skb_expand_head(call, skb, (delta + net_skb_pad - 1) / net_skb_pad * net_skb_pad, 0);
}

// bpf_skb_change_tail(skb, len, flags): -EINVAL for nonzero flags, a length over
// BPF_SKB_MAX_LEN or one that would cut the headers (__bpf_skb_min_len). Growing zeroes the
// new bytes (bpf_skb_grow_rcsum; a CHECKSUM_COMPLETE skb becomes CHECKSUM_NONE); trimming
// takes the cut bytes out of a CHECKSUM_COMPLETE sum (pskb_trim_rcsum). A GSO packet loses
// its GSO state either way.
u64 skb_change_tail(HelperCall& call, u64 r1, u64 len_arg, u64 flags, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_change_tail");
  if (skb == nullptr) return 0;
  const auto new_len = static_cast<std::uint32_t>(len_arg);
  if (flags != 0 || new_len > skb_max_len || new_len < min_len(*skb)) return errno_result(EINVAL);
  if (skb->encapsulation) return errno_result(enotsupp);
  if (new_len > skb->len) {
    const std::size_t grow = new_len - skb->len;
    if (tailroom(*skb) < grow && !skb_expand_head(call, *skb, 0, grow - tailroom(*skb)))
      return errno_result(ENOMEM);
    std::memset(skb->packet() + skb->len, 0, grow);
    if (skb->ip_summed == IpSummed::complete) skb->ip_summed = IpSummed::none;
  } else if (new_len < skb->len && skb->ip_summed == IpSummed::complete) {
    std::uint32_t cut = csum_partial(skb->packet() + new_len, skb->len - new_len, 0);
    if (new_len & 1) cut = (cut >> 8) | (cut << 24);  // csum_block_sub at an odd offset
    skb->csum = csum_sub(skb->csum, cut);
  }
  gso_reset(*skb);
  skb->len = new_len;
  skb->publish(call);
  return 0;
}

// bpf_skb_change_head(skb, head_room, flags): `head_room` zeroed bytes before the packet,
// which becomes the new MAC header (the network header stays where it was). -EINVAL for
// nonzero flags, a length that overflows, or (not GSO) one over BPF_SKB_MAX_LEN; skb_cow makes the
// headroom, moving the packet to a new buffer when it lacks it (-ENOMEM past kmalloc's limit).
u64 skb_change_head(HelperCall& call, u64 r1, u64 room_arg, u64 flags, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_change_head");
  if (skb == nullptr) return 0;
  const auto head_room = static_cast<std::uint32_t>(room_arg);
  const auto len = static_cast<std::uint32_t>(skb->len);
  const std::uint32_t new_len = len + head_room;
  const bool gso = skb->view.gso_size != 0;
  if (flags != 0 || (!gso && new_len > skb_max_len) || new_len < len) return errno_result(EINVAL);
  if (!skb_cow(call, *skb, head_room)) return errno_result(ENOMEM);
  skb->data -= head_room;
  skb->len = new_len;
  std::memset(skb->packet(), 0, head_room);
  skb->publish(call);
  return 0;
}

// bpf_skb_pull_data(skb, len): makes the first `len` bytes (0: the linear part) direct-access
// readable and writable (skb_ensure_writable). bpfvm's packets are always linear and
// writable, so it only fails, -ENOMEM, when `len` is past the packet (pskb_may_pull); the
// view's pointers are recomputed either way.
u64 skb_pull_data(HelperCall& call, u64 r1, u64 len_arg, u64, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_pull_data");
  if (skb == nullptr) return 0;
  const auto len = static_cast<std::uint32_t>(len_arg);
  skb->publish(call);
  return len > skb->len ? errno_result(ENOMEM) : 0;
}

}  // namespace bpfvm::progtypes
