// Branchy dispatch in front of branch-free code (docs/classic.md, "Branch-free code").
//
// A filter from pcap_compile starts by testing one header field, almost always the link-layer
// type (`ldh [12]` against 0x0800, 0x86dd, 0x8100, ...), and each outcome leads into its own
// part of the program. The branch-free code evaluates every part for every packet. A real
// branch on that first field costs a misprediction whenever the packet's kind differs from
// the predicted one, and skips the parts of the other kinds. Whether that pays depends on the
// traffic, which a compiler cannot see: on a link where 94% of the frames are untagged a
// `vlan` filter's dispatch is nearly always predicted and skips most of the code; on a mix of
// 75% IPv4 and 25% IPv6 the mispredictions cost about what the skipped code would have.
//
// So the compiler emits both forms (BranchFreeFilter::run and run_dispatched, and a third,
// branchy one), and Filter chooses from what the traffic does (branch_free_choice.cpp):
// exit_of() evaluates the dispatch tests for a packet in C++, and dispatch_cost() weighs the
// code each exit runs against the mispredictions of the minority exits.
#pragma once

#include <bpfvm/classic.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace bpfvm::classic::detail {

// A dispatch takes at most this many tests (libpcap's `vlan` tests three TPIDs).
inline constexpr std::size_t max_dispatch_tests = 8;

struct BranchFreeDispatch {
  std::uint32_t load_k = 0;  // instruction 0: A = the `load_size` bytes at `load_k`
  int load_size = 0;
  // Instructions 1.. that test A against constants and are reached only from the dispatch.
  std::vector<bool> in_prefix;  // per instruction
  std::vector<std::uint32_t> tests;
  // Where the dispatch leads: instructions outside it (returns, or entries of branch-free
  // code), in increasing order.
  std::vector<std::uint32_t> exits;
};

// The dispatch of `program`, when it has one: instruction 0 an absolute load into A and
// instruction 1 a comparison of A with a constant. The caller guarantees that the packets it
// runs exit_of() on hold the load (branch-free code runs only on packets of at least
// min_caplen() bytes).
std::optional<BranchFreeDispatch> plan_dispatch(const Program& program);

// The index in `dispatch.exits` of the exit the packet takes.
std::size_t exit_of(const Program& program, const BranchFreeDispatch& dispatch,
                    const std::uint8_t* data);

// Cost model: code bytes stand for the time a packet spends in them (the code is straight-line,
// so time grows with its length); a mispredicted branch costs about 20 cycles, as long as
// roughly 80 instructions of about 4 bytes each. `exit_bytes[e]` is the size of the code exit e
// runs (0 for a return), `histogram[e]` how many packets of a sample took it. The predictor is
// assumed to guess the most common exit, so every other packet is a misprediction.
inline constexpr double mispredict_bytes = 320;
// On a batch larger than the caches, each cache line of packet data a packet's code reads costs
// about as much as 160 bytes of code (10 cycles, at the 16 bytes a cycle of mispredict_bytes):
// on the bench's million packets (248 MB, packets back to back, memory bandwidth the limit) a
// loop reading one header line per packet took 10.7-11.9 ns, one reading two 13.4-15.1 ns
// (docs/benchmarks.md, "Prefetch distance and cache lines at a million packets").
inline constexpr double line_bytes = 160;
// The expected bytes per packet of the dispatched code on such a histogram (infinite for an
// empty one).
double dispatch_cost(std::span<const std::uint32_t> histogram,
                     std::span<const std::size_t> exit_bytes);

}  // namespace bpfvm::classic::detail
