// BPF_MAP_TYPE_ARRAY_OF_MAPS and BPF_MAP_TYPE_HASH_OF_MAPS (kernel/bpf/map_in_map.c,
// arraymap.c, hashtab.c): values are inner maps, and a program's lookup returns the inner
// Map* itself (Linux's map_gen_lookup dereferences the slot), which the program then passes
// to map helpers. The host sets inner maps with set(); each must match spec().inner
// (bpf_map_meta_equal: type, key and value size, flags, max_entries unless the template has
// BPF_F_INNER_MAP).
//
// Storage is an ordinary array or hash map whose 8-byte value points at a heap-held
// shared_ptr<Map>; replaced or deleted inner maps are retired to the epoch reclaimer, so a
// Map* a program looked up stays valid for the rest of its MapReadGuard.
#include "maps/epoch.hpp"
#include "maps/map_common.hpp"

#include <mutex>

namespace bpfvm::maps {
namespace {

using MapRef = std::shared_ptr<Map>;

void free_map_ref(void* ref) { delete static_cast<MapRef*>(ref); }

class MapOfMapsImpl final : public MapOfMaps {
 public:
  MapOfMapsImpl(const MapSpec& spec, std::shared_ptr<Map> table)
      : MapOfMaps(spec), array_(spec.type == MapType::array_of_maps), table_(std::move(table)) {}

  ~MapOfMapsImpl() override {
    std::vector<unsigned char> key(spec().key_size);
    const void* cursor = nullptr;
    std::vector<unsigned char> next(spec().key_size);
    while (table_->get_next_key(cursor, next.data()) == 0) {
      delete slot(next.data());
      key = next;
      cursor = key.data();
    }
  }

  int set(const void* key, std::shared_ptr<Map> inner) override {
    // bpf_fd_array_map_update_elem: the index first, then the inner map (map_fd_get_ptr).
    if (array_ && index_of(key) >= spec().max_entries) return -E2BIG;
    if (!inner) return erase(key);
    if (!inner_map_matches(*spec().inner, *inner)) return -EINVAL;
    epoch::Guard guard;
    std::lock_guard lock(mutex_);
    MapRef* old = slot(key);
    auto* fresh = new MapRef(std::move(inner));
    std::uint64_t bits = reinterpret_cast<std::uintptr_t>(fresh);
    int rc = table_->host_update(key, &bits, map_update::any);
    if (rc != 0) {
      delete fresh;
      return rc;
    }
    if (old != nullptr) epoch::retire(old, free_map_ref);
    return 0;
  }

  void* lookup(const void* key) override {
    epoch::Guard guard;
    void* value = table_->lookup(key);
    if (value == nullptr) return nullptr;
    std::uint64_t bits;
    std::memcpy(&bits, value, 8);
    auto* ref = reinterpret_cast<MapRef*>(static_cast<std::uintptr_t>(bits));
    return ref ? ref->get() : nullptr;
  }

  // Programs cannot update a map-in-map; the host's values are map fds in Linux and bpfvm
  // has no fds, so the host uses set().
  int update(const void*, const void*, std::uint64_t) override { return -EOPNOTSUPP; }
  int host_update(const void*, const void*, std::uint64_t) override { return -EOPNOTSUPP; }
  int host_lookup(const void*, void*) override { return -EOPNOTSUPP; }

  // fd_array_map_delete_elem / htab_map_delete_elem.
  int erase(const void* key) override {
    if (array_ && index_of(key) >= spec().max_entries) return -E2BIG;
    epoch::Guard guard;
    std::lock_guard lock(mutex_);
    MapRef* old = slot(key);
    if (old == nullptr) return -ENOENT;
    std::uint64_t zero = 0;
    if (array_) {
      (void)table_->host_update(key, &zero, map_update::any);
    } else {
      (void)table_->host_erase(key);
    }
    epoch::retire(old, free_map_ref);
    return 0;
  }

  int get_next_key(const void* key, void* next_key) override {
    return table_->get_next_key(key, next_key);
  }
  long for_each(const std::function<long(const void*, void*)>&) override { return -EINVAL; }
  int lookup_batch(const void*, void*, void*, void*, std::uint32_t& count) override {
    count = 0;
    return -kENOTSUPP;
  }

 private:
  static std::uint32_t index_of(const void* key) {
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    return index;
  }

  // The holder stored for `key` (caller pinned), or nullptr.
  MapRef* slot(const void* key) {
    std::uint64_t bits = 0;
    if (table_->host_lookup(key, &bits) != 0) return nullptr;
    return reinterpret_cast<MapRef*>(static_cast<std::uintptr_t>(bits));
  }

  const bool array_;
  std::shared_ptr<Map> table_;
  std::mutex mutex_;  // serialises set/erase so a holder is retired exactly once
};

Result<std::shared_ptr<Map>> make_map_of_maps(const MapSpec& spec, MapType storage_type) {
  MapSpec storage;
  storage.type = storage_type;
  storage.key_size = spec.key_size;
  storage.value_size = 8;
  storage.max_entries = spec.max_entries;
  storage.flags = spec.flags & (map_flag::no_prealloc | kZeroSeed);
  auto table = Map::create(storage);
  if (!table) return table.error();
  return std::shared_ptr<Map>(std::make_shared<MapOfMapsImpl>(spec, std::move(*table)));
}

}  // namespace

Result<std::shared_ptr<Map>> make_array_of_maps(const MapSpec& spec) {
  return make_map_of_maps(spec, MapType::array);
}

Result<std::shared_ptr<Map>> make_hash_of_maps(const MapSpec& spec) {
  return make_map_of_maps(spec, MapType::hash);
}

}  // namespace bpfvm::maps
