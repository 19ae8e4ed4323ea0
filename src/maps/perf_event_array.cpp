// BPF_MAP_TYPE_PERF_EVENT_ARRAY (kernel/bpf/arraymap.c, perf_event_fd_array_*; the output side
// is kernel/trace/bpf_trace.c __bpf_perf_event_output). Each slot is a bounded FIFO of records
// the host drains with consume(); see PerfEventArrayMap in <bpfvm/map.hpp> for how slots open.
// One mutex per map: perf output is a tracing path, not a per-packet fast path.
#include "maps/map_common.hpp"

#include <deque>
#include <mutex>
#include <vector>

namespace bpfvm::maps {
namespace {

// perf_event_header (8 bytes) + the u32 raw size, data padded to 8 (perf_prepare_sample).
std::size_t record_cost(std::uint64_t size) { return 8 + round_up8(size + 4); }

class PerfEventArray final : public PerfEventArrayMap {
 public:
  explicit PerfEventArray(const MapSpec& spec)
      : PerfEventArrayMap(spec), slots_(spec.max_entries) {}

  int output(std::uint32_t index, const void* data, std::uint64_t size) override {
    if (index >= slots_.size()) return -E2BIG;
    std::lock_guard lock(mutex_);
    Slot& slot = slots_[index];
    if (!slot.open) return -ENOENT;
    // The raw size is a u32 in the record, less its own 4 bytes and the header's.
    if (size > 0xffff - 12 || slot.used + record_cost(size) > perf_buffer_bytes) {
      ++slot.lost;
      return -ENOSPC;
    }
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    slot.records.emplace_back(bytes, bytes + size);
    slot.used += record_cost(size);
    return 0;
  }

  long consume(const std::function<int(std::uint32_t, const void*, std::size_t)>& sample) override {
    long consumed = 0;
    for (std::uint32_t index = 0; index < slots_.size(); ++index) {
      for (;;) {
        std::vector<std::uint8_t> record;
        {
          std::lock_guard lock(mutex_);
          Slot& slot = slots_[index];
          if (slot.records.empty()) break;
          record = std::move(slot.records.front());
          slot.records.pop_front();
          slot.used -= record_cost(record.size());
        }
        ++consumed;
        // The callback runs without the lock: it may read other maps or run programs.
        if (sample(index, record.data(), record.size()) != 0) return consumed;
      }
    }
    return consumed;
  }

  std::uint64_t lost(std::uint32_t index) const override {
    std::lock_guard lock(mutex_);
    return index < slots_.size() ? slots_[index].lost : 0;
  }

  // Programs neither look up nor update it (the verifier refuses both).
  void* lookup(const void*) override { return nullptr; }
  int update(const void*, const void*, std::uint64_t) override { return -EOPNOTSUPP; }
  int erase(const void*) override { return -EOPNOTSUPP; }

  // fd_array_map_lookup_elem: -EOPNOTSUPP from bpf(2) too.
  int host_lookup(const void*, void*) override { return -EOPNOTSUPP; }
  // Linux takes a perf event fd; bpfvm takes any 4-byte value and opens the slot.
  int host_update(const void* key, const void*, std::uint64_t flags) override {
    BPFVM_HOST_WRITE();
    if (flags != map_update::any) return -EINVAL;  // bpf_fd_array_map_update_elem
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    if (index >= slots_.size()) return -E2BIG;
    std::lock_guard lock(mutex_);
    slots_[index].open = true;
    return 0;
  }
  // fd_array_map_delete_elem: -ENOENT when the slot was already empty. Pending records stay
  // readable (they were written to the ring before the fd went away).
  int host_erase(const void* key) override {
    BPFVM_HOST_WRITE();
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    if (index >= slots_.size()) return -E2BIG;
    std::lock_guard lock(mutex_);
    if (!slots_[index].open) return -ENOENT;
    slots_[index].open = false;
    return 0;
  }

  int get_next_key(const void* key, void* next_key) override {
    BPFVM_HOST_READ();
    return array_next_key(key, next_key, static_cast<std::uint32_t>(slots_.size()));
  }

 private:
  struct Slot {
    bool open = true;
    std::size_t used = 0;
    std::uint64_t lost = 0;
    std::deque<std::vector<std::uint8_t>> records;
  };
  mutable std::mutex mutex_;
  std::vector<Slot> slots_;
};

}  // namespace

Result<std::shared_ptr<Map>> make_perf_event_array(const MapSpec& spec) {
  return std::shared_ptr<Map>(std::make_shared<PerfEventArray>(spec));
}

}  // namespace bpfvm::maps
