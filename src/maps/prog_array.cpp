// BPF_MAP_TYPE_PROG_ARRAY (kernel/bpf/arraymap.c, the fd-array part): the programs that
// bpf_tail_call reaches, by index. Programs cannot look it up or update it; the host sets
// programs as objects (Linux takes program fds). Slots hold raw pointers read without locks;
// the owning shared_ptr of a replaced program is retired to the epoch reclaimer, so a tail
// call that already fetched it under a MapReadGuard still runs on a live program.
#include "maps/epoch.hpp"
#include "maps/map_common.hpp"

#include <mutex>
#include <vector>

namespace bpfvm::maps {
namespace {

using ProgramRef = std::shared_ptr<const Program>;

void free_program_ref(void* ref) { delete static_cast<ProgramRef*>(ref); }

class ProgramArray final : public ProgramArrayMap {
 public:
  explicit ProgramArray(const MapSpec& spec) : ProgramArrayMap(spec), slots_(spec.max_entries) {}
  ~ProgramArray() override {
    for (auto& slot : slots_) delete slot.load(std::memory_order_relaxed);
  }

  int set(std::uint32_t index, std::shared_ptr<const Program> program) override {
    if (index >= slots_.size()) return -E2BIG;
    ProgramRef* fresh = program ? new ProgramRef(std::move(program)) : nullptr;
    std::lock_guard lock(mutex_);
    ProgramRef* old = slots_[index].exchange(fresh, std::memory_order_acq_rel);
    if (old != nullptr) epoch::retire(old, free_program_ref);
    return old == nullptr && fresh == nullptr ? -ENOENT : 0;
  }

  const Program* get(std::uint32_t index) const override {
    if (index >= slots_.size()) return nullptr;
    ProgramRef* ref = slots_[index].load(std::memory_order_acquire);
    return ref ? ref->get() : nullptr;
  }

  // Programs may not read or write a program array (the verifier refuses it).
  void* lookup(const void*) override { return nullptr; }
  int update(const void*, const void*, std::uint64_t) override { return -EOPNOTSUPP; }
  int erase(const void* key) override {
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    if (index >= slots_.size()) return -E2BIG;
    return set(index, nullptr);
  }
  // The host's values are program fds in Linux; bpfvm has no fds, so it uses set().
  int host_lookup(const void*, void*) override { return -EOPNOTSUPP; }
  int host_update(const void*, const void*, std::uint64_t) override { return -EOPNOTSUPP; }

  int get_next_key(const void* key, void* next_key) override {
    BPFVM_HOST_READ();
    return array_next_key(key, next_key, static_cast<std::uint32_t>(slots_.size()));
  }
  long for_each(const std::function<long(const void*, void*)>&) override { return -EINVAL; }
  int lookup_batch(const void*, void*, void*, void*, std::uint32_t& count) override {
    count = 0;
    return -kENOTSUPP;
  }

 private:
  std::vector<std::atomic<ProgramRef*>> slots_;
  std::mutex mutex_;
};

}  // namespace

Result<std::shared_ptr<Map>> make_prog_array(const MapSpec& spec) {
  return std::shared_ptr<Map>(std::make_shared<ProgramArray>(spec));
}

}  // namespace bpfvm::maps
