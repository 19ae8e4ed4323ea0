// Maps: the key-value stores programs share with the host, with Linux's numbering, flags and
// semantics (uapi/linux/bpf.h: enum bpf_map_type, BPF_ANY/BPF_NOEXIST/BPF_EXIST). Errors are
// Linux's negative errno values (-ENOENT, -EEXIST, -E2BIG, -EINVAL, ...), because programs see
// them as helper return values and must see what the kernel would return.
#pragma once

#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace bpfvm {

class Program;

// uapi/linux/bpf.h enum bpf_map_type; the values are the contract.
enum class MapType : std::uint32_t {
  unspec = 0,
  hash = 1,
  array = 2,
  prog_array = 3,
  perf_event_array = 4,
  percpu_hash = 5,
  percpu_array = 6,
  stack_trace = 7,
  cgroup_array = 8,
  lru_hash = 9,
  lru_percpu_hash = 10,
  lpm_trie = 11,
  array_of_maps = 12,
  hash_of_maps = 13,
  devmap = 14,
  sockmap = 15,
  cpumap = 16,
  xskmap = 17,
  sockhash = 18,
  cgroup_storage = 19,
  reuseport_sockarray = 20,
  percpu_cgroup_storage = 21,
  queue = 22,
  stack = 23,
  sk_storage = 24,
  devmap_hash = 25,
  struct_ops = 26,
  ringbuf = 27,
  inode_storage = 28,
  task_storage = 29,
  bloom_filter = 30,
};

// "hash", "lru_percpu_hash", ... as bpftool prints them; "unknown" for other values.
std::string_view map_type_name(MapType type);

// Update flags (uapi: BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK).
namespace map_update {
inline constexpr std::uint64_t any = 0;
inline constexpr std::uint64_t noexist = 1;
inline constexpr std::uint64_t exist = 2;
inline constexpr std::uint64_t lock = 4;
}  // namespace map_update

// Map creation flags (uapi: BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, ...), the ones we honour.
namespace map_flag {
inline constexpr std::uint32_t no_prealloc = 1u << 0;
inline constexpr std::uint32_t no_common_lru = 1u << 1;
inline constexpr std::uint32_t rdonly = 1u << 3;
inline constexpr std::uint32_t wronly = 1u << 4;
inline constexpr std::uint32_t rdonly_prog = 1u << 7;
inline constexpr std::uint32_t wronly_prog = 1u << 8;
inline constexpr std::uint32_t mmapable = 1u << 10;
}  // namespace map_flag

// What BPF_MAP_CREATE takes.
struct MapSpec {
  MapType type = MapType::unspec;
  std::uint32_t key_size = 0;
  std::uint32_t value_size = 0;
  std::uint32_t max_entries = 0;
  std::uint32_t flags = 0;
  // bloom_filter: the number of hash functions (Linux: map_extra, 0 means 5).
  std::uint64_t map_extra = 0;
  std::string name;
  // array_of_maps / hash_of_maps: the shape every inner map must have.
  std::shared_ptr<const MapSpec> inner;
};

// One map. Thread-safe: programs on many threads and the host may use it at once.
//
// Two views, as in Linux:
// - the program's view (helpers 1-3, 87-89, 164, ringbuf): `lookup` returns a pointer into the
//   map's storage, one CPU's slot for per-CPU maps. The pointer stays valid while the calling
//   thread holds a MapReadGuard, even if another thread deletes the element meanwhile.
// - the host's view (bpf(2) commands): values are copied in and out; per-CPU maps take and
//   give one value per possible CPU, each padded to 8 bytes (host_value_size()).
class Map {
 public:
  // Validates the spec as BPF_MAP_CREATE does; the error says which field is wrong.
  static Result<std::shared_ptr<Map>> create(const MapSpec& spec);

  virtual ~Map() = default;
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;

  const MapSpec& spec() const { return spec_; }
  MapType type() const { return spec_.type; }

