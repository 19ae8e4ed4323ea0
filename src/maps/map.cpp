// The parts of Map every type shares: names, the default (unsupported) operations, the host
// view built on the program's view, per-CPU geometry and MapReadGuard.
#include "maps/epoch.hpp"
#include "maps/map_common.hpp"

#include <sched.h>

#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace bpfvm {

std::string_view map_type_name(MapType type) {
  switch (type) {
    case MapType::unspec: return "unspec";
    case MapType::hash: return "hash";
    case MapType::array: return "array";
    case MapType::prog_array: return "prog_array";
    case MapType::perf_event_array: return "perf_event_array";
    case MapType::percpu_hash: return "percpu_hash";
    case MapType::percpu_array: return "percpu_array";
    case MapType::stack_trace: return "stack_trace";
    case MapType::cgroup_array: return "cgroup_array";
    case MapType::lru_hash: return "lru_hash";
    case MapType::lru_percpu_hash: return "lru_percpu_hash";
    case MapType::lpm_trie: return "lpm_trie";
    case MapType::array_of_maps: return "array_of_maps";
    case MapType::hash_of_maps: return "hash_of_maps";
    case MapType::devmap: return "devmap";
    case MapType::sockmap: return "sockmap";
    case MapType::cpumap: return "cpumap";
    case MapType::xskmap: return "xskmap";
    case MapType::sockhash: return "sockhash";
    case MapType::cgroup_storage: return "cgroup_storage";
    case MapType::reuseport_sockarray: return "reuseport_sockarray";
    case MapType::percpu_cgroup_storage: return "percpu_cgroup_storage";
    case MapType::queue: return "queue";
    case MapType::stack: return "stack";
    case MapType::sk_storage: return "sk_storage";
    case MapType::devmap_hash: return "devmap_hash";
    case MapType::struct_ops: return "struct_ops";
    case MapType::ringbuf: return "ringbuf";
    case MapType::inode_storage: return "inode_storage";
    case MapType::task_storage: return "task_storage";
    case MapType::bloom_filter: return "bloom_filter";
  }
  return "unknown";
}

// Operations a type does not have answer as Linux's bpf_map_ops defaults do: the queue-style
// helpers with -EOPNOTSUPP (the verifier would refuse them), the host-only ones with -ENOTSUPP.
int Map::push(const void*, std::uint64_t) { return -EOPNOTSUPP; }
int Map::pop(void*) { return -EOPNOTSUPP; }
int Map::peek(void*) { return -EOPNOTSUPP; }

long Map::for_each(const std::function<long(const void* key, void* value)>& visit) {
  if (spec().key_size == 0) return -EOPNOTSUPP;
  maps::epoch::Guard guard;
  std::vector<unsigned char> key(spec().key_size);
  std::vector<unsigned char> next(spec().key_size);
  long visited = 0;
  const void* cursor = nullptr;
  while (get_next_key(cursor, next.data()) == 0) {
    key.swap(next);
    cursor = key.data();
    void* value = lookup(key.data());
    if (value == nullptr) continue;  // deleted meanwhile
    ++visited;
    if (visit(key.data(), value) != 0) break;
  }
  return visited;
}

std::size_t Map::host_value_size() const {
  if (maps::is_percpu(spec_.type)) return maps::round_up8(spec_.value_size) * possible_cpus();
  return spec_.value_size;
}

int Map::host_lookup(const void* key, void* value) {
  BPFVM_HOST_READ();
  maps::epoch::Guard guard;
  const void* found = lookup(key);
  if (found == nullptr) return -ENOENT;
  std::memcpy(value, found, spec_.value_size);
  return 0;
}

int Map::host_update(const void* key, const void* value, std::uint64_t flags) {
  BPFVM_HOST_WRITE();
  return update(key, value, flags);
}

int Map::host_erase(const void* key) {
  BPFVM_HOST_WRITE();
  return erase(key);
}

int Map::host_lookup_and_erase(const void*, void*) {
  BPFVM_HOST_READ();
  BPFVM_HOST_WRITE();
  return -maps::kENOTSUPP;
}

