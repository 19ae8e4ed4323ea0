// The redirect targets of XDP and the socket maps, as maps whose values the host sets:
// BPF_MAP_TYPE_DEVMAP (14) and DEVMAP_HASH (25) (kernel/bpf/devmap.c: an ifindex, or struct
// bpf_devmap_val with a program fd), CPUMAP (16) (kernel/bpf/cpumap.c: a queue size, or struct
// bpf_cpumap_val), XSKMAP (17) (net/xdp/xskmap.c: an AF_XDP socket fd), SOCKMAP (15) and
// SOCKHASH (18) (net/core/sock_map.c: socket fds).
//
// bpfvm has no devices, CPUs queues or sockets to resolve these values to: the host stores
// plain numbers, programs look them up (bpf_redirect_map finds a key only when the host set
// it, as Linux finds only populated slots) and cannot write them. Socket maps are creatable so
// objects that declare them load; they stay empty (the host cannot add a socket: -EOPNOTSUPP),
// and programs cannot use sockets in userspace.
#include "maps/map_common.hpp"

namespace bpfvm::maps {
namespace {

bool array_keyed(MapType type) {
  return type == MapType::devmap || type == MapType::cpumap || type == MapType::xskmap ||
         type == MapType::sockmap;
}

bool socket_map(MapType type) { return type == MapType::sockmap || type == MapType::sockhash; }

class DeviceMap final : public Map {
 public:
  DeviceMap(const MapSpec& spec, std::shared_ptr<Map> store)
      : Map(spec), store_(std::move(store)), array_(array_keyed(spec.type)) {}

  void* lookup(const void* key) override {
    if (!in_range(key)) return nullptr;
    return store_->lookup(key);
  }
  // Linux's verifier lets programs only look these maps up (and delete from socket maps,
  // which are always empty here).
  int update(const void*, const void*, std::uint64_t) override { return -EOPNOTSUPP; }
  int erase(const void* key) override {
    if (!socket_map(type())) return -EOPNOTSUPP;
    return host_erase(key);
  }

  int host_lookup(const void* key, void* value) override {
    BPFVM_HOST_READ();
    if (socket_map(type())) return -EOPNOTSUPP;  // sock_map_lookup_sys: socket cookies
    if (!in_range(key)) return -ENOENT;
    return store_->host_lookup(key, value);
  }
  int host_update(const void* key, const void* value, std::uint64_t flags) override {
    BPFVM_HOST_WRITE();
    if (socket_map(type())) return -EOPNOTSUPP;  // no sockets in userspace
    if (flags > map_update::exist) return -EINVAL;
    if (!in_range(key)) return -E2BIG;
    return store_->host_update(key, value, flags);
  }
  int host_erase(const void* key) override {
    BPFVM_HOST_WRITE();
    if (!in_range(key)) return array_ ? -E2BIG : -ENOENT;
    return store_->host_erase(key);
  }
  // dev_map_get_next_key walks every index, set or not, as array maps do; the hash kinds
  // walk their elements.
  int get_next_key(const void* key, void* next_key) override {
    BPFVM_HOST_READ();
    if (!array_) return store_->get_next_key(key, next_key);
    return array_next_key(key, next_key, spec().max_entries);
  }

 private:
  bool in_range(const void* key) const {
    if (!array_) return true;
    std::uint32_t index;
    std::memcpy(&index, key, 4);
    return index < spec().max_entries;
  }

  std::shared_ptr<Map> store_;  // a hash map: only the keys the host set exist
  bool array_;
};

}  // namespace

Result<std::shared_ptr<Map>> make_device_map(const MapSpec& spec) {
  MapSpec store = spec;
  store.type = MapType::hash;
  store.flags = 0;
  store.name.clear();
  auto made = make_hash_map(store);
  if (!made) return made.error();
  return std::shared_ptr<Map>(std::make_shared<DeviceMap>(spec, std::move(*made)));
}

}  // namespace bpfvm::maps
