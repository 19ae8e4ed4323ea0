// Random eBPF programs that the Linux verifier accepts and that end the same way on every
// engine, for differential tests (bpfvm vs the kernel, interpreter vs JIT).
//
// Every program has the same frame:
//   prologue  r0-r9 get random values (boundary values, random 64-bit via lddw; r1, the
//             context pointer, is overwritten), then every byte of the stack window
//             [r10 - stack_bytes, r10) is written, so no run ever reads uninitialised memory;
//   body      random instructions: ALU of both widths, endianness, lddw, loads, stores and
//             atomics on the stack window at constant, size-aligned offsets, and forward
//             conditional and unconditional jumps in structured shapes (if, if-else, and
//             early jumps to the end of an enclosing block), so there are no loops and no
//             unreachable instructions (the kernel rejects both);
//   fold      r1-r9 and every stack word are mixed into r0 (r0 = r0 * odd + x), so a wrong
//             value anywhere shows in the result;
//   exit      the program's only exit, its last instruction. Every jump lands at or
//             before the fold, so a harness may replace this exit with an epilogue of its
//             own (for example, one that stores r0 where the host can read all 64 bits).
//
// Generation is a pure function of (options, seed), identical on every platform and
// standard library: the generator uses its own random number generator.
#pragma once

#include <bpfvm/insn.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bpfvm {
struct OpcodeInfo;
}

namespace bpfvm::test {

// xoshiro256** seeded through SplitMix64: small, fast, and the same everywhere (unlike
// the standard distributions, whose output differs between standard libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  // Uniform in [0, bound); bound > 0.
  std::uint64_t below(std::uint64_t bound);
  // Uniform in [low, high].
  std::int64_t between(std::int64_t low, std::int64_t high);
  // True with probability percent / 100.
  bool chance(unsigned percent) { return below(100) < percent; }

 private:
  std::uint64_t state_[4];
};

struct RandomProgramOptions {
  // Length of the random body in instruction slots (lddw counts two). The prologue
  // (about 10 + stack_bytes / 8 slots) and the fold (18 + 3 * stack_bytes / 8) come on top.
  std::size_t min_body_insns = 20;
  std::size_t max_body_insns = 200;

  // The stack window the program initialises and then uses: [r10 - stack_bytes, r10).
  // A multiple of 8 in [8, 512].
  std::size_t stack_bytes = 64;

  // Highest instruction set version to use (RFC 9669 section 2.4; Linux -mcpu=vN): 4 adds
  // sdiv/smod, movsx, sign-extending loads, bswap and gotol (ja32).
  unsigned cpu_version = 4;

  // Relative weights of what the body's next element is; 0 turns a kind off.
  unsigned weight_alu = 40;       // AluImm, AluReg, AluUnary, MovSx rows, both widths
  unsigned weight_endian = 4;     // le, be, bswap
  unsigned weight_lddw = 3;       // lddw dst, imm64
  unsigned weight_load = 10;      // ldx of every size, sign-extending ones included
  unsigned weight_store = 10;     // st and stx of every size
  unsigned weight_atomic = 8;     // every atomic operation, 32 and 64-bit
  unsigned weight_edge_case = 4;  // division by zero, INT_MIN / -1 set up on purpose
  unsigned weight_branch = 12;    // if, if-else, conditional jump to a block's end
  unsigned weight_nop_jump = 1;   // ja +0, ja32 +0

  // Bounds on branching. Every conditional jump on a value the verifier does not know
  // doubles the paths it may walk; these keep programs far below its limits.
  unsigned max_conditional_jumps = 24;
  unsigned max_branch_depth = 4;

  // Mix r1-r9 and the stack window into r0 before the exit.
  bool fold_state_into_r0 = true;
};

struct RandomProgram {
  std::uint64_t seed = 0;
  std::vector<Insn> insns;     // the last instruction is the only exit
  std::size_t body_begin = 0;  // first slot of the random body
  std::size_t fold_begin = 0;  // first slot after it: the fold, or the exit without one
};

class RandomProgramGenerator {
 public:
  explicit RandomProgramGenerator(RandomProgramOptions options = {});

  // The program for `seed`; the same seed and options always give the same program.
  RandomProgram generate(std::uint64_t seed) const;

  const RandomProgramOptions& options() const { return options_; }

 private:
  class Builder;

  RandomProgramOptions options_;
  // Opcode-table rows by the role the generator gives them, filtered by cpu_version.
  std::vector<const OpcodeInfo*> alu_rows_, endian_rows_, load_rows_, store_imm_rows_,
      store_reg_rows_, atomic_rows_, cond_jump_rows_, div_reg_rows_;
};

// The seeds a differential corpus runs: first, first + 1, ..., first + count - 1. A fixed
// list, so that a failure names the seed that reproduces it. The default is what every CI
// run covers: 5,000 programs, a few seconds against the kernel.
struct SeedRange {
  std::uint64_t first = 0;
  std::size_t count = 0;
  std::uint64_t seed(std::size_t index) const { return first + index; }
};
inline constexpr SeedRange default_differential_seeds{0x6b646966'00000000ULL, 5000};

// `fallback`, unless the environment says otherwise: BPFVM_RANDOM_SEED=S runs from seed S
// (decimal or 0x-hex) and BPFVM_RANDOM_COUNT=N runs N programs (with a seed alone: 1).
SeedRange seeds_from_environment(SeedRange fallback = default_differential_seeds);

// One line per instruction slot: index, the fields (opcode, dst, src, offset, imm) and the
// instruction in LLVM syntax; lddw's second slot shows its fields only.
std::string dump_insns(std::span<const Insn> insns);

}  // namespace bpfvm::test
