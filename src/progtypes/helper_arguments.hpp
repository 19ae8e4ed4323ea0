// What the packet helpers (packet_helpers.cpp, net_helpers.cpp, skb_resize.cpp,
// tunnel_key.cpp) check of their arguments before they act, and how they return an error.
// r1 must be the running program's own context: a forged pointer fails the run and is never
// dereferenced. Memory arguments are what the verifier would have checked; in checked mode
// they must be accessible to the program.
#pragma once

#include "progtypes/kernel_context.hpp"

#include <bpfvm/helper.hpp>

#include <cstdint>

namespace bpfvm::progtypes {

// A helper's negative errno, as the u64 r0 holds it.
constexpr std::uint64_t errno_result(int error) {
  return static_cast<std::uint64_t>(-static_cast<std::int64_t>(error));
}

// The sk_buff of a sched_cls run whose context r1 is, or nullptr (the run then fails).
SkbKernelContext* tc_skb(HelperCall& call, std::uint64_t r1, const char* helper);

// `size` bytes at `address`, or nullptr when the program may not read (or write) them (the
// run then fails). Zero bytes are never checked: the address comes back as it is.
std::uint8_t* memory_arg(HelperCall& call, std::uint64_t address, std::uint64_t size, bool write,
                         const char* helper);

}  // namespace bpfvm::progtypes
