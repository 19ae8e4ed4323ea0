// Per-run state shared by the interpreter and the helpers it calls: the regions checked
// mode admits, and requests helpers make of the run.
#pragma once

#include <bpfvm/program.hpp>
#include <bpfvm/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bpfvm {
class Map;
class RingBufferMap;
struct RunInput;
}  // namespace bpfvm

namespace bpfvm::detail {

struct Code;

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
  // Whether exactly this region is already admitted (helpers granting the same map value on
  // every iteration of a loop must not grow the list).
  bool contains(const Region& region) const {
    return any_of([&](const Region& r) {
      return r.begin == region.begin && r.end == region.end && r.writable == region.writable;
    });
  }
  // Withdraws the most recent region equal to `region`, keeping the list compact (a ring
  // buffer record reserved and submitted in a loop must not grow it).
  void revoke(const Region& region) {
    for (std::size_t i = spilled_.size(); i-- > 0;)
      if (same(spilled_[i], region)) return void(spilled_.erase(spilled_.begin() + i));
    for (std::size_t i = inline_count_; i-- > 0;) {
      if (!same(inline_[i], region)) continue;
      inline_[i] = inline_[--inline_count_];
      if (!spilled_.empty()) {
        inline_[inline_count_++] = spilled_.back();
        spilled_.pop_back();
      }
      return;
    }
  }

 private:
  static bool same(const Region& a, const Region& b) {
    return a.begin == b.begin && a.end == b.end && a.writable == b.writable;
  }
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

  // ---- Engine support for helpers (maps, callbacks, tail calls): set at the run's entry.
  const Code* code = nullptr;  // the program running now; changes on a tail call
  const RunInput* input = nullptr;
  bool checked = true;
  bool budgeted = false;
  // The lowest address of the stack area: a callback's frame must not begin below it.
  std::uintptr_t stack_floor = 0;
  // Published by the engine at each helper call: r10 of the calling frame and the budget
  // left; a callback consumes from this budget and the engine reloads it after the call.
  std::uint64_t frame_pointer = 0;
  std::uint64_t budget = 0;
  std::uint64_t budget_limit = 0;  // RunOptions::budget, for the error message
  // An error raised inside a callback: ends the run once the helper returns.
  std::optional<Error> pending_error;
  // bpf_tail_call: the program to continue with once the helper returns, and how many tail
  // calls this run has made (Linux's MAX_TAIL_CALL_CNT is 33).
  std::optional<Program> tail_call;
  std::optional<Program> tail_called;  // the target running now, kept alive for the run
  std::uint32_t tail_calls = 0;
  // r10 of the running program's entry frame: stack_end, or, while a tail-call target runs in
  // the frame of the subprogram that called bpf_tail_call, that frame. A tail call from any
  // other frame is one from a subprogram (Linux 5.10+ on x86-64).
  std::uint64_t entry_frame = 0;
  // Callbacks (bpf_loop, for_each_map_elem) running now: tail calls from them are refused.
  std::uint32_t callback_depth = 0;
  // A tail call from a subprogram ran its targets in that subprogram's frame: the engine
  // returns from the subprogram with this r0 once the helper returns.
  std::optional<std::uint64_t> frame_return;
  // Maps a lookup in a map of maps handed out: valid map pointers for the rest of the run.
  std::vector<Map*> inner_maps;
  // bpf_ringbuf_reserve records not yet submitted or discarded, with their map.
  struct OpenRecord {
    void* record;
    std::size_t size;
    RingBufferMap* ring;
  };
  std::vector<OpenRecord> open_records;

  RunState() = default;
  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;
  // Records a program reserved and never submitted are discarded (Linux's verifier would
  // have refused such a program; a checked run must not leave the ring blocked).
  ~RunState();

  // Like admits(), for any size (helpers check whole buffers, not 8-byte accesses).
  bool admits_range(std::uint64_t address, std::uint64_t size, bool write) const {
    if (size == 0) return true;
    if (address + size < address) return false;
    auto inside = [&](std::uintptr_t begin, std::uintptr_t end) {
      return address >= begin && end - begin >= size && address - begin <= (end - begin) - size;
    };
    if (inside(stack_begin, stack_end)) return true;
    return regions.any_of([&](const Region& region) {
      return inside(region.begin, region.end) && (region.writable || !write);
    });
  }

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
