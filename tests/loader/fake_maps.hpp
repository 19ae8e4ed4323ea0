// Test doubles for Map, so that Object::load can be tested before (and apart from) the map
// implementations: an array-like store with one value buffer per key, map-of-maps and
// prog_array slots recorded as they are set.
#pragma once

#include <bpfvm/map.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/program.hpp>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

namespace bpfvm::testing {

// Every virtual is overridden: the base class's defaults live in the maps layer.
template <class Base>
class FakeMapOf : public Base {
 public:
  explicit FakeMapOf(const MapSpec& spec)
      : Base(spec), storage_(std::size_t{spec.value_size} * (spec.max_entries ? 1 : 0)) {}

  void* lookup(const void*) override { return storage_.empty() ? nullptr : storage_.data(); }
  int update(const void*, const void* value, std::uint64_t) override {
    std::memcpy(storage_.data(), value, storage_.size());
    return 0;
  }
  int erase(const void*) override { return -EINVAL; }
  int push(const void*, std::uint64_t) override { return -EINVAL; }
  int pop(void*) override { return -EINVAL; }
  int peek(void*) override { return -EINVAL; }
  long for_each(const std::function<long(const void*, void*)>&) override { return 0; }
  int host_lookup(const void*, void*) override { return -EINVAL; }
  int host_update(const void* key, const void* value, std::uint64_t flags) override {
    return update(key, value, flags);
  }
  int host_erase(const void*) override { return -EINVAL; }
  int host_lookup_and_erase(const void*, void*) override { return -EINVAL; }
  int get_next_key(const void*, void*) override { return -ENOENT; }
  int lookup_batch(const void*, void*, void*, void*, std::uint32_t&) override { return -EINVAL; }
  int update_batch(const void*, const void*, std::uint32_t&, std::uint64_t) override {
    return -EINVAL;
  }
  void* direct_value() override { return storage_.empty() ? nullptr : storage_.data(); }

  std::vector<std::uint8_t> storage_;
};

using FakeMap = FakeMapOf<Map>;

class FakeMapOfMaps : public FakeMapOf<MapOfMaps> {
 public:
  using FakeMapOf::FakeMapOf;
  int set(const void* key, std::shared_ptr<Map> inner) override {
    std::uint32_t index = 0;
    std::memcpy(&index, key, sizeof index);
    if (index >= spec().max_entries) return -E2BIG;
    slots[index] = std::move(inner);
    return 0;
  }
  std::map<std::uint32_t, std::shared_ptr<Map>> slots;
};

class FakeProgramArray : public FakeMapOf<ProgramArrayMap> {
 public:
  using FakeMapOf::FakeMapOf;
  int set(std::uint32_t index, std::shared_ptr<const Program> program) override {
    if (index >= spec().max_entries) return -E2BIG;
    slots[index] = std::move(program);
    return 0;
  }
  const Program* get(std::uint32_t index) const override {
    auto it = slots.find(index);
    return it == slots.end() ? nullptr : it->second.get();
  }
  std::map<std::uint32_t, std::shared_ptr<const Program>> slots;
};

// A MapFactory that records what it was asked to create.
struct FakeMapFactory {
  std::vector<ObjectMap> created;

  MapFactory factory() {
    return [this](const ObjectMap& map) -> Result<std::shared_ptr<Map>> {
      created.push_back(map);
      if (map.spec.type == MapType::array_of_maps || map.spec.type == MapType::hash_of_maps)
        return std::shared_ptr<Map>(std::make_shared<FakeMapOfMaps>(map.spec));
      if (map.spec.type == MapType::prog_array)
        return std::shared_ptr<Map>(std::make_shared<FakeProgramArray>(map.spec));
      return std::shared_ptr<Map>(std::make_shared<FakeMap>(map.spec));
    };
  }
};

}  // namespace bpfvm::testing
