// What each benchmark program is given and what it must return, independently of how the
// program computes it: the runner checks the native twin and both interpreter modes against
// these reference answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace bpfvm::bench {

struct Workload {
  std::string_view name;         // matches the file bench/programs/<name>.c
  std::string_view description;  // one line, for --list and the docs
  std::size_t memory_size = 0;   // bytes of the buffer passed as r1 (length in r2)
  // The program writes its input (the sort): the memory is restored before every call,
  // outside the timed region.
  bool mutates_input = false;
  // Fills the buffer deterministically (same bytes on every run and machine).
  void (*prepare)(std::span<std::uint8_t> memory) = nullptr;
  // The expected r0 for the prepared buffer, computed in plain C++.
  std::uint64_t (*expected)(std::span<const std::uint8_t> memory) = nullptr;
};

std::span<const Workload> workloads();
const Workload* find_workload(std::string_view name);

}  // namespace bpfvm::bench
