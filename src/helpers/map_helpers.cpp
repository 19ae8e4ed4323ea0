// Map helpers: bpf_map_lookup_elem (1), update (2), delete (3), push (87), pop (88),
// peek (89), for_each_map_elem (164). Semantics are the Map's (include/bpfvm/map.hpp); here
// the arguments are checked and the values returned admitted as regions.
#include "helpers/helper_functions.hpp"

#include "helpers/helper_support.hpp"

#include <cerrno>

namespace bpfvm::helpers {
namespace {

bool value_writable(const Map& map) { return (map.spec().flags & map_flag::rdonly_prog) == 0; }

bool is_map_of_maps(const Map& map) {
  return map.type() == MapType::array_of_maps || map.type() == MapType::hash_of_maps;
}

// Linux's verifier refuses helpers that write to a BPF_F_RDONLY_PROG map ("write into map
// forbidden"); a run without a verifier fails instead.
bool writable_map(HelperCall& call, const char* helper, Map& map) {
  if (value_writable(map)) return true;
  call.fail(fmt::format("{}: write into map forbidden (the map has BPF_F_RDONLY_PROG)", helper));
  return false;
}

}  // namespace

u64 map_lookup_elem(HelperCall& call, u64 r1, u64 key, u64, u64, u64) {
  Map* map = check_map(call, "map_lookup_elem", r1);
  if (map == nullptr) return 0;
  if (!check_pointer(call, "map_lookup_elem", "key", key, map->spec().key_size, false)) return 0;
  void* value = map->lookup(reinterpret_cast<const void*>(key));
  if (value == nullptr) return 0;
  if (is_map_of_maps(*map)) {
    // The value is the inner map itself, which the program passes to map helpers.
    call.adopt_map(static_cast<Map*>(value));
  } else if (std::span<std::uint8_t> storage = map->value_storage(); !storage.empty()) {
    call.grant(storage.data(), storage.size(), value_writable(*map));
  } else {
    call.grant(value, map->spec().value_size, value_writable(*map));
  }
  return reinterpret_cast<u64>(value);
}

u64 map_update_elem(HelperCall& call, u64 r1, u64 key, u64 value, u64 flags, u64) {
  Map* map = check_map(call, "map_update_elem", r1);
  if (map == nullptr || !writable_map(call, "map_update_elem", *map)) return 0;
  if (!check_pointer(call, "map_update_elem", "key", key, map->spec().key_size, false) ||
      !check_pointer(call, "map_update_elem", "value", value, map->spec().value_size, false))
    return 0;
  return err(
      map->update(reinterpret_cast<const void*>(key), reinterpret_cast<const void*>(value), flags));
}

u64 map_delete_elem(HelperCall& call, u64 r1, u64 key, u64, u64, u64) {
  Map* map = check_map(call, "map_delete_elem", r1);
  if (map == nullptr || !writable_map(call, "map_delete_elem", *map)) return 0;
  if (!check_pointer(call, "map_delete_elem", "key", key, map->spec().key_size, false)) return 0;
  return err(map->erase(reinterpret_cast<const void*>(key)));
}

u64 map_push_elem(HelperCall& call, u64 r1, u64 value, u64 flags, u64, u64) {
  Map* map = check_map(call, "map_push_elem", r1);
  if (map == nullptr || !writable_map(call, "map_push_elem", *map)) return 0;
  if (!check_pointer(call, "map_push_elem", "value", value, map->spec().value_size, false))
    return 0;
  return err(map->push(reinterpret_cast<const void*>(value), flags));
}

u64 map_pop_elem(HelperCall& call, u64 r1, u64 value, u64, u64, u64) {
  Map* map = check_map(call, "map_pop_elem", r1);
  if (map == nullptr || !writable_map(call, "map_pop_elem", *map)) return 0;
  if (!check_pointer(call, "map_pop_elem", "value", value, map->spec().value_size, true)) return 0;
  return err(map->pop(reinterpret_cast<void*>(value)));
}

u64 map_peek_elem(HelperCall& call, u64 r1, u64 value, u64, u64, u64) {
  Map* map = check_map(call, "map_peek_elem", r1);
  if (map == nullptr) return 0;
  // A bloom filter's peek tests the value the program gives; queues and stacks fill it.
  bool fills = map->type() != MapType::bloom_filter;
  if (!check_pointer(call, "map_peek_elem", "value", value, map->spec().value_size, fills))
    return 0;
  return err(map->peek(reinterpret_cast<void*>(value)));
}

u64 for_each_map_elem(HelperCall& call, u64 r1, u64 callback, u64 context, u64 flags, u64) {
  Map* map = check_map(call, "for_each_map_elem", r1);
  if (map == nullptr) return 0;
  if (!call.is_function(callback)) {
    call.fail(fmt::format("for_each_map_elem: 0x{:x} is not a function of this program", callback));
    return 0;
  }
  if (flags != 0) return err(-EINVAL);
  const std::size_t key_size = map->spec().key_size;
  const std::size_t value_size = map->spec().value_size;
  const bool writable = value_writable(*map);
  bool stopped_run = false;
  long visited = map->for_each([&](const void* key, void* value) -> long {
    // The callback may read the key and use the value as a lookup's; both are admitted
    // for the call only (unless already admitted, say by an earlier lookup).
    bool grant_key = !call.accessible(reinterpret_cast<u64>(key), key_size, false);
    bool grant_value = !call.accessible(reinterpret_cast<u64>(value), value_size, writable);
    if (grant_key) call.grant(key, key_size, false);
    if (grant_value) call.grant(value, value_size, writable);
    auto r0 = call.call_function(callback, r1, reinterpret_cast<u64>(key),
                                 reinterpret_cast<u64>(value), context);
    if (grant_key) call.revoke(key, key_size, false);
    if (grant_value) call.revoke(value, value_size, writable);
    if (!r0) {
      stopped_run = true;
      return 1;
    }
    return *r0 != 0 ? 1 : 0;  // callback: 0 continues, 1 stops
  });
  if (stopped_run) return 0;
  return static_cast<u64>(static_cast<std::int64_t>(visited));
}

}  // namespace bpfvm::helpers
