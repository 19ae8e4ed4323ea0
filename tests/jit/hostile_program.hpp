// Random programs for interpreter-vs-JIT differential runs, beyond what a verifier accepts:
// helper calls (pure, register-scrambling, region-granting, memory-reading and -writing,
// program-ending, failing), callx with known and unknown ids, local calls (nested,
// recursive past the depth limit, with pointers into the caller's frame), loops, LD_ABS /
// LD_IND, host regions (writable and read-only), and checked-mode violations of every kind
// (out of bounds, straddling, read-only, misaligned atomics, null), with and without budgets.
//
// Both engines must agree on every program, so a program never lets a value depend on
// where an engine keeps its stack: the generator types every register (unknown, scalar,
// stack pointer, context pointer, host pointer) and never reads a stack pointer as a value
// (it is only a memory base, adjusted by constants, or passed to a helper or a function
// that treats it the same way), and never loads stack bytes it has not initialised.
// Context and host addresses are the same for both engines, so they may mix freely.
//
// Reproduce one program: BPFVM_RANDOM_SEED=<seed> ./jit_differential_test
#pragma once

#include "support/random_program.hpp"

#include <bpfvm/helper.hpp>
#include <bpfvm/insn.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace bpfvm::jit_test {

// Helper ids (test_helpers() registers them).
namespace helper_id {
inline constexpr std::int32_t mix = 1;         // hash of r1-r5
inline constexpr std::int32_t scramble = 2;    // r1 * K, and clobbers every caller-saved register
inline constexpr std::int32_t lookup = 3;      // grants a host buffer by key and returns it
inline constexpr std::int32_t read_bytes = 4;  // hash of [r1, r1 + r2) if accessible, else -EFAULT
inline constexpr std::int32_t end_if_zero =
    5;                                      // ends the program when r1 is 0 (the suite's unwind)
inline constexpr std::int32_t fail_if = 6;  // fails the run when r1 is 0x42
inline constexpr std::int32_t write_bytes = 7;  // fills [r1, r1 + r2) with r3 if writable
inline constexpr std::int32_t aligned_sse = 8;  // r1 + r2 through 16-byte aligned SSE stack slots
inline constexpr std::int32_t unknown = 99;     // registered nowhere: callx fails
}  // namespace helper_id

// The memory a run gets, at addresses fixed for the whole test so generated programs can
// name them: the context (r1, also the packet), two regions given in RunOptions::regions and
// four buffers `lookup` grants (the first two writable).
struct HostMemory {
  static constexpr std::size_t context_capacity = 256;
  static constexpr std::size_t region_size = 128;
  static constexpr std::size_t granted_size = 64;
  static constexpr int granted_count = 4;

  alignas(16) std::array<std::uint8_t, context_capacity> context{};
  alignas(16) std::array<std::uint8_t, region_size> writable{};
  alignas(16) std::array<std::uint8_t, region_size> read_only{};
  alignas(16) std::array<std::array<std::uint8_t, granted_size>, granted_count> granted{};

  // Every byte, for comparing what runs leave behind.
  std::vector<std::uint8_t> snapshot() const;
  void restore(const std::vector<std::uint8_t>& bytes);
  void fill(std::uint64_t seed);
};

HelperRegistry test_helpers(HostMemory& memory);

struct HostileProgram {
  std::uint64_t seed = 0;
  std::vector<Insn> insns;
  std::size_t context_size = 0;
  bool context_writable = true;
  bool with_regions = true;  // RunOptions::regions holds `writable` and `read_only`
  std::optional<std::uint64_t> budget;
  // Calls read_bytes or write_bytes, whose answers depend on the memory mode (checked mode
  // admits more): such a program's unchecked run may take paths its checked run did not.
  bool asks_accessible = false;
  // Breaks checked mode's rules on purpose; the others never access memory out of bounds.
  bool breaks_rules = false;
};

HostileProgram generate_hostile_program(std::uint64_t seed, const HostMemory& memory);

}  // namespace bpfvm::jit_test
