// Per-run state shared by the interpreter and the helpers it calls: the regions checked
// mode admits, and requests helpers make of the run.
#pragma once

#include <bpfvm/program.hpp>
#include <bpfvm/result.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
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
// two), so they live inline and a run does not allocate; more spill to the heap. A program
// that looks up many hash-map values holds one region per value: the spilled ones are also
// indexed by a small open-addressing table, so that granting one more (which asks whether
// it is already there) stays O(1) instead of scanning the list, and a one-entry cache of the
// last region that admitted an access answers the common "look up, then read the value"
// without a scan.
class RegionList {
 public:
  RegionList() = default;
  RegionList(const RegionList&) = delete;
  RegionList& operator=(const RegionList&) = delete;
  // The heap buffers go back to this thread's spare, for the next run that spills.
  ~RegionList() {
    // Most runs never spill: they must not touch the thread-local (its guard costs).
    if (spilled_.capacity() != 0 && spilled_.capacity() > spare_.spilled.capacity()) {
      spilled_.clear();
      spare_.spilled.swap(spilled_);
      table_.clear();
      spare_.table.swap(table_);
    }
  }

  void push_back(const Region& region) {
    if (inline_count_ < inline_.size())
      inline_[inline_count_++] = region;
    else
      spill(region);
    // The newest region is the likeliest target of the next access (a value just looked up).
    last_ = region;
    has_last_ = true;
  }
  template <class Visit>
  bool any_of(Visit&& visit) const {
    for (std::size_t i = 0; i < inline_count_; ++i)
      if (visit(inline_[i])) return true;
    for (const Region& region : spilled_)
      if (visit(region)) return true;
    for (std::size_t i = 0; i < deferred_count_; ++i)
      if (visit(deferred_[i])) return true;
    return false;
  }
  // The first region for which `admit` holds, trying the last one found first.
  template <class Admit>
  bool admits(Admit&& admit) const {
    if (has_last_ && admit(last_)) return true;
    return any_of([&](const Region& region) {
      if (!admit(region)) return false;
      last_ = region;
      has_last_ = true;
      return true;
    });
  }
  std::size_t size() {
    fold_deferred();
    return inline_count_ + spilled_.size();
  }
  // The region admits() last found (or push_back last added), if it is still admitted.
  const Region* last() const { return has_last_ ? &last_ : nullptr; }
  // Whether exactly this region is already admitted (helpers granting the same map value on
  // every iteration of a loop must not grow the list).
  bool contains(const Region& region) const {
    for (std::size_t i = 0; i < inline_count_; ++i)
      if (same(inline_[i], region)) return true;
    for (std::size_t i = 0; i < deferred_count_; ++i)
      if (same(deferred_[i], region)) return true;
    if (spilled_.empty()) return false;
    for (std::size_t slot = hash(region) & mask();; slot = (slot + 1) & mask()) {
      std::uint32_t entry = table_[slot];
      if (entry == 0) return false;
      if (same(spilled_[entry - 1], region)) return true;
    }
  }
  // push_back unless contains(): what a helper granting memory does, with one probe.
  void add_unique(const Region& region) {
    if (has_last_ && same(last_, region)) return;  // the same value again, as in a loop
    for (std::size_t i = 0; i < inline_count_; ++i)
      if (same(inline_[i], region)) return;
    if (inline_count_ < inline_.size()) return push_back(region);
    add_unique_spilled(region);
  }
  // add_unique, later: what a map lookup grants (the value it returns). A run that looks up
  // many values mostly never asks about them (a program reads a value through its own
  // pointer, which checked code admits through the recent region, and unchecked code does
  // not check at all), so the grant is one store into a buffer, and the dedup and the
  // indexing add_unique does happen only when the buffer is full or the list is asked to
  // revoke or count. Queries look at the buffer too, so a deferred region is admitted
  // exactly as an added one; the same value granted twice in a row is kept once.
  void add_deferred(const Region& region) {
    if (deferred_count_ != 0 && same(deferred_[deferred_count_ - 1], region)) return;
    if (deferred_count_ == deferred_.size()) fold_deferred();
    deferred_[deferred_count_++] = region;
    last_ = region;
    has_last_ = true;
  }
  // Withdraws the most recent region equal to `region`, keeping the list compact (a ring
  // buffer record reserved and submitted in a loop must not grow it).
  void revoke(const Region& region) {
    fold_deferred();  // a deferred copy would bring it back
    has_last_ = false;
    for (std::size_t i = spilled_.size(); i-- > 0;) {
      if (!same(spilled_[i], region)) continue;
      spilled_.erase(spilled_.begin() + static_cast<std::ptrdiff_t>(i));
      return reindex();
    }
    for (std::size_t i = inline_count_; i-- > 0;) {
      if (!same(inline_[i], region)) continue;
      inline_[i] = inline_[--inline_count_];
      if (!spilled_.empty()) {
        inline_[inline_count_++] = spilled_.back();
        spilled_.pop_back();
        reindex();
      }
      return;
    }
  }

