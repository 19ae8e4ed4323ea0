// BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH (kernel/bpf/hashtab.c).
//
// roundup_pow_of_two(max_entries) buckets, each a singly linked chain of elements with an
// atomic head. Readers walk chains without locks under an epoch pin; writers take the bucket's
// spin lock (LRU maps: one map-wide writer lock, as Linux's common LRU list has one lock),
// build a new element and swing one pointer, so a reader sees either the old or the new
// element, never a half-written one. Unlinked elements are retired to the epoch reclaimer and
// freed once no pinned thread can hold them: a value pointer from lookup() stays valid for
// the rest of the caller's MapReadGuard even if the element is deleted or replaced.
//
// Per-CPU maps store possible_cpus() slots of round_up(value_size, 8) bytes in each element;
// as in Linux, updating an existing per-CPU element copies into it in place (the program's
// update writes only the current CPU's slot), everything else replaces the element.
//
// LRU: elements sit on a recency list (newest first). lookup() sets a reference bit; when the
// map is full, an insert evicts from the oldest end, giving referenced elements a second
// chance (bit cleared, moved to the newest end). This is what Linux's inactive/active lists
// with their ref bits amount to for one CPU; Linux additionally frees in batches per CPU
// (LOCAL_FREE_TARGET), which we do not: we evict exactly one element per insert into a full
// map, and updating an existing key never evicts. See docs/maps.md.
#include "maps/epoch.hpp"
#include "maps/key_hash.hpp"
#include "maps/map_common.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace bpfvm::maps {
namespace {

struct Node {
  std::atomic<Node*> next{nullptr};
  std::uint64_t hash = 0;
  // LRU only, guarded by the writer lock.
  Node* lru_prev = nullptr;
  Node* lru_next = nullptr;
  std::atomic<std::uint8_t> referenced{0};
  // followed by the key (padded to 8) and the value(s)
};

constexpr std::size_t kNodeHeader = round_up8(sizeof(Node));

struct Bucket {
  std::atomic<Node*> head{nullptr};
  SpinLock lock;
};

void free_node(void* node) {
  static_cast<Node*>(node)->~Node();
  std::free(node);
}

class HashMap final : public Map {
 public:
  explicit HashMap(const MapSpec& spec)
      : Map(spec),
        key_size_(spec.key_size),
        value_size_(spec.value_size),
        elem_size_(round_up8(spec.value_size)),
        percpu_(is_percpu(spec.type)),
        lru_(spec.type == MapType::lru_hash || spec.type == MapType::lru_percpu_hash),
        cpus_(percpu_ ? possible_cpus() : 1),
        value_offset_(kNodeHeader + round_up8(spec.key_size)),
        node_size_(value_offset_ + elem_size_ * cpus_),
        hash_(new_hash_seed(spec.flags)) {
    std::size_t n = 1;
    while (n < spec.max_entries) n <<= 1;
    mask_ = n - 1;
    buckets_ = std::make_unique<Bucket[]>(n);
    lru_head_.lru_next = lru_head_.lru_prev = &lru_head_;
    // Plain maps with the common key sizes get a lookup with the size, the value's offset
    // and the key compare constant; the others one that takes them from the map.
    const bool plain = !lru_ && !percpu_;
    pinned_lookup_ = !plain                ? &pinned_lookup_of<0>
                     : spec.key_size == 4  ? &pinned_lookup_of<4>
                     : spec.key_size == 8  ? &pinned_lookup_of<8>
                     : spec.key_size == 16 ? &pinned_lookup_of<16>
                                           : &pinned_lookup_of<0>;
  }

  ~HashMap() override {
    for (std::size_t i = 0; i <= mask_; ++i) {
      Node* n = buckets_[i].head.load(std::memory_order_relaxed);
      while (n != nullptr) {
        Node* next = n->next.load(std::memory_order_relaxed);
        free_node(n);
        n = next;
      }
    }
  }

  void* lookup(const void* key) override {
    epoch::Guard guard;
    return pinned_lookup_(this, key);
  }

  int update(const void* key, const void* value, std::uint64_t flags) override {
    return update_impl(key, value, flags, false);
  }
  int host_update(const void* key, const void* value, std::uint64_t flags) override {
    BPFVM_HOST_WRITE();
    return update_impl(key, value, flags, true);
  }

