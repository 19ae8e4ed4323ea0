// The sched_cls helpers that resize or retag the packet or attach tunnel metadata
// (net/core/filter.c): bpf_skb_change_tail (38), bpf_skb_change_head (43) and
// bpf_skb_pull_data (39) in skb_resize.cpp; bpf_skb_change_type (32), bpf_skb_change_proto
// (31) and bpf_skb_adjust_room (50) in skb_reshape.cpp; bpf_skb_vlan_push (18) and
// bpf_skb_vlan_pop (19) in skb_vlan.cpp; bpf_skb_get_tunnel_key (20), bpf_skb_set_tunnel_key
// (21), bpf_skb_get_tunnel_opt (29) and bpf_skb_set_tunnel_opt (30) in tunnel_key.cpp; the
// cookies (46, 122) and bpf_setsockopt (49) in socket_helpers.cpp. packet_helpers()
// registers them.
#pragma once

#include "progtypes/kernel_context.hpp"

#include <bpfvm/helper.hpp>

#include <cstddef>
#include <cstdint>

namespace bpfvm::progtypes {

// Linux's internal ENOTSUPP (include/linux/errno.h), which several skb helpers return; not
// the uapi EOPNOTSUPP.
inline constexpr int enotsupp = 524;
// BPF_SKB_MAX_LEN (SKB_MAX_ALLOC): four pages less the shared info.
inline constexpr std::uint32_t skb_max_len = (4096u << 2) - 320;

// pskb_expand_head: the packet moves to a bigger buffer with `more_head` bytes more headroom
// and `more_tail` more tailroom (skb_resize.cpp). False when kmalloc could not give it
// (-ENOMEM).
bool skb_expand_head(HelperCall& call, SkbKernelContext& skb, std::size_t more_head,
                     std::size_t more_tail);
// skb_cow / skb_cow_head: at least `headroom` bytes before skb->data. False: -ENOMEM.
bool skb_cow(HelperCall& call, SkbKernelContext& skb, std::size_t headroom);

// skb_postpull_rcsum / skb_postpush_rcsum: a CHECKSUM_COMPLETE sum loses (gains) the bytes
// pulled off (pushed onto) the packet (skb_reshape.cpp).
void skb_postpull_rcsum(SkbKernelContext& skb, const std::uint8_t* start, std::size_t len);
void skb_postpush_rcsum(SkbKernelContext& skb, const std::uint8_t* start, std::size_t len);

std::uint64_t skb_change_tail(HelperCall& call, std::uint64_t r1, std::uint64_t new_len,
                              std::uint64_t flags, std::uint64_t, std::uint64_t);
std::uint64_t skb_change_head(HelperCall& call, std::uint64_t r1, std::uint64_t head_room,
                              std::uint64_t flags, std::uint64_t, std::uint64_t);
std::uint64_t skb_get_tunnel_key(HelperCall& call, std::uint64_t r1, std::uint64_t to,
                                 std::uint64_t size, std::uint64_t flags, std::uint64_t);
std::uint64_t skb_set_tunnel_key(HelperCall& call, std::uint64_t r1, std::uint64_t from,
                                 std::uint64_t size, std::uint64_t flags, std::uint64_t);

std::uint64_t skb_pull_data(HelperCall& call, std::uint64_t r1, std::uint64_t len, std::uint64_t,
                            std::uint64_t, std::uint64_t);
std::uint64_t skb_get_tunnel_opt(HelperCall& call, std::uint64_t r1, std::uint64_t to,
                                 std::uint64_t size, std::uint64_t, std::uint64_t);
std::uint64_t skb_set_tunnel_opt(HelperCall& call, std::uint64_t r1, std::uint64_t from,
                                 std::uint64_t size, std::uint64_t, std::uint64_t);

std::uint64_t skb_change_type(HelperCall& call, std::uint64_t r1, std::uint64_t type, std::uint64_t,
                              std::uint64_t, std::uint64_t);
std::uint64_t skb_change_proto(HelperCall& call, std::uint64_t r1, std::uint64_t proto,
                               std::uint64_t flags, std::uint64_t, std::uint64_t);
std::uint64_t skb_adjust_room(HelperCall& call, std::uint64_t r1, std::uint64_t len_diff,
                              std::uint64_t mode, std::uint64_t flags, std::uint64_t);
std::uint64_t skb_vlan_push(HelperCall& call, std::uint64_t r1, std::uint64_t proto,
                            std::uint64_t tci, std::uint64_t, std::uint64_t);
std::uint64_t skb_vlan_pop(HelperCall& call, std::uint64_t r1, std::uint64_t, std::uint64_t,
                           std::uint64_t, std::uint64_t);
std::uint64_t get_socket_cookie(HelperCall& call, std::uint64_t r1, std::uint64_t, std::uint64_t,
                                std::uint64_t, std::uint64_t);
std::uint64_t get_netns_cookie(HelperCall& call, std::uint64_t r1, std::uint64_t, std::uint64_t,
                               std::uint64_t, std::uint64_t);
std::uint64_t setsockopt(HelperCall& call, std::uint64_t r1, std::uint64_t level,
                         std::uint64_t optname, std::uint64_t optval, std::uint64_t optlen);

}  // namespace bpfvm::progtypes
