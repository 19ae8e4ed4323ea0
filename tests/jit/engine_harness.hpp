// Running one program through the interpreter and through the JIT, and comparing everything
// a run produces: r0, or the error (kind, instruction index and message), and the memory.
//
// Stack addresses differ between the engines (each has its own stack area), so error
// messages are compared with addresses near an engine's stack written relative to its top:
// "address 0x7ffd...f0 (r10-16)" becomes "address <stack-16> (r10-16)". The top is probed
// by running `r0 = r10` through the same call path.
#pragma once

#include <bpfvm/jit.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/result.hpp>
#include <bpfvm/vm.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bpfvm::jit_test {

enum class Engine { interpreter, jit };
const char* engine_name(Engine engine);

struct Outcome {
  std::optional<std::uint64_t> result;
  std::optional<Error> error;
  std::string normalized_message;  // the error's to_string(), stack addresses made relative
};

// Runs `program` (with `jit`, its compiled form, for Engine::jit) on `input`. The stack top
// is probed with the same options so messages can be normalized.
Outcome run_engine(Engine engine, const Program& program, const JitProgram* jit,
                   const RunInput& input, const RunOptions& options);

// "" when the outcomes agree, else what differs.
std::string compare_outcomes(const Outcome& interpreter, const Outcome& jit);
std::string describe(const Outcome& outcome);

// A raw run (r1 = memory, r2 = its length, packet = memory) through both engines on the same
// buffer, restored between the runs, so context addresses agree; the memory each run leaves
// is compared too.
struct RawComparison {
  Outcome interpreter;
  Outcome jit;
  std::vector<std::uint8_t> interpreter_memory;
  std::vector<std::uint8_t> jit_memory;
  std::string difference;  // "" when they agree
};
RawComparison compare_raw(const Program& program, const JitProgram& jit,
                          std::span<const std::uint8_t> memory, const RunOptions& options);

std::string hex(std::uint64_t value);

}  // namespace bpfvm::jit_test