  // ---- The program's view.
  // bpf_map_lookup_elem: the value, or nullptr when absent (or for map types without one).
  virtual void* lookup(const void* key) = 0;
  // lookup() as one plain function, chosen when the map was created for its type and key
  // size, for engines that call it directly from generated code (Linux's map_gen_lookup
  // does the same by inlining): fn(this, key) returns what lookup(key) would. The caller must
  // hold a MapReadGuard (every run of a program that names the map does): unlike lookup(),
  // the function does not pin. nullptr for maps that have none.
  using PinnedLookup = void* (*)(Map* map, const void* key);
  PinnedLookup pinned_lookup() const { return pinned_lookup_; }
  // bpf_map_update_elem: 0 or a negative errno.
  virtual int update(const void* key, const void* value, std::uint64_t flags) = 0;
  // bpf_map_delete_elem: 0 or a negative errno.
  virtual int erase(const void* key) = 0;
  // bpf_map_push_elem / pop / peek (queue, stack; bloom_filter: push adds, peek tests).
  virtual int push(const void* value, std::uint64_t flags);
  virtual int pop(void* value);
  virtual int peek(void* value);
  // bpf_for_each_map_elem: calls visit(key, value) per element until it returns non-zero;
  // returns the number of elements visited, or a negative errno.
  virtual long for_each(const std::function<long(const void* key, void* value)>& visit);

  // ---- The host's view.
  std::size_t host_value_size() const;
  virtual int host_lookup(const void* key, void* value);
  virtual int host_update(const void* key, const void* value, std::uint64_t flags);
  virtual int host_erase(const void* key);
  virtual int host_lookup_and_erase(const void* key, void* value);
  // BPF_MAP_GET_NEXT_KEY: key == nullptr (or a key not in the map) gives the first key;
  // -ENOENT after the last. A walk survives deletions made during it.
  virtual int get_next_key(const void* key, void* next_key) = 0;
  // BPF_MAP_LOOKUP_BATCH / BPF_MAP_UPDATE_BATCH. `cursor` is opaque (key_size bytes, or
  // nullptr to start); lookup_batch fills up to `count` keys and values, sets `count` to how
  // many it filled and `next_cursor`, and returns -ENOENT when the walk is complete.
  virtual int lookup_batch(const void* cursor, void* next_cursor, void* keys, void* values,
                           std::uint32_t& count);
  virtual int update_batch(const void* keys, const void* values, std::uint32_t& count,
                           std::uint64_t flags);

  // Array maps: the address of element 0 and the stride, for global data (.data, .rodata,
  // .bss) that programs reach by `lddw` map-value relocations. nullptr for other types.
  virtual void* direct_value() { return nullptr; }

  // The one block of memory every value of the map lives in, for maps that have one (arrays,
  // per-CPU arrays: all CPUs' slots); empty otherwise. Checked mode admits it once instead of
  // one region per value a program looks up: it is the map's own memory either way, alive as
  // long as the map.
  virtual std::span<std::uint8_t> value_storage() { return {}; }

 protected:
  explicit Map(MapSpec spec) : spec_(std::move(spec)) {}
  // Set by map types that have one (pinned_lookup()).
  PinnedLookup pinned_lookup_ = nullptr;

 private:
  MapSpec spec_;
};

// Keeps values returned by Map::lookup on this thread alive until it is destroyed (epoch-based
// reclamation). Engines hold one for every run of a program that uses maps; nesting is fine.
class MapReadGuard {
 public:
  MapReadGuard();
  ~MapReadGuard();
  MapReadGuard(const MapReadGuard&) = delete;
  MapReadGuard& operator=(const MapReadGuard&) = delete;
};

// The number of possible CPUs (/sys/devices/system/cpu/possible), the slot count of per-CPU
// maps, and the slot a run on this thread uses now (sched_getcpu()).
unsigned possible_cpus();
unsigned current_cpu();

// prog_array: the programs tail calls reach, by index. Values from the host are programs.
class ProgramArrayMap : public Map {
 public:
  virtual int set(std::uint32_t index, std::shared_ptr<const Program> program) = 0;
  // The program at `index`, or nullptr.
  virtual const Program* get(std::uint32_t index) const = 0;

 protected:
  using Map::Map;
};

// array_of_maps / hash_of_maps: `lookup` returns the inner Map* (programs pass it to map
// helpers). The host sets inner maps as objects, which must match spec().inner.
class MapOfMaps : public Map {
 public:
  virtual int set(const void* key, std::shared_ptr<Map> inner) = 0;

 protected:
  using Map::Map;
};

