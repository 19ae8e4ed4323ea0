// The maps without keys (bloom filter, queue, stack): programs use push, pop and peek, and
// the host's bpf(2) commands map onto them as Linux's map_lookup_elem and map_update_elem do
// for these types (lookup is peek, update is push). The keyed operations fail with the error
// each type's Linux map_ops return (`keyed_error`); batches are not implemented by any of
// them in Linux (-ENOTSUPP).
#pragma once

#include "maps/map_common.hpp"

namespace bpfvm::maps {

class KeylessMap : public Map {
 public:
  KeylessMap(const MapSpec& spec, int keyed_error) : Map(spec), keyed_error_(keyed_error) {}

  void* lookup(const void*) override { return nullptr; }
  int update(const void*, const void*, std::uint64_t) override { return -EINVAL; }
  int erase(const void*) override { return keyed_error_; }
  int get_next_key(const void*, void*) override {
    BPFVM_HOST_READ();
    return keyed_error_;
  }
  long for_each(const std::function<long(const void*, void*)>&) override { return -EINVAL; }

  int host_lookup(const void*, void* value) override {
    BPFVM_HOST_READ();
    return peek(value);
  }
  int host_update(const void*, const void* value, std::uint64_t flags) override {
    BPFVM_HOST_WRITE();
    return push(value, flags);
  }
  int host_erase(const void*) override {
    BPFVM_HOST_WRITE();
    return keyed_error_;
  }
  int lookup_batch(const void*, void*, void*, void*, std::uint32_t& count) override {
    count = 0;
    return -kENOTSUPP;
  }
  int update_batch(const void*, const void*, std::uint32_t& count, std::uint64_t) override {
    count = 0;
    return -kENOTSUPP;
  }

 private:
  const int keyed_error_;
};

}  // namespace bpfvm::maps