  int erase(const void* key) override { return remove(key, nullptr); }
  int host_erase(const void* key) override {
    BPFVM_HOST_WRITE();
    return remove(key, nullptr);
  }
  int host_lookup_and_erase(const void* key, void* value) override {
    BPFVM_HOST_READ();
    BPFVM_HOST_WRITE();
    return remove(key, value);
  }

  int host_lookup(const void* key, void* value) override {
    BPFVM_HOST_READ();
    epoch::Guard guard;
    Node* n = find(key, hash(key));
    if (n == nullptr) return -ENOENT;
    copy_out(n, value);
    return 0;
  }

  // htab_map_get_next_key: the element after `key` in its chain, else the first element of
  // the following buckets; a key that is not in the map (deleted during a walk) restarts the
  // walk from the first bucket, as Linux does.
  int get_next_key(const void* key, void* next_key) override {
    BPFVM_HOST_READ();
    epoch::Guard guard;
    std::size_t start = 0;
    if (key != nullptr) {
      std::uint64_t h = hash(key);
      Node* n = find(key, h);
      if (n != nullptr) {
        Node* next = n->next.load(std::memory_order_acquire);
        if (next != nullptr) {
          std::memcpy(next_key, key_of(next), key_size_);
          return 0;
        }
        start = (h & mask_) + 1;
      }
    }
    for (std::size_t i = start; i <= mask_; ++i) {
      Node* first = buckets_[i].head.load(std::memory_order_acquire);
      if (first != nullptr) {
        std::memcpy(next_key, key_of(first), key_size_);
        return 0;
      }
    }
    return -ENOENT;
  }

  long for_each(const std::function<long(const void* key, void* value)>& visit) override {
    epoch::Guard guard;
    long visited = 0;
    const std::size_t slot = percpu_ ? current_cpu() * elem_size_ : 0;
    for (std::size_t i = 0; i <= mask_; ++i) {
      for (Node* n = buckets_[i].head.load(std::memory_order_acquire); n != nullptr;
           n = n->next.load(std::memory_order_acquire)) {
        ++visited;
        if (visit(key_of(n), value_of(n) + slot) != 0) return visited;
      }
    }
    return visited;
  }

 private:
  // Map::pinned_lookup(): KeySize 4, 8 or 16 for plain (not LRU, not per-CPU) maps with that
  // key size, 0 for every other map.
  template <std::size_t KeySize>
  static void* pinned_lookup_of(Map* map, const void* key) {
    auto* self = static_cast<HashMap*>(map);
    if constexpr (KeySize != 0) {
      const std::uint64_t h = self->hash_.operator()<KeySize>(key);
      for (Node* n = self->buckets_[h & self->mask_].head.load(std::memory_order_acquire);
           n != nullptr; n = n->next.load(std::memory_order_acquire)) {
        if (n->hash == h && same_key_bytes<KeySize>(key_of(n), key))
          return key_of(n) + round_up8(KeySize);
      }
      return nullptr;
    } else {
      Node* n = self->find(key, self->hash(key));
      if (n == nullptr) return nullptr;
      if (self->lru_ && n->referenced.load(std::memory_order_relaxed) == 0) {
        n->referenced.store(1, std::memory_order_relaxed);
      }
      unsigned char* value = self->value_of(n);
      if (self->percpu_) value += current_cpu() * self->elem_size_;
      return value;
    }
  }

  std::uint64_t hash(const void* key) const { return hash_.operator()<0>(key, key_size_); }
  static unsigned char* key_of(Node* n) {
    return reinterpret_cast<unsigned char*>(n) + kNodeHeader;
  }
  unsigned char* value_of(Node* n) const {
    return reinterpret_cast<unsigned char*>(n) + value_offset_;
  }

  bool same_key(Node* n, std::uint64_t h, const void* key) const {
    return n->hash == h && same_key_bytes<0>(key_of(n), key, key_size_);
  }

  Node* find(const void* key, std::uint64_t h) const {
    for (Node* n = buckets_[h & mask_].head.load(std::memory_order_acquire); n != nullptr;
         n = n->next.load(std::memory_order_acquire)) {
      if (same_key(n, h, key)) return n;
    }
    return nullptr;
  }