// ringbuf: BPF_MAP_TYPE_RINGBUF, with Linux's record header and flags.
class RingBufferMap : public Map {
 public:
  // bpf_ringbuf_reserve: a record of `size` bytes or nullptr when full.
  virtual void* reserve(std::uint64_t size, std::uint64_t flags) = 0;
  // bpf_ringbuf_submit / discard: `record` is what reserve returned.
  virtual void submit(void* record, std::uint64_t flags) = 0;
  virtual void discard(void* record, std::uint64_t flags) = 0;
  // bpf_ringbuf_output: 0 or a negative errno.
  virtual int output(const void* data, std::uint64_t size, std::uint64_t flags) = 0;
  // bpf_ringbuf_query: BPF_RB_AVAIL_DATA (0), BPF_RB_RING_SIZE (1), BPF_RB_CONS_POS (2),
  // BPF_RB_PROD_POS (3).
  virtual std::uint64_t query(std::uint64_t flags) const = 0;
  // The host's consumer: calls `sample` for each submitted record in order, skipping
  // discarded ones, until it returns non-zero. Returns the number of records consumed.
  virtual long consume(const std::function<int(const void* data, std::size_t size)>& sample) = 0;

 protected:
  using Map::Map;
};

// perf_event_array: BPF_MAP_TYPE_PERF_EVENT_ARRAY as bpf_perf_event_output uses it, with the
// host's reader built in. In Linux each slot holds a perf event fd whose ring buffer the host
// reads (libbpf's perf_buffer); bpfvm has no perf events, so each slot owns a record buffer
// of perf_buffer_bytes. Every slot starts open, as if libbpf's perf_buffer__new had attached
// one to every CPU; host_erase closes a slot (output then fails with -ENOENT, as for an empty
// slot in Linux) and host_update with any 4-byte value opens it again.
class PerfEventArrayMap : public Map {
 public:
  // A slot's buffer, counted as perf counts it: each record takes an 8-byte perf_event_header
  // and a 4-byte size before its data, padded to 8 bytes (PERF_SAMPLE_RAW). 64 KiB, the 16
  // pages libbpf's examples give perf_buffer__new.
  static constexpr std::size_t perf_buffer_bytes = 64 * 1024;
  // bpf_perf_event_output's write into slot `index`: 0, -E2BIG (index >= max_entries),
  // -ENOENT (slot closed) or -ENOSPC (buffer full: the record is lost and counted).
  virtual int output(std::uint32_t index, const void* data, std::uint64_t size) = 0;
  // The host's reader (perf_buffer__consume): calls sample(slot, data, size) for each record,
  // slot by slot, oldest first, until it returns non-zero; returns the records consumed.
  virtual long consume(
      const std::function<int(std::uint32_t slot, const void* data, std::size_t size)>& sample) = 0;
  // Records dropped at `index` because its buffer was full (perf's PERF_RECORD_LOST count).
  virtual std::uint64_t lost(std::uint32_t index) const = 0;

 protected:
  using Map::Map;
};

// stack_trace: BPF_MAP_TYPE_STACK_TRACE as bpf_get_stackid fills it (kernel/bpf/stackmap.c).
// Keys are u32 stack ids, values arrays of value_size / 8 u64 instruction pointers (the
// frames after the first, zero-padded); ids are the stack's jhash2 modulo the bucket count
// (max_entries rounded up to a power of 2), so equal stacks get equal ids, as in Linux.
class StackTraceMap : public Map {
 public:
  // uapi bpf_get_stackid flags this map interprets.
  static constexpr std::uint64_t fast_stack_cmp = 1u << 9;  // BPF_F_FAST_STACK_CMP
  static constexpr std::uint64_t reuse_stackid = 1u << 10;  // BPF_F_REUSE_STACKID
  // Stores `ips` (at least one frame, at most value_size / 8) in its bucket and returns the
  // id; the same stack already there returns its id (with fast_stack_cmp, any stack of the
  // same hash does). A different stack in the bucket: -EEXIST, unless reuse_stackid replaces
  // it. -EINVAL for an empty or too deep stack.
  virtual long store(std::span<const std::uint64_t> ips, std::uint64_t flags) = 0;

 protected:
  using Map::Map;
};

// Pinning by name, as bpffs paths: maps pinned here outlive the objects that created them.
Status pin_map(const std::string& name, std::shared_ptr<Map> map);
std::shared_ptr<Map> pinned_map(const std::string& name);
Status unpin_map(const std::string& name);

}  // namespace bpfvm
