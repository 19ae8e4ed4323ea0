// Stand-in for the out-of-line members of bpfvm::Map (its vtable and type_info come with
// them), linked into the loader tests only while the maps layer (src/maps) is absent from the
// tree; tests/loader/CMakeLists.txt drops it as soon as src/maps exists. The loader's tests use
// test-double maps (fake_maps.hpp) that override every one of these.
#include <bpfvm/map.hpp>

#include <cerrno>

namespace bpfvm {

int Map::push(const void*, std::uint64_t) { return -EINVAL; }
int Map::pop(void*) { return -EINVAL; }
int Map::peek(void*) { return -EINVAL; }
long Map::for_each(const std::function<long(const void*, void*)>&) { return -EINVAL; }
int Map::host_lookup(const void*, void*) { return -EINVAL; }
int Map::host_update(const void*, const void*, std::uint64_t) { return -EINVAL; }
int Map::host_erase(const void*) { return -EINVAL; }
int Map::host_lookup_and_erase(const void*, void*) { return -EINVAL; }
int Map::lookup_batch(const void*, void*, void*, void*, std::uint32_t&) { return -EINVAL; }
int Map::update_batch(const void*, const void*, std::uint32_t&, std::uint64_t) { return -EINVAL; }

}  // namespace bpfvm
