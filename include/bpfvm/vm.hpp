// Running a loaded program.
#pragma once

#include <bpfvm/program.hpp>
#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace bpfvm {

enum class MemoryMode {
  // Every load, store and atomic is checked against the regions the program may touch;
  // a violation ends the run with an out_of_bounds error. The default.
  checked,
  // No checks: only for programs a verifier has proven safe, and for benchmarks.
  unchecked,
};

struct MemoryRegion {
  const void* base = nullptr;
  std::size_t size = 0;
  bool writable = false;
};

// What the program starts with.
struct RunInput {
  // r1 at entry; admitted in checked mode as [context, context + context_size).
  void* context = nullptr;
  std::size_t context_size = 0;
  bool context_writable = true;
  // r2 at entry.
  std::uint64_t r2 = 0;
  // Where LD_ABS / LD_IND read from (Linux: the packet of the socket buffer).
  std::span<const std::uint8_t> packet;

  // A raw program, as the conformance suite runs them: r1 points at `memory`, r2 holds its
  // length, and LD_ABS/LD_IND read from the same bytes.
  static RunInput raw(std::span<std::uint8_t> memory);
};

struct RunOptions {
  MemoryMode memory_mode = MemoryMode::checked;
  // End the run with budget_exhausted after this many executed instructions.
  std::optional<std::uint64_t> budget;
  // More memory the program may touch in checked mode (host buffers, shared maps).
  std::vector<MemoryRegion> regions;
};

// Runs `program` in the interpreter and returns r0, or the error that ended the run.
Result<std::uint64_t> interpret(const Program& program, const RunInput& input,
                                const RunOptions& options = {});

}  // namespace bpfvm
