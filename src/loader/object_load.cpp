// Object::load with Linux's maps (Map::create), in its own file so that code which only
// parses objects does not need the map implementations linked in.
#include <bpfvm/object.hpp>

namespace bpfvm {
namespace {

// LIBBPF_PIN_BY_NAME: reuse the map pinned under the map's name, or pin the new one there.
Result<std::shared_ptr<Map>> create_linux_map(const ObjectMap& map) {
  if (map.pinning == MapPinning::by_name) {
    if (auto pinned = pinned_map(map.name)) return pinned;
  }
  MapSpec spec = map.spec;
  // libbpf hands the kernel at most BPF_OBJ_NAME_LEN - 1 = 15 characters of the name (Falco's
  // syscall_code_routing_table); the object keeps the full name for lookups.
  if (spec.name.size() > 15) spec.name.resize(15);
  // libbpf: a perf event array without max_entries gets one slot per possible CPU.
  if (spec.type == MapType::perf_event_array && spec.max_entries == 0)
    spec.max_entries = possible_cpus();
  auto created = Map::create(spec);
  if (!created) return created.error();
  if (map.pinning == MapPinning::by_name) {
    Status pinned = pin_map(map.name, *created);
    if (!pinned) return pinned.error();
  }
  return created;
}

}  // namespace

Result<Object> Object::load(const ObjectSpec& spec, const ObjectLoadOptions& options) {
  return load(spec, options, create_linux_map);
}

}  // namespace bpfvm
