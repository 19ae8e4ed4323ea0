// libFuzzer target: arbitrary bytes -> memory + program -> Program::load -> JIT compile ->
// checked run with a budget. Whatever the input, compilation succeeds (or fails with an
// error, never a crash) and the run ends with a result or a clean error: no crash, no
// sanitizer report, no access outside the memory.
//
// JIT code is not instrumented by AddressSanitizer, so the memory sits between two
// inaccessible guard pages instead, once against the upper guard and once against the lower
// one: any access a bounds check should have refused faults at once. The buffer helper 1
// grants is guarded the same way.
//
// Flags (byte 1 of the input, fuzz/fuzz_input.hpp): bit 0 read-only context, bit 1 blinded
// constants. Unchecked code trusts the program, so only checked code is fuzzed.
//
// With BPFVM_FUZZ_DIFFERENTIAL=1 the interpreter runs each input too and both engines must
// end the same way (r0, or error kind and instruction index). A program may read stack bytes
// it never wrote, or compute with r10, and both differ between the engines' stacks: so each
// engine runs twice, the second time with its stack elsewhere and filled with another
// pattern, and inputs whose runs depend on that are not compared.
#include "fuzz_helpers.hpp"
#include "fuzz_input.hpp"
#include "run_invariants.hpp"

#include <bpfvm/helper.hpp>
#include <bpfvm/jit.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/vm.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using namespace bpfvm;

constexpr std::uint8_t flag_blind_constants = 0x02;

[[noreturn]] void invariant_broken(const char* what) {
  std::fprintf(stderr, "jit_fuzz: invariant broken: %s\n", what);
  std::abort();
}

// One read-write page between two inaccessible ones.
class GuardedPage {
 public:
  GuardedPage() {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* mapping = mmap(nullptr, 3 * page_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) invariant_broken("cannot map guard pages");
    base_ = static_cast<std::uint8_t*>(mapping);
    if (mprotect(base_ + page_, page_, PROT_READ | PROT_WRITE) != 0)
      invariant_broken("cannot open the middle page");
  }
  // `size` bytes flush against the upper guard (at_end) or the lower one.
  std::uint8_t* place(std::size_t size, bool at_end) const {
    return at_end ? base_ + 2 * page_ - size : base_ + page_;
  }

 private:
  std::size_t page_ = 0;
  std::uint8_t* base_ = nullptr;
};

GuardedPage& memory_page() {
  static GuardedPage page;
  return page;
}
GuardedPage& granted_page() {
  static GuardedPage page;
  return page;
}
struct Outcome {
  bool ok = false;
  std::uint64_t value = 0;
  Error::Kind kind = Error::Kind::invalid_program;
  std::size_t index = 0;
};

Outcome check(const Result<std::uint64_t>& result, const Program& program) {
  if (result.ok()) return {true, *result};
  const Error& error = result.error();
  if (const char* broken = fuzz::broken_run_error(error, program.size())) invariant_broken(broken);
  return {false, 0, error.kind, *error.insn_index};
}

// Fills native stack below the caller with `pattern`, where the next engine call will put
// its eBPF stack.
[[gnu::noinline]] void fill_stack(std::uint8_t pattern) {
  volatile std::uint8_t area[32768];
  for (std::size_t i = 0; i < sizeof area; ++i) area[i] = pattern;
}

// Calls `run` with the native stack `shift` bytes deeper than it would be.
template <class Run>
[[gnu::noinline]] Outcome with_stack_shifted(std::size_t shift, Run&& run) {
  auto* pad = static_cast<volatile std::uint8_t*>(__builtin_alloca(shift + 16));
  pad[0] = 0;
  Outcome outcome = run();
  pad[shift] = 0;  // keeps the padding alive across the call
  return outcome;
}

bool same(const Outcome& a, const Outcome& b) {
  return a.ok == b.ok && a.value == b.value && a.kind == b.kind && a.index == b.index;
}

RunInput input_over(std::uint8_t* memory, std::size_t size, const fuzz::FuzzInput& input) {
  RunInput run = RunInput::raw(std::span<std::uint8_t>(memory, size));
  run.context_writable = (input.flags & fuzz::flag_read_only_context) == 0;
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::FuzzInput input = fuzz::split_input(data, size);
  if (input.program.empty()) return 0;
  auto program = Program::load_bytes(input.program, LoadOptions{.helpers = &fuzz::fuzz_helpers()});
  if (!program) return 0;

  JitOptions options;
  options.count_instructions = true;
  options.blind_constants = (input.flags & flag_blind_constants) != 0;
  auto jit = JitProgram::compile(*program, options);
  if (!jit) {
    if (jit.error().kind == Error::Kind::invalid_program)
      invariant_broken("the JIT refused a loaded program");
    return 0;  // out of memory and the like
  }

  RunOptions run;
  run.memory_mode = MemoryMode::checked;
  run.budget = 10000;
  const std::size_t n = input.memory.size();
  for (bool at_end : {true, false}) {
    std::uint8_t* memory = memory_page().place(n, at_end);
    fuzz::granted_buffer = granted_page().place(fuzz::granted_size, at_end);
    std::memset(fuzz::granted_buffer, 0x5a, fuzz::granted_size);
    if (n != 0) std::memcpy(memory, input.memory.data(), n);
    check(jit->run(input_over(n ? memory : nullptr, n, input), run), *program);
  }

  static const bool differential = [] {
    const char* value = std::getenv("BPFVM_FUZZ_DIFFERENTIAL");
    return value != nullptr && value[0] == '1';
  }();
  if (differential) {
    // Each engine twice, the second time deeper and over another pattern; the same buffers.
    auto run_engine = [&](bool use_jit, bool moved) {
      return with_stack_shifted(moved ? 4096 + 48 : 0, [&] {
        std::uint8_t* memory = memory_page().place(n, true);
        fuzz::granted_buffer = granted_page().place(fuzz::granted_size, true);
        std::memset(fuzz::granted_buffer, 0x5a, fuzz::granted_size);
        if (n != 0) std::memcpy(memory, input.memory.data(), n);
        RunInput run_input = input_over(n ? memory : nullptr, n, input);
        fill_stack(moved ? 0xff : 0x00);
        return check(use_jit ? jit->run(run_input, run) : interpret(*program, run_input, run),
                     *program);
      });
    };
    Outcome interpreted = run_engine(false, false);
    if (!same(interpreted, run_engine(false, true))) return 0;  // depends on where the stack is
    Outcome jitted = run_engine(true, false);
    if (!same(jitted, run_engine(true, true))) return 0;
    if (!same(interpreted, jitted))
      invariant_broken("the JIT and the interpreter end the same input differently");
  }
  return 0;
}
