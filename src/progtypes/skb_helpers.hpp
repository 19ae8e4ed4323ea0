// The sched_cls helpers that resize the packet or attach tunnel metadata
// (net/core/filter.c): bpf_skb_change_tail (38), bpf_skb_change_head (43) and
// bpf_skb_pull_data (39) in skb_resize.cpp; bpf_skb_get_tunnel_key (20),
// bpf_skb_set_tunnel_key (21), bpf_skb_get_tunnel_opt (29) and bpf_skb_set_tunnel_opt (30) in
// tunnel_key.cpp. packet_helpers() registers them.
#pragma once

#include <bpfvm/helper.hpp>

#include <cstdint>

namespace bpfvm::progtypes {

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

}  // namespace bpfvm::progtypes