 private:
  static bool same(const Region& a, const Region& b) {
    return a.begin == b.begin && a.end == b.end && a.writable == b.writable;
  }
  static std::size_t hash(const Region& region) {
    std::uint64_t h =
        (region.begin ^ (region.end << 1) ^ (region.writable ? 1 : 0)) * 0x9e3779b97f4a7c15ull;
    return static_cast<std::size_t>(h >> 32);
  }
  std::size_t mask() const { return table_.size() - 1; }
  // Adds spilled_[position] to the table, doubling it to stay at most half full.
  void index_spilled(std::size_t position) {
    if (2 * spilled_.size() > table_.size()) return reindex();
    insert(position);
  }
  void insert(std::size_t position) {
    std::size_t slot = hash(spilled_[position]) & mask();
    while (table_[slot] != 0) slot = (slot + 1) & mask();
    table_[slot] = static_cast<std::uint32_t>(position + 1);
  }
  // add_unique past the inline regions: the probe that finds no equal region ends on the
  // empty slot the new one takes (the table is grown first, so that slot stays valid).
  [[gnu::noinline]] void add_unique_spilled(const Region& region) {
    if (spilled_.capacity() == 0) take_spare();
    if (2 * (spilled_.size() + 1) > table_.size()) reindex(spilled_.size() + 1);
    std::size_t slot = hash(region) & mask();
    for (; table_[slot] != 0; slot = (slot + 1) & mask())
      if (same(spilled_[table_[slot] - 1], region)) return;
    spilled_.push_back(region);
    table_[slot] = static_cast<std::uint32_t>(spilled_.size());
    last_ = region;
    has_last_ = true;
  }
  // The deferred grants into the list proper, most recent last (so last_ stays theirs).
  void fold_deferred() {
    if (deferred_count_ == 0) return;
    const bool had_last = has_last_;
    const Region last = last_;
    const std::size_t count = deferred_count_;
    deferred_count_ = 0;
    has_last_ = false;  // last_ may be one of them: add_unique would take it as added
    for (std::size_t i = 0; i < count; ++i) add_unique(deferred_[i]);
    last_ = last;
    has_last_ = had_last;
  }
  // Out of line: most runs never get here, and push_back stays small enough to inline.
  [[gnu::noinline]] void spill(const Region& region) {
    if (spilled_.capacity() == 0) take_spare();
    spilled_.push_back(region);
    index_spilled(spilled_.size() - 1);
  }
  void take_spare() {
    spilled_.swap(spare_.spilled);
    table_.swap(spare_.table);
    spilled_.clear();
  }
  // Rebuilds the table for spilled_, sized for at least `count` regions at half load.
  void reindex(std::size_t count = 0) {
    std::size_t size = 128;
    while (size < 2 * std::max(count, spilled_.size())) size *= 2;
    table_.assign(size, 0);
    for (std::size_t i = 0; i < spilled_.size(); ++i) insert(i);
  }

  // Only the first inline_count_ are set: zeroing all six cost a `rep stos` on every run.
  std::array<Region, 6> inline_;
  std::size_t inline_count_ = 0;
  // add_deferred's buffer (unset past deferred_count_, as inline_): a run's worth of map
  // lookups. Queries scan it only after last_ and the other regions missed.
  std::array<Region, 64> deferred_;
  std::size_t deferred_count_ = 0;
  std::vector<Region> spilled_;
  // Open addressing over spilled_: position + 1, 0 for an empty slot. Empty until a spill.
  std::vector<std::uint32_t> table_;
  // The last region that admitted an access (or was added); forgotten on revoke.
  mutable Region last_;
  mutable bool has_last_ = false;

  struct Spare {
    std::vector<Region> spilled;
    std::vector<std::uint32_t> table;
  };
  static inline thread_local Spare spare_;
};

struct RunState {
  // The stack frames in use: [stack_begin, stack_end). Moves on every local call and return.
  std::uintptr_t stack_begin = 0;
  std::uintptr_t stack_end = 0;
  // r1 at entry (RunInput::context), for helpers of program types.
  void* context = nullptr;
  // What LD_ABS / LD_IND read: RunInput::packet, until a helper that moved or resized the
  // packet says where it is now (HelperCall::set_packet); packet_moved tells the JIT to
  // reload its copy.
  std::span<const std::uint8_t> packet;
  bool packet_moved = false;
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
    return regions.admits([&](const Region& region) {
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
    return regions.admits([&](const Region& region) {
      std::uintptr_t length = region.end - region.begin;
      return length >= size && address - region.begin <= length - size &&
             (region.writable || !write);
    });
  }
};

}  // namespace bpfvm::detail