  // The link that points at the element with `key` (writer lock held), or nullptr.
  std::atomic<Node*>* find_link(const void* key, std::uint64_t h) const {
    std::atomic<Node*>* link = &buckets_[h & mask_].head;
    for (Node* n = link->load(std::memory_order_relaxed); n != nullptr;
         n = n->next.load(std::memory_order_relaxed)) {
      if (same_key(n, h, key)) return link;
      link = &n->next;
    }
    return nullptr;
  }

  Node* new_node(const void* key, std::uint64_t h) const {
    void* memory = std::malloc(node_size_);
    if (memory == nullptr) return nullptr;
    Node* n = new (memory) Node;
    n->hash = h;
    std::memcpy(key_of(n), key, key_size_);
    return n;
  }

  // Writes a value into an element: the host's (one value per CPU, 8-byte strides) or the
  // program's (the current CPU's slot only; a new element's other slots are zeroed, as
  // Linux's pcpu_init_value does).
  void copy_in(Node* n, const void* value, bool from_host, bool fresh) const {
    unsigned char* dst = value_of(n);
    if (!percpu_) {
      std::memcpy(dst, value, value_size_);
      if (elem_size_ != value_size_) std::memset(dst + value_size_, 0, elem_size_ - value_size_);
      return;
    }
    const auto* src = static_cast<const unsigned char*>(value);
    if (from_host) {
      // With the padding, as Linux's pcpu_copy_value (bpf_long_memcpy of the rounded size).
      std::memcpy(dst, src, elem_size_ * cpus_);
      return;
    }
    if (fresh) std::memset(dst, 0, elem_size_ * cpus_);
    std::memcpy(dst + current_cpu() * elem_size_, src, value_size_);
  }

  void copy_out(Node* n, void* value) const {
    if (!percpu_) {
      std::memcpy(value, value_of(n), value_size_);
      return;
    }
    auto* out = static_cast<unsigned char*>(value);
    for (unsigned cpu = 0; cpu < cpus_; ++cpu) {
      std::memcpy(out + cpu * elem_size_, value_of(n) + cpu * elem_size_, elem_size_);
    }
  }

  // htab_map_update_elem / htab_lru_map_update_elem: flags, then BPF_NOEXIST/BPF_EXIST
  // against the current element, then -E2BIG if a new element does not fit.
  int update_impl(const void* key, const void* value, std::uint64_t flags, bool from_host) {
    int rc = check_update_flags(flags);
    if (rc != 0) return rc;
    const std::uint64_t h = hash(key);
    epoch::Guard guard;
    if (lru_) return update_lru(key, value, flags, from_host, h);
    Bucket& bucket = buckets_[h & mask_];
    std::lock_guard lock(bucket.lock);
    std::atomic<Node*>* link = find_link(key, h);
    Node* old = link ? link->load(std::memory_order_relaxed) : nullptr;
    if (old != nullptr && flags == map_update::noexist) return -EEXIST;
    if (old == nullptr && flags == map_update::exist) return -ENOENT;
    if (old != nullptr && percpu_) {
      copy_in(old, value, from_host, false);
      return 0;
    }
    if (old == nullptr && !reserve_slot()) return -E2BIG;
    Node* n = new_node(key, h);
    if (n == nullptr) {
      if (old == nullptr) count_.fetch_sub(1, std::memory_order_relaxed);
      return -ENOMEM;
    }
    copy_in(n, value, from_host, true);
    if (old != nullptr) {
      n->next.store(old->next.load(std::memory_order_relaxed), std::memory_order_relaxed);
      link->store(n, std::memory_order_release);
      epoch::retire(old, free_node);
    } else {
      n->next.store(bucket.head.load(std::memory_order_relaxed), std::memory_order_relaxed);
      bucket.head.store(n, std::memory_order_release);
    }
    return 0;
  }

