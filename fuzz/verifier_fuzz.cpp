// libFuzzer target: arbitrary bytes -> program + verifier options -> verify. Whatever the
// input, the verifier must return a verdict: no crash, no sanitizer report, never more
// instructions processed than the budget allows, never a verification of more than 5 s of
// processor time. Every program it accepts is then loaded and interpreted in checked mode on
// pseudo-random memory, twice: checked mode must find nothing. An out-of-bounds access, a
// helper refusing a pointer the verifier let through, or too deep a call chain means the
// verifier was unsound, and the harness aborts. Input layout: fuzz/verifier_input.hpp.
#include "verifier_input.hpp"

#include "verifier/case_helpers.hpp"

#include <bpfvm/helper.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/verifier.hpp>
#include <bpfvm/vm.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>

namespace {

using namespace bpfvm;
using u64 = std::uint64_t;

[[noreturn]] void unsound(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "verifier_fuzz: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::abort();
}

// The verifier cases' helpers (tests/verifier/case_helpers.hpp), so that fuzzed programs reach
// the argument checks with the helper ids the seeds (the cases) call. Each one checks, through
// checked mode, that the memory it was given is there: a refusal fails the run
// (Error::Kind::helper), which the harness treats as unsoundness.
const HelperRegistry& helpers() {
  static const HelperRegistry registry = verifier::testing::case_helpers();
  return registry;
}

void run_checked(const Program& program, const fuzz::VerifierInput& input, unsigned seed) {
  // Raw memory of unknown length: any length will do, as the verifier assumed none.
  std::mt19937 random(seed);
  const std::size_t n = input.context_size ? *input.context_size : random() % 48;
  // An exact-size heap block: AddressSanitizer sees any access past it.
  std::unique_ptr<std::uint8_t[]> memory(n == 0 ? nullptr : new std::uint8_t[n]);
  for (std::size_t i = 0; i < n; ++i) memory[i] = static_cast<std::uint8_t>(random());
  RunInput run_input = RunInput::raw(std::span<std::uint8_t>(memory.get(), n));
  run_input.context_writable = input.context_writable;
  RunOptions options;
  options.memory_mode = MemoryMode::checked;
  options.budget = 200'000;
  auto result = interpret(program, run_input, options);
  if (result.ok()) return;
  const Error& error = result.error();
  // A verified program may still loop longer than this run's budget.
  if (error.kind == Error::Kind::budget_exhausted) return;
  unsound("a program the verifier accepted failed in checked mode", error.to_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::VerifierInput input = fuzz::split_verifier_input(data, size);
  if (input.program.empty()) return 0;
  std::vector<Insn> insns(input.program.size() / 8);
  std::memcpy(insns.data(), input.program.data(), input.program.size());

  verifier::VerifyOptions options;
  options.context_size = input.context_size;
  options.context_writable = input.context_writable;
  options.helpers = &helpers();
  options.budget = input.budget;
  // Processor time, not wall time: the machine may be busy with other work.
  const std::clock_t start = std::clock();
  const verifier::VerifyResult result = verifier::verify(insns, options);
  const double seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  // verify counts the instruction that crosses the budget, then stops.
  if (result.stats.insns_processed > input.budget + 1)
    unsound("the verifier processed more instructions than its budget",
            std::to_string(result.stats.insns_processed));
  if (seconds > 5) unsound("one verification took over 5 seconds of processor time");
  if (!result.ok()) {
    if (result.error->reason.empty()) unsound("a rejection without a reason");
    if (result.error->insn > insns.size()) unsound("a rejection past the program's end");
    return 0;
  }
  // The verifier, like Linux, never looks at instructions behind a branch it proves never
  // taken. Program::load binds a call of an unknown helper id there to one that fails the run
  // if made, so an accepted program reaching such a call shows an unsound verdict too.
  // Programs it refuses for other reasons cannot run at all.
  auto program = Program::load(insns, LoadOptions{.helpers = &helpers()});
  if (!program) return 0;
  run_checked(*program, input, input.memory_seed);
  run_checked(*program, input, input.memory_seed + 1000u);
  return 0;
}
