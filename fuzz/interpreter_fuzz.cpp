// libFuzzer target: arbitrary bytes -> memory + program -> Program::load -> interpret in
// checked mode with a budget. Whatever the input, the run must end with a result or a clean
// error: no crash, no sanitizer report, no access outside the memory (the memory is an
// exact-size heap block so AddressSanitizer sees any overflow), and run-time errors carry an
// instruction index inside the program.
//
// Each input also runs a second time over the same memory block, and both runs must agree:
// checked mode starts every frame zeroed, so nothing of the first run may show in the second.
// BPFVM_FUZZ_DETERMINISM=0 in the environment turns that check off.
// Input layout: fuzz/fuzz_input.hpp.
#include "fuzz_helpers.hpp"
#include "fuzz_input.hpp"
#include "run_invariants.hpp"

#include <bpfvm/helper.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/vm.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace {

using namespace bpfvm;

// Where helper 1's buffer lives for this harness.
thread_local std::array<std::uint8_t, fuzz::granted_size> granted_array{};

struct Outcome {
  bool ok = false;
  std::uint64_t value = 0;
  Error::Kind kind = Error::Kind::invalid_program;
};

[[noreturn]] void invariant_broken(const char* what) {
  std::fprintf(stderr, "interpreter_fuzz: invariant broken: %s\n", what);
  std::abort();
}

Outcome run_once(const Program& program, const fuzz::FuzzInput& input, std::uint8_t* memory) {
  std::size_t n = input.memory.size();
  if (n != 0) std::memcpy(memory, input.memory.data(), n);
  RunInput run_input = RunInput::raw(std::span<std::uint8_t>(memory, n));
  run_input.context_writable = (input.flags & fuzz::flag_read_only_context) == 0;
  granted_array.fill(0x5a);
  fuzz::granted_buffer = granted_array.data();

  RunOptions options;
  options.memory_mode = MemoryMode::checked;
  options.budget = 10000;
  auto result = interpret(program, run_input, options);
  if (result.ok()) return {true, *result, Error::Kind::invalid_program};

  const Error& error = result.error();
  if (const char* broken = fuzz::broken_run_error(error, program.size())) invariant_broken(broken);
  return {false, 0, error.kind};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::FuzzInput input = fuzz::split_input(data, size);
  if (input.program.empty()) return 0;
  auto program = Program::load_bytes(input.program, LoadOptions{.helpers = &fuzz::fuzz_helpers()});
  if (!program) {
    if (program.error().kind != Error::Kind::invalid_program)
      invariant_broken("Program::load failed with a kind other than invalid_program");
    return 0;
  }
  // An exact-size heap block: any byte read or written past it is an AddressSanitizer report.
  std::size_t n = input.memory.size();
  std::unique_ptr<std::uint8_t[]> memory(n == 0 ? nullptr : new std::uint8_t[n]);
  Outcome first = run_once(*program, input, memory.get());
  static const bool check_determinism = [] {
    const char* value = std::getenv("BPFVM_FUZZ_DETERMINISM");
    return value == nullptr || value[0] != '0';
  }();
  if (check_determinism) {
    Outcome second = run_once(*program, input, memory.get());
    if (first.ok != second.ok || first.value != second.value || first.kind != second.kind)
      invariant_broken("two runs of the same program on the same input differ");
  }
  return 0;
}
