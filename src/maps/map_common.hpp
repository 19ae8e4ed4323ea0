// Pieces every map type shares: Linux's error numbers, flag masks and size limits
// (uapi/linux/bpf.h, kernel/bpf/*.c), a small spin lock, key hashing, and the factories.
#pragma once

#include <bpfvm/map.hpp>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>

namespace bpfvm::maps {

// Linux's kernel-internal ENOTSUPP (include/linux/errno.h), which bpf(2) returns to users for
// operations a map type does not implement (e.g. lookup on a ring buffer).
inline constexpr int kENOTSUPP = 524;

// uapi map_flags beyond the ones include/bpfvm/map.hpp names.
inline constexpr std::uint32_t kNumaNode = 1u << 2;        // BPF_F_NUMA_NODE
inline constexpr std::uint32_t kZeroSeed = 1u << 6;        // BPF_F_ZERO_SEED
inline constexpr std::uint32_t kPreserveElems = 1u << 11;  // BPF_F_PRESERVE_ELEMS
inline constexpr std::uint32_t kInnerMap = 1u << 12;       // BPF_F_INNER_MAP
inline constexpr std::uint32_t kAccessMask =               // BPF_F_ACCESS_MASK
    map_flag::rdonly | map_flag::wronly | map_flag::rdonly_prog | map_flag::wronly_prog;

// bpf_ringbuf_query flags and record header bits (uapi/linux/bpf.h).
inline constexpr std::uint32_t kRingbufBusyBit = 1u << 31;     // BPF_RINGBUF_BUSY_BIT
inline constexpr std::uint32_t kRingbufDiscardBit = 1u << 30;  // BPF_RINGBUF_DISCARD_BIT
inline constexpr std::uint32_t kRingbufHeaderSize = 8;         // BPF_RINGBUF_HDR_SZ

inline constexpr std::size_t round_up8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

// array_map_get_next_key, which every map indexed by a u32 below max_entries follows (arrays,
// program arrays, device maps, perf event arrays): no key or one out of range starts at 0,
// the last index ends with -ENOENT.
inline int array_next_key(const void* key, void* next_key, std::uint32_t max_entries) {
  std::uint32_t index = max_entries;
  if (key != nullptr) std::memcpy(&index, key, 4);
  std::uint32_t next = 0;
  if (index < max_entries) {
    if (index == max_entries - 1) return -ENOENT;
    next = index + 1;
  }
  std::memcpy(next_key, &next, 4);
  return 0;
}

inline bool is_percpu(MapType type) {
  return type == MapType::percpu_array || type == MapType::percpu_hash ||
         type == MapType::lru_percpu_hash;
}

// Update flags as the hash and array maps check them: only ANY/NOEXIST/EXIST, optionally with
// BPF_F_LOCK (which needs a bpf_spin_lock in the value, something we have no BTF for).
inline int check_update_flags(std::uint64_t flags) {
  if ((flags & ~map_update::lock) > map_update::exist) return -EINVAL;
  if ((flags & map_update::lock) != 0) return -EINVAL;
  return 0;
}

// bpf(2) opens a map created with BPF_F_RDONLY read-only and one with BPF_F_WRONLY write-only
// (bpf_get_file_flag), and refuses the other direction with -EPERM before any other check
// (map_get_sys_perms). Host operations start with these.
inline int host_read_check(const MapSpec& spec) {
  return (spec.flags & map_flag::wronly) ? -EPERM : 0;
}
inline int host_write_check(const MapSpec& spec) {
  return (spec.flags & map_flag::rdonly) ? -EPERM : 0;
}
#define BPFVM_HOST_READ() \
  if (int denied = ::bpfvm::maps::host_read_check(spec())) return denied
#define BPFVM_HOST_WRITE() \
  if (int denied = ::bpfvm::maps::host_write_check(spec())) return denied

// Test-and-test-and-set lock for short writer sections (one per hash bucket: one byte).
class SpinLock {
 public:
  void lock() {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins > 64) std::this_thread::yield();
      }
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// Keys are hashed with a per-map seed (random unless BPF_F_ZERO_SEED), as Linux seeds jhash,
// so that no fixed set of keys collides in every map. A multiply-xorshift mix, 8 bytes a step;
// 4- and 8-byte keys take one step.
inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  return x;
}

inline std::uint64_t hash_bytes(const void* data, std::size_t size, std::uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (size == 4) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return mix64(seed ^ v ^ (std::uint64_t{4} << 56));
  }
  std::uint64_t h = seed ^ (size * 0x9e3779b97f4a7c15ull);
  while (size >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    h = mix64(h ^ v);
    p += 8;
    size -= 8;
  }
  if (size != 0) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, size);
    h = mix64(h ^ v ^ 0xff);
  }
  return h;
}

std::uint64_t new_hash_seed(std::uint32_t map_flags);

// The factories Map::create dispatches to, after the checks common to all types.
Result<std::shared_ptr<Map>> make_array_map(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_hash_map(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_lpm_trie(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_prog_array(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_array_of_maps(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_hash_of_maps(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_queue_stack(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_ringbuf(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_bloom_filter(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_perf_event_array(const MapSpec& spec);
// devmap, devmap_hash, cpumap, xskmap, sockmap, sockhash (device_maps.cpp).
Result<std::shared_ptr<Map>> make_device_map(const MapSpec& spec);
Result<std::shared_ptr<Map>> make_stack_trace(const MapSpec& spec);

// "map spec: <message> (EINVAL)": the errno name Linux's BPF_MAP_CREATE returns for the same
// spec ends every message, so callers and tests can compare with the kernel.
Error spec_error(const char* errno_name, const std::string& message);

// Whether `inner` may be stored in a map-in-map whose inner template is `shape`
// (kernel/bpf/map_in_map.c bpf_map_meta_equal).
bool inner_map_matches(const MapSpec& shape, const Map& inner);

}  // namespace bpfvm::maps
