// BPF_MAP_TYPE_STACK_TRACE (kernel/bpf/stackmap.c): n_buckets = roundup_pow_of_two(max_entries)
// buckets, each empty or holding one stack (its frame count, its jhash2 and its ips). A stack's
// id is jhash2(ips, 0) & (n_buckets - 1), as __bpf_get_stackid computes it, so a program
// storing the same frames gets the same id as in Linux. The host reads a stack by id (the
// frames, then zeros up to value_size), deletes it, and walks ids; it cannot write one
// (stack_map_update_elem: -EINVAL), and programs cannot look one up (-EOPNOTSUPP in Linux:
// lookup gives nullptr here).
#include "maps/map_common.hpp"

#include <map>
#include <mutex>
#include <vector>

namespace bpfvm::maps {
namespace {

std::uint32_t rol32(std::uint32_t word, unsigned shift) {
  return (word << shift) | (word >> ((32 - shift) & 31));
}

// Linux's jhash2 (include/linux/jhash.h: Bob Jenkins' lookup3 over 32-bit words).
std::uint32_t jhash2(const std::uint32_t* k, std::uint32_t length, std::uint32_t initval) {
  std::uint32_t a, b, c;
  a = b = c = 0xdeadbeef + (length << 2) + initval;  // JHASH_INITVAL
  while (length > 3) {
    a += k[0];
    b += k[1];
    c += k[2];
    // __jhash_mix
    a -= c, a ^= rol32(c, 4), c += b;
    b -= a, b ^= rol32(a, 6), a += c;
    c -= b, c ^= rol32(b, 8), b += a;
    a -= c, a ^= rol32(c, 16), c += b;
    b -= a, b ^= rol32(a, 19), a += c;
    c -= b, c ^= rol32(b, 4), b += a;
    length -= 3;
    k += 3;
  }
  if (length == 0) return c;
  if (length == 3) c += k[2];
  if (length >= 2) b += k[1];
  a += k[0];
  // __jhash_final
  c ^= b, c -= rol32(b, 14);
  a ^= c, a -= rol32(c, 11);
  b ^= a, b -= rol32(a, 25);
  c ^= b, c -= rol32(b, 16);
  a ^= c, a -= rol32(c, 4);
  b ^= a, b -= rol32(a, 14);
  c ^= b, c -= rol32(b, 24);
  return c;
}

std::uint32_t round_up_pow2(std::uint32_t n) {  // n <= 2^31 (checked at creation)
  std::uint32_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

class StackTrace final : public StackTraceMap {
 public:
  explicit StackTrace(const MapSpec& spec)
      : StackTraceMap(spec),
        depth_(spec.value_size / 8),
        n_buckets_(round_up_pow2(spec.max_entries)) {}

  long store(std::span<const std::uint64_t> ips, std::uint64_t flags) override {
    if (ips.empty() || ips.size() > depth_) return -EINVAL;
    std::vector<std::uint32_t> words(ips.size() * 2);
    std::memcpy(words.data(), ips.data(), ips.size() * 8);
    const std::uint32_t hash = jhash2(words.data(), static_cast<std::uint32_t>(words.size()), 0);
    const std::uint32_t id = hash & (n_buckets_ - 1);
    std::lock_guard lock(mutex_);
    Bucket& bucket = buckets_[id];
    const bool hash_matches = !bucket.ips.empty() && bucket.hash == hash;
    if (hash_matches && (flags & fast_stack_cmp)) return id;
    if (hash_matches && bucket.ips.size() == ips.size() &&
        std::memcmp(bucket.ips.data(), ips.data(), ips.size() * 8) == 0)
      return id;
    if (!bucket.ips.empty() && !(flags & reuse_stackid)) return -EEXIST;
    bucket.hash = hash;
    bucket.ips.assign(ips.begin(), ips.end());
    return id;
  }

  void* lookup(const void*) override { return nullptr; }
  int update(const void*, const void*, std::uint64_t) override { return -EINVAL; }
  int erase(const void* key) override { return remove(key); }

  int host_lookup(const void* key, void* value) override {
    BPFVM_HOST_READ();
    std::uint32_t id;
    std::memcpy(&id, key, 4);
    std::lock_guard lock(mutex_);
    auto found = buckets_.find(id);
    if (found == buckets_.end() || found->second.ips.empty()) return -ENOENT;
    const std::vector<std::uint64_t>& ips = found->second.ips;
    std::memset(value, 0, spec().value_size);
    std::memcpy(value, ips.data(), ips.size() * 8);
    return 0;
  }
  int host_update(const void*, const void*, std::uint64_t) override {
    BPFVM_HOST_WRITE();
    return -EINVAL;
  }
  int host_erase(const void* key) override {
    BPFVM_HOST_WRITE();
    return remove(key);
  }
  int host_lookup_and_erase(const void* key, void* value) override {
    BPFVM_HOST_READ();
    BPFVM_HOST_WRITE();
    if (int got = host_lookup(key, value); got != 0) return got;
    return remove(key);
  }
  // stack_map_get_next_key: the next id after `key` with a stack; a missing or out-of-range
  // key starts from id 0.
  int get_next_key(const void* key, void* next_key) override {
    BPFVM_HOST_READ();
    std::uint64_t id = 0;
    if (key != nullptr) {
      std::uint32_t given;
      std::memcpy(&given, key, 4);
      id = given >= n_buckets_ ? 0 : std::uint64_t{given} + 1;
    }
    std::lock_guard lock(mutex_);
    for (auto it = buckets_.lower_bound(id); it != buckets_.end(); ++it) {
      if (it->second.ips.empty()) continue;
      std::memcpy(next_key, &it->first, 4);
      return 0;
    }
    return -ENOENT;
  }
  long for_each(const std::function<long(const void*, void*)>&) override { return -EINVAL; }

 private:
  struct Bucket {
    std::uint32_t hash = 0;
    std::vector<std::uint64_t> ips;  // empty: no stack
  };

  int remove(const void* key) {
    std::uint32_t id;
    std::memcpy(&id, key, 4);
    std::lock_guard lock(mutex_);
    auto found = buckets_.find(id);
    if (found == buckets_.end()) return -ENOENT;
    buckets_.erase(found);
    return 0;
  }

  std::size_t depth_;
  std::uint32_t n_buckets_;
  // The stacks stored, by id (ids below n_buckets_). Linux preallocates max_entries buckets;
  // a map here grows with the stacks it holds, so a huge max_entries costs nothing up front.
  std::map<std::uint32_t, Bucket> buckets_;
  std::mutex mutex_;
};

}  // namespace

Result<std::shared_ptr<Map>> make_stack_trace(const MapSpec& spec) {
  return std::shared_ptr<Map>(std::make_shared<StackTrace>(spec));
}

}  // namespace bpfvm::maps
