// The helpers that reach the host's network (net_helpers.cpp): bpf_clone_redirect (13),
// bpf_get_hash_recalc (34), bpf_fib_lookup (69). packet_helpers() registers them.
#pragma once

#include <bpfvm/helper.hpp>

#include <cstdint>

namespace bpfvm::progtypes {

std::uint64_t clone_redirect(HelperCall& call, std::uint64_t r1, std::uint64_t ifindex,
                             std::uint64_t flags, std::uint64_t, std::uint64_t);
std::uint64_t get_hash_recalc(HelperCall& call, std::uint64_t r1, std::uint64_t, std::uint64_t,
                              std::uint64_t, std::uint64_t);
std::uint64_t fib_lookup(HelperCall& call, std::uint64_t r1, std::uint64_t params,
                         std::uint64_t plen, std::uint64_t flags, std::uint64_t);

}  // namespace bpfvm::progtypes
