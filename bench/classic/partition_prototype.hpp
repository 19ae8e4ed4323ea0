// A prototype of a partitioned batch loop for programs with a dispatch, kept beside the forms
// it was measured against (docs/classic.md, "Partitioning a batch by dispatch exit: measured,
// not adopted").
//
// The branchy form's dispatch on the EtherType mispredicts on every minority frame (a `vlan`
// filter's 6% of 802.1Q frames, random in the traffic). The idea: in chunks of `chunk`
// packets, pass 1 looks up each packet's dispatch exit without a branch (a table from the
// dispatched field's value to its exit, built with BranchFreeFilter::exit_of()) and appends
// the packet's index to that exit's list; pass 2 gives each `ret #k` exit's packets their
// verdict and runs the other exits' packets, copied together, through the branchy loop, whose
// dispatch then always goes the same way. In C++ the two passes cost more than the
// mispredictions they remove; the numbers are in the doc.
#pragma once

#include <bpfvm/classic.hpp>

#include "classic/branch_free.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace bpfvm::bench {

class PartitionPrototype {
 public:
  static constexpr std::size_t chunk = 128;

  // Nothing when the code has no dispatch, or one on a field wider than 2 bytes, or no batch
  // loop.
  static std::optional<PartitionPrototype> make(const classic::Program& program,
                                                const classic::detail::BranchFreeFilter& code);

  // Every packet's verdict; packets shorter than the code's min_caplen() get 0 (as the forms
  // bench's loop columns count them).
  void run(std::span<const classic::Packet> batch, std::uint32_t* verdicts) const;

  // `exit_only`: pass 1 reduced to storing each packet's exit (no lists, no pass 2), for the
  // lower bound of any partitioning; the verdicts are then meaningless.
  void set_exit_only(bool exit_only) { exit_only_ = exit_only; }

 private:
  void run_chunk(const classic::Packet* first, std::size_t count, std::uint32_t* verdicts,
                 const classic::Packet* prefetch_end) const;

  classic::detail::BranchFreeFilter::Loop branchy_ = nullptr;
  std::uint64_t min_caplen_ = 0;
  std::size_t load_k_ = 0;
  bool wide_ = false;
  std::vector<std::uint8_t> table_;     // per field value, its exit
  std::vector<std::uint8_t> returns_;   // per exit: a `ret #k`
  std::vector<std::uint32_t> verdict_;  // and its k
  bool exit_only_ = false;
};

}  // namespace bpfvm::bench
