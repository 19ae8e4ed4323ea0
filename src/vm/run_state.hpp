// Per-run state shared by the interpreter and the helpers it calls: the regions checked
// mode admits, and requests helpers make of the run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::detail {

struct Region {
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;  // one past the last byte
  bool writable = false;
};

struct RunState {
  // The stack frames in use: [stack_begin, stack_end). Moves on every local call and return.
  std::uintptr_t stack_begin = 0;
  std::uintptr_t stack_end = 0;
  // Context, packet, host regions from RunOptions, and regions helpers granted.
  std::vector<Region> regions;

  bool end_requested = false;
  std::optional<std::string> helper_failure;

  // Whether [address, address + size) lies inside one admitted region (and, for a store,
  // a writable one). Overflowing address + size is never admitted.
  bool admits(std::uint64_t address, std::size_t size, bool write) const {
    std::uint64_t last = address + size - 1;
    if (last < address) return false;
    if (address >= stack_begin && last < stack_end) return true;
    for (const Region& region : regions) {
      if (address >= region.begin && last < region.end && (region.writable || !write))
        return true;
    }
    return false;
  }
};

}  // namespace bpfvm::detail