int Map::lookup_batch(const void* cursor, void* next_cursor, void* keys, void* values,
                      std::uint32_t& count) {
  const std::size_t key_size = spec_.key_size;
  const std::size_t value_size = host_value_size();
  if (key_size == 0) return -maps::kENOTSUPP;
  const std::uint32_t wanted = count;
  count = 0;
  if (wanted == 0) return -EINVAL;
  auto* key_out = static_cast<unsigned char*>(keys);
  auto* value_out = static_cast<unsigned char*>(values);
  std::vector<unsigned char> here(key_size);
  const void* at = cursor;
  while (count < wanted) {
    unsigned char* slot = key_out + count * key_size;
    if (get_next_key(at, slot) != 0) {
      if (count != 0) std::memcpy(next_cursor, key_out + (count - 1) * key_size, key_size);
      return -ENOENT;
    }
    std::memcpy(here.data(), slot, key_size);
    at = here.data();
    // A key deleted between get_next_key and the lookup is skipped, not reported.
    if (host_lookup(slot, value_out + count * value_size) != 0) continue;
    ++count;
  }
  std::memcpy(next_cursor, key_out + (count - 1) * key_size, key_size);
  return 0;
}

int Map::update_batch(const void* keys, const void* values, std::uint32_t& count,
                      std::uint64_t flags) {
  const std::uint32_t wanted = count;
  count = 0;
  const auto* key_in = static_cast<const unsigned char*>(keys);
  const auto* value_in = static_cast<const unsigned char*>(values);
  for (; count < wanted; ++count) {
    int rc =
        host_update(key_in + count * spec_.key_size, value_in + count * host_value_size(), flags);
    if (rc != 0) return rc;
  }
  return 0;
}

MapReadGuard::MapReadGuard() { maps::epoch::pin(); }
MapReadGuard::~MapReadGuard() { maps::epoch::unpin(); }

namespace {

// "0-1", "0,2-3", ...: the highest CPU number plus one, as libbpf's libbpf_num_possible_cpus.
unsigned read_possible_cpus() {
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  if (in && std::getline(in, text)) {
    unsigned highest = 0;
    bool any = false;
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t end = text.find_first_of(",\n", pos);
      if (end == std::string::npos) end = text.size();
      std::string range = text.substr(pos, end - pos);
      std::size_t dash = range.find('-');
      try {
        unsigned last = static_cast<unsigned>(
            std::stoul(dash == std::string::npos ? range : range.substr(dash + 1)));
        highest = std::max(highest, last);
        any = true;
      } catch (...) {
      }
      pos = end + 1;
    }
    if (any) return highest + 1;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace

unsigned possible_cpus() {
  static const unsigned count = read_possible_cpus();
  return count;
}

unsigned current_cpu() {
  // glibc 2.35+ answers sched_getcpu() from the rseq area, a load rather than a syscall.
  int cpu = sched_getcpu();
  unsigned n = possible_cpus();
  if (cpu < 0) return 0;
  return static_cast<unsigned>(cpu) < n ? static_cast<unsigned>(cpu)
                                        : static_cast<unsigned>(cpu) % n;
}

namespace maps {

std::uint64_t new_hash_seed(std::uint32_t map_flags) {
  if ((map_flags & kZeroSeed) != 0) return 0;
  static std::atomic<std::uint64_t> counter{std::random_device{}()};
  return mix64(counter.fetch_add(0x9e3779b97f4a7c15ull, std::memory_order_relaxed));
}

Error spec_error(const char* errno_name, const std::string& message) {
  return make_error(Error::Kind::usage, "map spec: " + message + " (" + errno_name + ")");
}

bool inner_map_matches(const MapSpec& shape, const Map& inner) {
  const MapSpec& s = inner.spec();
  if (s.type != shape.type || s.key_size != shape.key_size || s.value_size != shape.value_size ||
      s.flags != shape.flags) {
    return false;
  }
  // BPF_F_INNER_MAP on an array template lets inner arrays differ in max_entries.
  return (shape.flags & kInnerMap) != 0 || s.max_entries == shape.max_entries;
}

}  // namespace maps
}  // namespace bpfvm