  bool reserve_slot() {
    std::uint32_t now = count_.load(std::memory_order_relaxed);
    do {
      if (now >= spec().max_entries) return false;
    } while (!count_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
    return true;
  }

  int update_lru(const void* key, const void* value, std::uint64_t flags, bool from_host,
                 std::uint64_t h) {
    std::lock_guard writer(lru_mutex_);
    std::atomic<Node*>* link = find_link(key, h);
    Node* old = link ? link->load(std::memory_order_relaxed) : nullptr;
    if (old != nullptr && flags == map_update::noexist) return -EEXIST;
    if (old == nullptr && flags == map_update::exist) return -ENOENT;
    if (old != nullptr && percpu_) {
      copy_in(old, value, from_host, false);
      lru_unlink(old);
      lru_push_front(old);
      return 0;
    }
    if (old == nullptr && !reserve_slot()) {
      evict_one();
      if (!reserve_slot()) return -E2BIG;
      link = nullptr;  // the chain may have changed
    }
    Node* n = new_node(key, h);
    if (n == nullptr) {
      if (old == nullptr) count_.fetch_sub(1, std::memory_order_relaxed);
      return -ENOMEM;
    }
    copy_in(n, value, from_host, true);
    if (old != nullptr) {
      n->next.store(old->next.load(std::memory_order_relaxed), std::memory_order_relaxed);
      link->store(n, std::memory_order_release);
      lru_unlink(old);
      epoch::retire(old, free_node);
    } else {
      Bucket& bucket = buckets_[h & mask_];
      n->next.store(bucket.head.load(std::memory_order_relaxed), std::memory_order_relaxed);
      bucket.head.store(n, std::memory_order_release);
    }
    lru_push_front(n);
    return 0;
  }

  // Second chance from the oldest end; after one full pass every bit is clear, so the loop
  // ends by evicting the oldest element.
  void evict_one() {
    for (;;) {
      Node* victim = lru_head_.lru_prev;
      if (victim == &lru_head_) return;
      if (victim->referenced.load(std::memory_order_relaxed) != 0) {
        victim->referenced.store(0, std::memory_order_relaxed);
        lru_unlink(victim);
        lru_push_front(victim);
        continue;
      }
      std::atomic<Node*>* link = find_link(key_of(victim), victim->hash);
      link->store(victim->next.load(std::memory_order_relaxed), std::memory_order_release);
      lru_unlink(victim);
      count_.fetch_sub(1, std::memory_order_relaxed);
      epoch::retire(victim, free_node);
      return;
    }
  }

  void lru_unlink(Node* n) {
    n->lru_prev->lru_next = n->lru_next;
    n->lru_next->lru_prev = n->lru_prev;
    n->lru_prev = n->lru_next = nullptr;
  }
  void lru_push_front(Node* n) {
    n->lru_next = lru_head_.lru_next;
    n->lru_prev = &lru_head_;
    lru_head_.lru_next->lru_prev = n;
    lru_head_.lru_next = n;
  }

  // Delete, copying the value out first when `value` is given (lookup_and_delete).
  int remove(const void* key, void* value) {
    const std::uint64_t h = hash(key);
    epoch::Guard guard;
    std::unique_lock<SpinLock> bucket_lock;
    std::unique_lock<std::mutex> lru_lock;
    if (lru_) {
      lru_lock = std::unique_lock(lru_mutex_);
    } else {
      bucket_lock = std::unique_lock(buckets_[h & mask_].lock);
    }
    std::atomic<Node*>* link = find_link(key, h);
    if (link == nullptr) return -ENOENT;
    Node* n = link->load(std::memory_order_relaxed);
    if (value != nullptr) copy_out(n, value);
    link->store(n->next.load(std::memory_order_relaxed), std::memory_order_release);
    if (lru_) lru_unlink(n);
    count_.fetch_sub(1, std::memory_order_relaxed);
    epoch::retire(n, free_node);
    return 0;
  }

  const std::size_t key_size_;
  const std::size_t value_size_;
  const std::size_t elem_size_;
  const bool percpu_;
  const bool lru_;
  const unsigned cpus_;
  const std::size_t value_offset_;
  const std::size_t node_size_;
  const KeyHash hash_;
  std::size_t mask_ = 0;
  std::unique_ptr<Bucket[]> buckets_;
  std::atomic<std::uint32_t> count_{0};
  std::mutex lru_mutex_;
  Node lru_head_;  // sentinel of the recency list
};

}  // namespace

Result<std::shared_ptr<Map>> make_hash_map(const MapSpec& spec) {
  return std::shared_ptr<Map>(std::make_shared<HashMap>(spec));
}

}  // namespace bpfvm::maps
