// Built only while src/maps is absent (see CMakeLists.txt): the defaults of the Map
// interface's optional operations, as Linux answers for map types without them
// (-EOPNOTSUPP, or -EINVAL where the kernel says so), and a MapReadGuard with nothing to
// protect (no map implementation frees values yet). The maps layer replaces all of it.
#include <bpfvm/map.hpp>

#include <cerrno>
#include <cstring>

namespace bpfvm {

int Map::push(const void*, std::uint64_t) { return -EOPNOTSUPP; }
int Map::pop(void*) { return -EOPNOTSUPP; }
int Map::peek(void*) { return -EOPNOTSUPP; }
long Map::for_each(const std::function<long(const void*, void*)>&) { return -EOPNOTSUPP; }
std::size_t Map::host_value_size() const { return spec_.value_size; }
int Map::host_lookup(const void* key, void* value) {
  void* found = lookup(key);
  if (found == nullptr) return -ENOENT;
  std::memcpy(value, found, spec_.value_size);
  return 0;
}
int Map::host_update(const void* key, const void* value, std::uint64_t flags) {
  return update(key, value, flags);
}
int Map::host_erase(const void* key) { return erase(key); }
int Map::host_lookup_and_erase(const void*, void*) { return -EOPNOTSUPP; }
int Map::lookup_batch(const void*, void*, void*, void*, std::uint32_t&) { return -EOPNOTSUPP; }
int Map::update_batch(const void*, const void*, std::uint32_t&, std::uint64_t) {
  return -EOPNOTSUPP;
}

std::string_view map_type_name(MapType type) {
  switch (type) {
    case MapType::hash: return "hash";
    case MapType::array: return "array";
    case MapType::prog_array: return "prog_array";
    case MapType::array_of_maps: return "array_of_maps";
    case MapType::hash_of_maps: return "hash_of_maps";
    case MapType::queue: return "queue";
    case MapType::stack: return "stack";
    case MapType::ringbuf: return "ringbuf";
    case MapType::bloom_filter: return "bloom_filter";
    default: return "unknown";
  }
}

MapReadGuard::MapReadGuard() = default;
MapReadGuard::~MapReadGuard() = default;

}  // namespace bpfvm
