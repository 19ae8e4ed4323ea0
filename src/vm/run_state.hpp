// Per-run state shared by the interpreter and the helpers it calls: the regions checked
// mode admits, and requests helpers make of the run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::detail {

// No default member initializers: RegionList leaves its unused inline slots unset.
struct Region {
  std::uintptr_t begin;
  std::uintptr_t end;  // one past the last byte
  bool writable;
};

// The admitted regions of a run. Most runs have a handful (context, packet, a map value or
// two), so they live inline and a run does not allocate; more spill to the heap.
class RegionList {
 public:
  void push_back(const Region& region) {
    if (inline_count_ < inline_.size())
      inline_[inline_count_++] = region;
    else
      spilled_.push_back(region);
  }
  template <class Visit>
  bool any_of(Visit&& visit) const {
    for (std::size_t i = 0; i < inline_count_; ++i)
      if (visit(inline_[i])) return true;
    for (const Region& region : spilled_)
      if (visit(region)) return true;
    return false;
  }
  std::size_t size() const { return inline_count_ + spilled_.size(); }

 private:
  // Only the first inline_count_ are set: zeroing all six cost a `rep stos` on every run.
  std::array<Region, 6> inline_;
  std::size_t inline_count_ = 0;
  std::vector<Region> spilled_;
};

struct RunState {
  // The stack frames in use: [stack_begin, stack_end). Moves on every local call and return.
  std::uintptr_t stack_begin = 0;
  std::uintptr_t stack_end = 0;
  // r1 at entry (RunInput::context), for helpers of program types.
  void* context = nullptr;
  // Context, packet, host regions from RunOptions, and regions helpers granted.
  RegionList regions;

  bool end_requested = false;
  std::optional<std::string> helper_failure;

  // Whether [address, address + size) lies inside one admitted region (and, for a store,
  // a writable one). Overflowing address + size is never admitted.
  bool admits(std::uint64_t address, std::size_t size, bool write) const {
    // `address - begin <= length - size` is one unsigned comparison per bound, and is false
    // whenever address + size would wrap or run past the end (size is at most 8 here and
    // never larger than a frame; regions smaller than the access fail the first test).
    if (address - stack_begin <= (stack_end - stack_begin) - size) return true;
    return regions.any_of([&](const Region& region) {
      std::uintptr_t length = region.end - region.begin;
      return length >= size && address - region.begin <= length - size &&
             (region.writable || !write);
    });
  }
};

}  // namespace bpfvm::detail
