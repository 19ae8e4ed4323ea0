// The kernel side of the object differential test: libbpf opens and loads a clang-built BPF
// object into the running kernel, runs its programs with BPF_PROG_TEST_RUN and reads its maps
// back, so the test can compare bpfvm with Linux on the same object and packets.
#pragma once

#include "support/kernel_bpf.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct bpf_object;

namespace bpfvm::test::kernel {

// One key and its value as BPF_MAP_LOOKUP_ELEM gives them (per-CPU maps: one value per
// possible CPU, each padded to 8 bytes).
struct MapEntry {
  std::vector<std::uint8_t> key;
  std::vector<std::uint8_t> value;
};

class KernelObject {
 public:
  // bpf_object__open_file + bpf_object__load. The error carries libbpf's messages.
  static SysResult<KernelObject> load(const std::string& path);

  // BPF_PROG_TEST_RUN of the program named `program` (its function name) on `packet`.
  SysResult<TestRunOutput> run(const std::string& program, std::span<const std::uint8_t> packet,
                               std::uint32_t repeat = 1) const;

  // The maps libbpf created, by name (global data maps are "<object prefix>.bss" and so on).
  std::vector<std::string> map_names() const;

  // Every entry of the map named `map` (BPF_MAP_GET_NEXT_KEY + LOOKUP), in the kernel's order.
  SysResult<std::vector<MapEntry>> entries(const std::string& map) const;

  // Every record now in the ring buffer map named `map`, consumed in order.
  SysResult<std::vector<std::vector<std::uint8_t>>> ring_records(const std::string& map) const;

 private:
  struct Closer {
    void operator()(bpf_object* object) const;
  };
  explicit KernelObject(bpf_object* object) : object_(object) {}
  std::unique_ptr<bpf_object, Closer> object_;
};

}  // namespace bpfvm::test::kernel
