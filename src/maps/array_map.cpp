// BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY (kernel/bpf/arraymap.c): max_entries
// preallocated, zero-filled values of round_up(value_size, 8) bytes; elements always exist,
// so delete is -EINVAL and BPF_NOEXIST is -EEXIST. Values are never freed while the map
// lives, so lookups need no epoch pin: an index check and an address computation.
//
// Per-CPU arrays keep one block of max_entries values per possible CPU, so counters of
// different CPUs do not share cache lines.
#include "maps/map_common.hpp"

#include <cstdlib>

namespace bpfvm::maps {
namespace {

class ArrayMap final : public Map {
 public:
  explicit ArrayMap(const MapSpec& spec)
      : Map(spec),
        max_entries_(spec.max_entries),
        value_size_(spec.value_size),
        elem_size_(round_up8(spec.value_size)),
        cpus_(is_percpu(spec.type) ? possible_cpus() : 1),
        cpu_stride_(elem_size_ * spec.max_entries) {
    std::size_t bytes = cpu_stride_ * cpus_;
    // Page-aligned like Linux's vmalloc'ed arrays (BPF_F_MMAPABLE), and at least cache-line
    // aligned so per-CPU blocks do not share lines at their starts.
    bytes = (bytes + 4095) & ~std::size_t{4095};
    storage_ = static_cast<unsigned char*>(std::aligned_alloc(4096, bytes));
    if (storage_ != nullptr) std::memset(storage_, 0, bytes);
  }
  ~ArrayMap() override { std::free(storage_); }

  bool ok() const { return storage_ != nullptr; }

  void* lookup(const void* key) override {
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    if (index >= max_entries_) return nullptr;
    unsigned char* base = storage_;
    if (cpus_ != 1) base += current_cpu() * cpu_stride_;
    return base + std::size_t{index} * elem_size_;
  }

  // array_map_update_elem: flags, then index, then BPF_NOEXIST.
  int update(const void* key, const void* value, std::uint64_t flags) override {
    std::uint32_t index;
    int rc = check(key, flags, index);
    if (rc != 0) return rc;
    std::memcpy(lookup(key), value, value_size_);
    return 0;
  }

  int erase(const void*) override { return -EINVAL; }

  int host_lookup(const void* key, void* value) override {
    BPFVM_HOST_READ();
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    if (index >= max_entries_) return -ENOENT;
    if (cpus_ == 1) {
      std::memcpy(value, slot(0, index), value_size_);
      return 0;
    }
    auto* out = static_cast<unsigned char*>(value);
    for (unsigned cpu = 0; cpu < cpus_; ++cpu) {
      std::memcpy(out + cpu * elem_size_, slot(cpu, index), elem_size_);
    }
    return 0;
  }

  int host_update(const void* key, const void* value, std::uint64_t flags) override {
    BPFVM_HOST_WRITE();
    std::uint32_t index;
    int rc = check(key, flags, index);
    if (rc != 0) return rc;
    if (cpus_ == 1) {
      std::memcpy(slot(0, index), value, value_size_);
      return 0;
    }
    const auto* in = static_cast<const unsigned char*>(value);
    // Linux copies each CPU's value with its padding (bpf_long_memcpy of round_up(size, 8)).
    for (unsigned cpu = 0; cpu < cpus_; ++cpu) {
      std::memcpy(slot(cpu, index), in + cpu * elem_size_, elem_size_);
    }
    return 0;
  }

  int get_next_key(const void* key, void* next_key) override {
    BPFVM_HOST_READ();
    return array_next_key(key, next_key, max_entries_);
  }

  long for_each(const std::function<long(const void* key, void* value)>& visit) override {
    long visited = 0;
    for (std::uint32_t index = 0; index < max_entries_; ++index) {
      ++visited;
      if (visit(&index, lookup(&index)) != 0) break;
    }
    return visited;
  }

  void* direct_value() override { return cpus_ == 1 ? storage_ : nullptr; }
  std::span<std::uint8_t> value_storage() override {
    return {reinterpret_cast<std::uint8_t*>(storage_), cpu_stride_ * cpus_};
  }

 private:
  unsigned char* slot(unsigned cpu, std::uint32_t index) {
    return storage_ + cpu * cpu_stride_ + std::size_t{index} * elem_size_;
  }

  // BPF_F_LOCK needs a bpf_spin_lock in the value, which bpfvm maps never have; bpf(2) refuses
  // it before the map's own checks.
  int check(const void* key, std::uint64_t flags, std::uint32_t& index) const {
    if (flags & map_update::lock) return -EINVAL;
    if ((flags & ~map_update::lock) > map_update::exist) return -EINVAL;
    std::memcpy(&index, key, 4);
    if (index >= max_entries_) return -E2BIG;
    if (flags & map_update::noexist) return -EEXIST;
    return 0;
  }

  const std::uint32_t max_entries_;
  const std::size_t value_size_;
  const std::size_t elem_size_;
  const unsigned cpus_;
  const std::size_t cpu_stride_;
  unsigned char* storage_ = nullptr;
};

}  // namespace

Result<std::shared_ptr<Map>> make_array_map(const MapSpec& spec) {
  auto map = std::make_shared<ArrayMap>(spec);
  if (!map->ok()) return spec_error("ENOMEM", "cannot allocate the array's values");
  return std::shared_ptr<Map>(std::move(map));
}

}  // namespace bpfvm::maps
