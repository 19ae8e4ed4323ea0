// Map::create: the checks of Linux's BPF_MAP_CREATE (kernel/bpf/syscall.c map_create and each
// type's map_alloc_check), in the same order so that the same spec fails for the same reason,
// then the type's factory.
#include "maps/map_common.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <new>

namespace bpfvm {
namespace {

using maps::spec_error;

constexpr std::uint32_t kArrayFlags = maps::kNumaNode | map_flag::mmapable | maps::kAccessMask |
                                      maps::kPreserveElems | maps::kInnerMap;
constexpr std::uint32_t kHashFlags = map_flag::no_prealloc | map_flag::no_common_lru |
                                     maps::kNumaNode | maps::kAccessMask | maps::kZeroSeed;
constexpr std::uint32_t kQueueStackFlags = maps::kNumaNode | maps::kAccessMask;
constexpr std::uint32_t kLpmFlags = map_flag::no_prealloc | maps::kAccessMask | maps::kNumaNode;
constexpr std::uint32_t kBloomFlags = maps::kNumaNode | maps::kZeroSeed | maps::kAccessMask;
constexpr std::uint32_t kRingbufFlags = maps::kNumaNode;

// Linux's limits: keys live on the 512-byte BPF stack (MAX_BPF_STACK); per-CPU values in one
// per-CPU allocation unit (PCPU_MIN_UNIT_SIZE); LPM data at most 256 bytes.
constexpr std::uint32_t kMaxBpfStack = 512;
constexpr std::uint32_t kPcpuMinUnitSize = 32768;
constexpr std::uint32_t kLpmDataSizeMax = 256;
constexpr std::uint64_t kMaxValueSize = std::uint64_t{1} << 22;  // KMALLOC_MAX_SIZE on x86-64

bool access_ok(std::uint32_t flags) {
  // bpf_map_flags_access_ok: read-only and write-only exclude each other, for each side.
  bool host = (flags & map_flag::rdonly) && (flags & map_flag::wronly);
  bool prog = (flags & map_flag::rdonly_prog) && (flags & map_flag::wronly_prog);
  return !host && !prog;
}

std::string type_of(const MapSpec& spec) { return std::string(map_type_name(spec.type)); }

std::optional<Error> check_array(const MapSpec& spec) {
  const bool percpu = spec.type == MapType::percpu_array;
  if (spec.max_entries == 0) return spec_error("EINVAL", "max_entries must not be 0");
  if (spec.key_size != 4) {
    return spec_error("EINVAL", fmt::format("key_size must be 4 for {} maps, not {}", type_of(spec),
                                            spec.key_size));
  }
  if (spec.value_size == 0) return spec_error("EINVAL", "value_size must not be 0");
  if ((spec.flags & ~kArrayFlags) != 0 || !access_ok(spec.flags)) {
    return spec_error(
        "EINVAL", fmt::format("flags {:#x} not allowed for {} maps", spec.flags, type_of(spec)));
  }
  if (percpu && (spec.flags & maps::kNumaNode)) {
    return spec_error("EINVAL", "flags: BPF_F_NUMA_NODE not allowed for percpu_array maps");
  }
  if ((spec.flags & (map_flag::mmapable | maps::kInnerMap)) && spec.type != MapType::array) {
    return spec_error("EINVAL", "flags: BPF_F_MMAPABLE and BPF_F_INNER_MAP only for array maps");
  }
  if ((spec.flags & maps::kPreserveElems) && spec.type != MapType::perf_event_array) {
    return spec_error("EINVAL", "flags: BPF_F_PRESERVE_ELEMS only for perf_event_array maps");
  }
  if (spec.value_size > kMaxValueSize || (percpu && spec.value_size > kPcpuMinUnitSize)) {
    return spec_error("E2BIG", fmt::format("value_size {} too large", spec.value_size));
  }
  const std::uint64_t copies = percpu ? possible_cpus() : 1;
  if (maps::round_up8(spec.value_size) * std::uint64_t{spec.max_entries} * copies >
      (std::uint64_t{1} << 32)) {
    return spec_error("E2BIG", "value_size * max_entries too large");
  }
  return std::nullopt;
}

std::optional<Error> check_fd_array(const MapSpec& spec) {
  if (spec.value_size != 4) {
    return spec_error("EINVAL", fmt::format("value_size must be 4 for {} maps, not {}",
                                            type_of(spec), spec.value_size));
  }
  if (spec.flags & (map_flag::mmapable | maps::kInnerMap)) {
    return spec_error(
        "EINVAL", fmt::format("flags {:#x} not allowed for {} maps", spec.flags, type_of(spec)));
  }
  MapSpec as_array = spec;
  as_array.type = MapType::array;
  return check_array(as_array);
}

std::optional<Error> check_hash(const MapSpec& spec) {
  const bool lru = spec.type == MapType::lru_hash || spec.type == MapType::lru_percpu_hash;
  const bool percpu = spec.type == MapType::percpu_hash || spec.type == MapType::lru_percpu_hash;
  const bool prealloc = (spec.flags & map_flag::no_prealloc) == 0;
  const bool percpu_lru = (spec.flags & map_flag::no_common_lru) != 0;
  if ((spec.flags & ~kHashFlags) != 0 || !access_ok(spec.flags)) {
    return spec_error(
        "EINVAL", fmt::format("flags {:#x} not allowed for {} maps", spec.flags, type_of(spec)));
  }
  if (!lru && percpu_lru) {
    return spec_error("EINVAL", "flags: BPF_F_NO_COMMON_LRU only for LRU maps");
  }
  if (lru && !prealloc) {
    return spec_error("ENOTSUPP", "flags: LRU maps cannot have BPF_F_NO_PREALLOC");
  }
  if ((spec.flags & maps::kNumaNode) && (percpu || percpu_lru)) {
    return spec_error("EINVAL", "flags: BPF_F_NUMA_NODE not allowed for per-CPU maps");
  }
  if (spec.max_entries == 0) return spec_error("EINVAL", "max_entries must not be 0");
  if (spec.key_size == 0) return spec_error("EINVAL", "key_size must not be 0");
  if (spec.value_size == 0) return spec_error("EINVAL", "value_size must not be 0");
  // htab_map_alloc: roundup_pow_of_two(max_entries) buckets of 16 bytes must fit in 4 GiB.
  if (spec.max_entries > (1u << 28)) {
    return spec_error(
        "E2BIG", fmt::format("max_entries {} needs more than 2^28 hash buckets", spec.max_entries));
  }
  if (std::uint64_t{spec.key_size} + spec.value_size >= kMaxValueSize - 64) {
    return spec_error("E2BIG", fmt::format("key_size {} + value_size {} too large", spec.key_size,
                                           spec.value_size));
  }
  if (spec.value_size >= kMaxValueSize - kMaxBpfStack - 64 ||
      (percpu && maps::round_up8(spec.value_size) > kPcpuMinUnitSize)) {
    return spec_error("E2BIG", fmt::format("value_size {} too large", spec.value_size));
  }
  return std::nullopt;
}

std::optional<Error> check_fd_hash(const MapSpec& spec) {
  if (spec.value_size != 4) {
    return spec_error("EINVAL", fmt::format("value_size must be 4 for {} maps, not {}",
                                            type_of(spec), spec.value_size));
  }
  MapSpec as_hash = spec;
  as_hash.type = MapType::hash;
  return check_hash(as_hash);
}

std::optional<Error> check_lpm(const MapSpec& spec) {
  if (spec.max_entries == 0) return spec_error("EINVAL", "max_entries must not be 0");
  if ((spec.flags & map_flag::no_prealloc) == 0) {
    return spec_error("EINVAL", "flags: lpm_trie maps need BPF_F_NO_PREALLOC");
  }
  if ((spec.flags & ~kLpmFlags) != 0 || !access_ok(spec.flags)) {
    return spec_error("EINVAL",
                      fmt::format("flags {:#x} not allowed for lpm_trie maps", spec.flags));
  }
  if (spec.key_size < 4 + 1 || spec.key_size > 4 + kLpmDataSizeMax) {
    return spec_error("EINVAL",
                      fmt::format("key_size must be 4 (prefixlen) + 1 to 256 data bytes for "
                                  "lpm_trie maps, not {}",
                                  spec.key_size));
  }
  if (spec.value_size == 0 || spec.value_size > kMaxValueSize) {
    return spec_error("EINVAL",
                      fmt::format("value_size {} out of range for lpm_trie maps", spec.value_size));
  }
  return std::nullopt;
}

std::optional<Error> check_queue_stack(const MapSpec& spec) {
  if (spec.max_entries == 0) return spec_error("EINVAL", "max_entries must not be 0");
  if (spec.key_size != 0) {
    return spec_error("EINVAL", fmt::format("key_size must be 0 for {} maps, not {}", type_of(spec),
                                            spec.key_size));
  }
  if (spec.value_size == 0) return spec_error("EINVAL", "value_size must not be 0");
  if ((spec.flags & ~kQueueStackFlags) != 0 || !access_ok(spec.flags)) {
    return spec_error(
        "EINVAL", fmt::format("flags {:#x} not allowed for {} maps", spec.flags, type_of(spec)));
  }
  if (spec.value_size > kMaxValueSize) {
    return spec_error("E2BIG", fmt::format("value_size {} too large", spec.value_size));
  }
  // (max_entries + 1) * value_size bytes in one allocation, which the kernel's
  // bpf_map_area_alloc would not find either.
  if ((std::uint64_t{spec.max_entries} + 1) * spec.value_size > (std::uint64_t{1} << 32)) {
    return spec_error("ENOMEM", fmt::format("max_entries {} * value_size {} too large",
                                            spec.max_entries, spec.value_size));
  }
  return std::nullopt;
}

std::optional<Error> check_bloom(const MapSpec& spec) {
  if (spec.key_size != 0) {
    return spec_error(
        "EINVAL", fmt::format("key_size must be 0 for bloom_filter maps, not {}", spec.key_size));
  }
  if (spec.value_size == 0) return spec_error("EINVAL", "value_size must not be 0");
  if (spec.max_entries == 0) return spec_error("EINVAL", "max_entries must not be 0");
  if ((spec.flags & ~kBloomFlags) != 0 || !access_ok(spec.flags)) {
    return spec_error("EINVAL",
                      fmt::format("flags {:#x} not allowed for bloom_filter maps", spec.flags));
  }
  if ((spec.map_extra & ~std::uint64_t{0xf}) != 0) {
    return spec_error("EINVAL", fmt::format("map_extra (number of hashes) must be at most 15, "
                                            "not {}",
                                            spec.map_extra));
  }
  return std::nullopt;
}

std::optional<Error> check_ringbuf(const MapSpec& spec) {
  if ((spec.flags & ~kRingbufFlags) != 0) {
    return spec_error("EINVAL",
                      fmt::format("flags {:#x} not allowed for ringbuf maps", spec.flags));
  }
  if (spec.key_size != 0) {
    return spec_error("EINVAL",
                      fmt::format("key_size must be 0 for ringbuf maps, not {}", spec.key_size));
  }
  if (spec.value_size != 0) {
    return spec_error(
        "EINVAL", fmt::format("value_size must be 0 for ringbuf maps, not {}", spec.value_size));
  }
  const std::uint32_t n = spec.max_entries;
  const auto page = static_cast<std::uint32_t>(sysconf(_SC_PAGESIZE));
  if (n == 0 || (n & (n - 1)) != 0 || n % page != 0) {
    return spec_error("EINVAL", fmt::format("max_entries must be a power of 2 multiple of the "
                                            "page size ({}) for ringbuf maps, not {}",
                                            page, n));
  }
  return std::nullopt;
}

std::optional<Error> check_inner(const MapSpec& spec) {
  if (!spec.inner) {
    return spec_error("EBADF",
                      fmt::format("inner: {} maps need the inner map's spec", type_of(spec)));
  }
  switch (spec.inner->type) {
    case MapType::prog_array:
    case MapType::array_of_maps:
    case MapType::hash_of_maps:
      return spec_error("ENOTSUPP", fmt::format("inner: {} maps cannot be inner maps",
                                                map_type_name(spec.inner->type)));
    default: break;
  }
  return std::nullopt;
}

// dev_map_alloc_check, cpu_map_alloc, xsk_map_alloc, sock_map_alloc / sock_hash_alloc: a
// 4-byte key (any size for sockhash), the value an id (4 bytes) or the uapi struct that adds
// a program fd (8 bytes: bpf_devmap_val, bpf_cpumap_val; sockets: a u64 cookie).
std::optional<Error> check_device_map(const MapSpec& spec) {
  const bool eight_ok = spec.type != MapType::xskmap;
  if (spec.max_entries == 0) return spec_error("EINVAL", "max_entries must not be 0");
  if (spec.type == MapType::sockhash ? spec.key_size == 0 : spec.key_size != 4) {
    return spec_error(
        "EINVAL", fmt::format("key_size {} not allowed for {} maps", spec.key_size, type_of(spec)));
  }
  if (spec.value_size != 4 && !(eight_ok && spec.value_size == 8)) {
    return spec_error("EINVAL", fmt::format("value_size {} not allowed for {} maps",
                                            spec.value_size, type_of(spec)));
  }
  std::uint32_t allowed = maps::kNumaNode | maps::kAccessMask;
  if (spec.type == MapType::cpumap) allowed = maps::kNumaNode;
  if ((spec.flags & ~allowed) != 0 || !access_ok(spec.flags)) {
    return spec_error(
        "EINVAL", fmt::format("flags {:#x} not allowed for {} maps", spec.flags, type_of(spec)));
  }
  return std::nullopt;
}

// stack_map_alloc: a u32 key, a value of 1 to sysctl_perf_event_max_stack (127) u64 ips,
// flags within STACK_CREATE_FLAG_MASK. BPF_F_STACK_BUILD_ID values (build id and offset per
// frame) need the ELF build ids of the kernel's mappings: bpfvm has none.
std::optional<Error> check_stack_trace(const MapSpec& spec) {
  constexpr std::uint32_t stack_build_id = 1u << 5;  // BPF_F_STACK_BUILD_ID
  constexpr std::uint32_t max_stack = 127;           // sysctl_perf_event_max_stack default
  if ((spec.flags & ~(maps::kNumaNode | map_flag::rdonly | map_flag::wronly | stack_build_id)) !=
          0 ||
      !access_ok(spec.flags))
    return spec_error("EINVAL",
                      fmt::format("flags {:#x} not allowed for stack_trace maps", spec.flags));
  if (spec.max_entries == 0) return spec_error("EINVAL", "max_entries must not be 0");
  if (spec.key_size != 4)
    return spec_error(
        "EINVAL", fmt::format("key_size must be 4 for stack_trace maps, not {}", spec.key_size));
  if (spec.value_size < 8 || spec.value_size % 8 != 0 || spec.value_size / 8 > max_stack)
    return spec_error("EINVAL",
                      fmt::format("value_size must be 8 to {} in steps of 8 for stack_trace "
                                  "maps, not {}",
                                  8 * max_stack, spec.value_size));
  if (spec.max_entries > (1u << 31))
    return spec_error("E2BIG", fmt::format("max_entries {} too large", spec.max_entries));
  if (spec.flags & stack_build_id)
    return spec_error("EOPNOTSUPP",
                      "flags: BPF_F_STACK_BUILD_ID is not supported by bpfvm (no build ids)");
  return std::nullopt;
}

bool name_ok(const std::string& name) {
  // bpf_obj_name_cpy: at most BPF_OBJ_NAME_LEN - 1 = 15 characters of [A-Za-z0-9_.].
  if (name.size() > 15) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<std::shared_ptr<Map>> Map::create(const MapSpec& spec) {
  if (spec.map_extra != 0 && spec.type != MapType::bloom_filter) {
    return spec_error("EINVAL", "map_extra must be 0 except for bloom_filter maps");
  }
  if (!name_ok(spec.name)) {
    return spec_error(
        "EINVAL", fmt::format("name '{}': at most 15 characters of A-Z a-z 0-9 _ .", spec.name));
  }
  std::optional<Error> error;
  Result<std::shared_ptr<Map>> (*factory)(const MapSpec&) = nullptr;
  switch (spec.type) {
    case MapType::array:
    case MapType::percpu_array:
      error = check_array(spec);
      factory = maps::make_array_map;
      break;
    case MapType::hash:
    case MapType::percpu_hash:
    case MapType::lru_hash:
    case MapType::lru_percpu_hash:
      error = check_hash(spec);
      factory = maps::make_hash_map;
      break;
    case MapType::lpm_trie:
      error = check_lpm(spec);
      factory = maps::make_lpm_trie;
      break;
    case MapType::prog_array:
      error = check_fd_array(spec);
      factory = maps::make_prog_array;
      break;
    case MapType::array_of_maps:
      error = check_inner(spec);
      if (!error) error = check_fd_array(spec);
      factory = maps::make_array_of_maps;
      break;
    case MapType::hash_of_maps:
      error = check_inner(spec);
      if (!error) error = check_fd_hash(spec);
      factory = maps::make_hash_of_maps;
      break;
    case MapType::queue:
    case MapType::stack:
      error = check_queue_stack(spec);
      factory = maps::make_queue_stack;
      break;
    case MapType::ringbuf:
      error = check_ringbuf(spec);
      factory = maps::make_ringbuf;
      break;
    case MapType::bloom_filter:
      error = check_bloom(spec);
      factory = maps::make_bloom_filter;
      break;
    case MapType::perf_event_array:
      // perf_event_array_map_alloc is array_map_alloc with the fd-array checks (value 4);
      // BPF_F_PRESERVE_ELEMS is its own flag.
      {
        MapSpec as_fd_array = spec;
        as_fd_array.flags &= ~maps::kPreserveElems;
        error = check_fd_array(as_fd_array);
      }
      factory = maps::make_perf_event_array;
      break;
    case MapType::devmap:
    case MapType::devmap_hash:
    case MapType::cpumap:
    case MapType::xskmap:
    case MapType::sockmap:
    case MapType::sockhash:
      error = check_device_map(spec);
      factory = maps::make_device_map;
      break;
    case MapType::stack_trace:
      error = check_stack_trace(spec);
      factory = maps::make_stack_trace;
      break;
    default:
      if (map_type_name(spec.type) == "unknown" || spec.type == MapType::unspec) {
        return spec_error("EINVAL", fmt::format("type {} is not a map type",
                                                static_cast<std::uint32_t>(spec.type)));
      }
      return spec_error("EOPNOTSUPP",
                        fmt::format("type {} is not supported by bpfvm", map_type_name(spec.type)));
  }
  if (error) return *error;
  try {
    return factory(spec);
  } catch (const std::bad_alloc&) {
    return spec_error("ENOMEM", fmt::format("cannot allocate a {} map of {} entries",
                                            map_type_name(spec.type), spec.max_entries));
  }
}

}  // namespace bpfvm
