// BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK (kernel/bpf/queue_stack_maps.c): a ring of
// max_entries + 1 value slots between head (next push) and tail (oldest). No keys: programs
// use push/pop/peek; the host's lookup is peek, update is push, lookup_and_delete is pop.
// A full map refuses a push with -E2BIG unless BPF_EXIST is given, which drops the oldest
// element (for a stack too, as Linux does). One lock per map, as Linux's qs->lock.
#include "maps/keyless_map.hpp"

#include <mutex>
#include <vector>

namespace bpfvm::maps {
namespace {

class QueueStackMap final : public KeylessMap {
 public:
  explicit QueueStackMap(const MapSpec& spec)
      : KeylessMap(spec, -EINVAL),
        stack_(spec.type == MapType::stack),
        size_(std::uint64_t{spec.max_entries} + 1),
        value_size_(spec.value_size),
        slots_(size_ * spec.value_size) {}

  int push(const void* value, std::uint64_t flags) override {
    if ((flags & map_update::noexist) || flags > map_update::exist) return -EINVAL;
    std::lock_guard lock(mutex_);
    if (full()) {
      if (flags != map_update::exist) return -E2BIG;
      tail_ = next(tail_);  // overwrite the oldest
    }
    std::memcpy(slot(head_), value, value_size_);
    head_ = next(head_);
    return 0;
  }

  int pop(void* value) override { return take(value, true); }
  int peek(void* value) override { return take(value, false); }

  int host_lookup_and_erase(const void*, void* value) override {
    BPFVM_HOST_READ();
    BPFVM_HOST_WRITE();
    return pop(value);
  }

 private:
  bool full() const { return next(head_) == tail_; }
  std::uint64_t next(std::uint64_t i) const { return i + 1 == size_ ? 0 : i + 1; }
  unsigned char* slot(std::uint64_t i) { return slots_.data() + i * value_size_; }

  int take(void* value, bool remove) {
    std::lock_guard lock(mutex_);
    if (head_ == tail_) return -ENOENT;
    if (stack_) {
      std::uint64_t top = head_ == 0 ? size_ - 1 : head_ - 1;
      std::memcpy(value, slot(top), value_size_);
      if (remove) head_ = top;
    } else {
      std::memcpy(value, slot(tail_), value_size_);
      if (remove) tail_ = next(tail_);
    }
    return 0;
  }

  const bool stack_;
  const std::uint64_t size_;  // max_entries + 1 slots: one stays free to tell full from empty
  const std::size_t value_size_;
  std::vector<unsigned char> slots_;
  std::mutex mutex_;
  std::uint64_t head_ = 0;
  std::uint64_t tail_ = 0;
};

}  // namespace

Result<std::shared_ptr<Map>> make_queue_stack(const MapSpec& spec) {
  return std::shared_ptr<Map>(std::make_shared<QueueStackMap>(spec));
}

}  // namespace bpfvm::maps
