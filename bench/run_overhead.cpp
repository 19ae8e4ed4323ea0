// The fixed cost of one run, apart from the program: a two-instruction program (`mov r0, 1;
// exit`) run again and again through interpret() (unchecked and checked), JitProgram::run()
// (unchecked and checked) and JitProgram::run_direct(). Prints the best of several samples per
// call, in thread CPU time. Not a test: timing never fails.
//
//   run_overhead_bench [--calls N]
#include <bpfvm/assembler.hpp>
#include <bpfvm/jit.hpp>
#include <bpfvm/vm.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>

namespace {

double thread_ns() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

// Best time per call over `samples` samples of `calls` calls; fails loudly on a wrong r0.
double time_calls(int samples, int calls, const std::function<std::uint64_t()>& call) {
  double best = 1e300;
  for (int s = 0; s < samples; ++s) {
    std::uint64_t sum = 0;
    double start = thread_ns();
    for (int i = 0; i < calls; ++i) sum += call();
    best = std::min(best, (thread_ns() - start) / calls);
    if (sum != static_cast<std::uint64_t>(calls)) {
      fmt::print(stderr, "wrong result\n");
      std::exit(1);
    }
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bpfvm;
  int calls = 1'000'000;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[i + 1]);
  auto insns = assemble("mov %r0, 1\nexit\n");
  auto program = Program::load(*insns);
  if (!program) return 1;
  std::uint8_t memory[64] = {};
  const RunInput input = RunInput::raw(memory);
  const int samples = 7;
  fmt::print("fixed cost per run (best of {} samples of {} calls, thread CPU time)\n", samples,
             calls);
  for (MemoryMode mode : {MemoryMode::unchecked, MemoryMode::checked}) {
    const char* name = mode == MemoryMode::checked ? "checked" : "unchecked";
    RunOptions options;
    options.memory_mode = mode;
    double ns = time_calls(samples, calls, [&] { return *interpret(*program, input, options); });
    fmt::print("  interpret()            {:<9} {:6.1f} ns\n", name, ns);
  }
  if (!jit_supported()) return 0;
  for (MemoryMode mode : {MemoryMode::unchecked, MemoryMode::checked}) {
    const char* name = mode == MemoryMode::checked ? "checked" : "unchecked";
    JitOptions jit_options;
    jit_options.memory_mode = mode;
    auto jit = JitProgram::compile(*program, jit_options);
    if (!jit) return 1;
    RunOptions options;
    options.memory_mode = mode;
    double ns = time_calls(samples, calls, [&] { return *jit->run(input, options); });
    fmt::print("  JitProgram::run()      {:<9} {:6.1f} ns\n", name, ns);
    if (jit->direct_supported()) {
      ns = time_calls(samples, calls, [&] { return jit->run_direct(input); });
      fmt::print("  JitProgram::run_direct()         {:6.1f} ns\n", ns);
    }
  }
  return 0;
}
