// Pinning by name (Linux: BPF_OBJ_PIN / BPF_OBJ_GET on bpffs paths): a process-wide table of
// names to maps, which keeps pinned maps alive after the objects that created them are gone.
#include "maps/map_common.hpp"

#include <map>
#include <mutex>

namespace bpfvm {
namespace {

struct PinTable {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<Map>> maps;
};

PinTable& pins() {
  static PinTable* table = new PinTable;  // never destroyed: threads may unpin at exit
  return *table;
}

}  // namespace

Status pin_map(const std::string& name, std::shared_ptr<Map> map) {
  if (name.empty()) return make_error(Error::Kind::usage, "pin: the name is empty (EINVAL)");
  if (!map) return make_error(Error::Kind::usage, "pin '" + name + "': no map (EINVAL)");
  PinTable& table = pins();
  std::lock_guard lock(table.mutex);
  if (!table.maps.emplace(name, std::move(map)).second) {
    return make_error(Error::Kind::usage, "pin '" + name + "': already pinned (EEXIST)");
  }
  return Ok{};
}

std::shared_ptr<Map> pinned_map(const std::string& name) {
  PinTable& table = pins();
  std::lock_guard lock(table.mutex);
  auto it = table.maps.find(name);
  return it == table.maps.end() ? nullptr : it->second;
}

Status unpin_map(const std::string& name) {
  PinTable& table = pins();
  std::shared_ptr<Map> released;  // destroyed after the lock is dropped
  std::lock_guard lock(table.mutex);
  auto it = table.maps.find(name);
  if (it == table.maps.end()) {
    return make_error(Error::Kind::usage, "unpin '" + name + "': not pinned (ENOENT)");
  }
  released = std::move(it->second);
  table.maps.erase(it);
  return Ok{};
}

}  // namespace bpfvm
