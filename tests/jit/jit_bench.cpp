// jit-bench: the JIT on the benchmark programs of bench/ (their bytecode, native twins and
// workloads), in one run: native, interpreter and JIT (unchecked and checked), as ratios to
// native, plus compile time per instruction. A measurement, not a test: it never fails on
// timing (only when an engine returns a wrong answer).
//
//   jit-bench [--samples N] [--min-sample-ms X] [--only name]
//
// Numbers are best-of-N thread CPU time, so other processes on a shared machine disturb
// them less.
#include "registry.hpp"
#include "workloads.hpp"

#include "jit/hostile_program.hpp"
#include "support/random_program.hpp"

#include <bpfvm/jit.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/vm.hpp>

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace bpfvm;

double cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

[[noreturn]] void fail(const std::string& message) {
  fmt::print(stderr, "jit-bench: FAILED: {}\n", message);
  std::exit(1);
}

enum Column { native, interp_unchecked, interp_checked, jit_unchecked, jit_checked, columns };
constexpr const char* column_names[columns] = {"native", "interp-u", "interp-c", "jit-u", "jit-c"};

struct Options {
  int samples = 15;
  double min_sample_ms = 20;
  std::string only;
};

class Runner {
 public:
  Runner(const bench::Workload& workload, const bench::BuiltProgram& built, const Options& options)
      : workload_(workload),
        built_(built),
        options_(options),
        pristine_(workload.memory_size),
        memory_(workload.memory_size) {
    workload.prepare(pristine_);
    expected_ = workload.expected(pristine_);
    auto program = Program::load_bytes(built.bytecode);
    if (!program) fail(std::string(built.name) + ": " + program.error().to_string());
    program_.emplace(std::move(*program));
    for (MemoryMode mode : {MemoryMode::unchecked, MemoryMode::checked}) {
      JitOptions jit_options;
      jit_options.memory_mode = mode;
      auto jit = JitProgram::compile(*program_, jit_options);
      if (!jit) fail(std::string(built.name) + ": " + jit.error().to_string());
      jit_[mode == MemoryMode::checked].emplace(std::move(*jit));
    }
  }

  std::uint64_t call(Column column) {
    if (column == native) return built_.native(memory_.data(), memory_.size());
    RunOptions options;
    options.memory_mode = column == interp_checked || column == jit_checked ? MemoryMode::checked
                                                                            : MemoryMode::unchecked;
    Result<std::uint64_t> r =
        column == interp_unchecked || column == interp_checked
            ? interpret(*program_, RunInput::raw(memory_), options)
            : jit_[column == jit_checked]->run(RunInput::raw(memory_), options);
    if (!r)
      fail(fmt::format("{}: {}: {}", built_.name, column_names[column], r.error().to_string()));
    return *r;
  }

  // Calls per sample so that one sample lasts about min_sample_ms.
  std::uint64_t calibrate(Column column) {
    reset();
    double start = cpu_ns();
    check(column, call(column));
    double one = std::max(cpu_ns() - start, 1.0);
    auto calls = static_cast<std::uint64_t>(std::ceil(options_.min_sample_ms * 1e6 / one));
    return std::clamp<std::uint64_t>(calls, 1, 1'000'000);
  }

  // Nanoseconds per call over one sample.
  double sample(Column column, std::uint64_t calls) {
    double total = 0;
    for (std::uint64_t i = 0; i < calls; ++i) {
      if (workload_.mutates_input || i == 0) reset();
      double start = cpu_ns();
      std::uint64_t r0 = call(column);
      total += cpu_ns() - start;
      check(column, r0);
    }
    return total / static_cast<double>(calls);
  }

  // Best of N samples per column, taken round-robin so drift in machine speed hits every
  // column alike.
  void measure(double (&best)[columns]) {
    std::uint64_t calls[columns];
    for (int c = 0; c < columns; ++c) {
      calls[c] = calibrate(static_cast<Column>(c));
      best[c] = 1e300;
    }
    for (int s = 0; s < options_.samples; ++s)
      for (int c = 0; c < columns; ++c)
        best[c] = std::min(best[c], sample(static_cast<Column>(c), calls[c]));
  }

  // Compile time of both JIT variants, nanoseconds per instruction slot.
  double compile_ns_per_insn() {
    const int rounds = 200;
    double start = cpu_ns();
    for (int i = 0; i < rounds; ++i) {
      auto jit = JitProgram::compile(*program_, {});
      if (!jit) fail("compile");
    }
    return (cpu_ns() - start) / rounds / static_cast<double>(program_->size());
  }

  std::size_t insns() const { return program_->size(); }

 private:
  void reset() { std::memcpy(memory_.data(), pristine_.data(), pristine_.size()); }
  void check(Column column, std::uint64_t r0) {
    if (r0 != expected_)
      fail(fmt::format("{}: {} returned {:#x}, expected {:#x}", built_.name, column_names[column],
                       r0, expected_));
  }

  const bench::Workload& workload_;
  const bench::BuiltProgram& built_;
  const Options& options_;
  std::vector<std::uint8_t> pristine_, memory_;
  std::uint64_t expected_ = 0;
  std::optional<Program> program_;
  std::optional<JitProgram> jit_[2];
};

double geomean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += std::log(v);
  return std::exp(sum / static_cast<double>(values.size()));
}

// Compile time on large random programs (the hostile generator's, loaded and compiled in
// checked mode), per instruction slot.
double compile_ns_per_insn_random(std::size_t& total_insns) {
  auto memory = std::make_unique<jit_test::HostMemory>();
  HelperRegistry helpers = jit_test::test_helpers(*memory);
  double total = 0;
  total_insns = 0;
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    auto hostile = jit_test::generate_hostile_program(seed, *memory);
    auto program = Program::load(hostile.insns, LoadOptions{.helpers = &helpers});
    if (!program) continue;
    double start = cpu_ns();
    auto jit = JitProgram::compile(*program, {});
    total += cpu_ns() - start;
    if (!jit) fail("compile");
    total_insns += program->size();
  }
  return total / static_cast<double>(total_insns);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--samples" && i + 1 < argc)
      options.samples = std::atoi(argv[++i]);
    else if (arg == "--min-sample-ms" && i + 1 < argc)
      options.min_sample_ms = std::atof(argv[++i]);
    else if (arg == "--only" && i + 1 < argc)
      options.only = argv[++i];
    else {
      fmt::print("usage: jit-bench [--samples N] [--min-sample-ms X] [--only name]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  auto programs = bench::built_programs();
  if (programs.empty()) {
    fmt::print("jit-bench: no benchmark programs were built (clang -target bpf missing)\n");
    return 77;
  }
  fmt::print("{:<16}{:>7}{:>11}{:>10}{:>10}{:>10}{:>10}  {:>8}{:>8}{:>8}{:>8}{:>9}\n", "program",
             "insns", "native", "interp-u", "interp-c", "jit-u", "jit-c", "int-u/n", "jit-u/n",
             "jit-c/n", "c/u", "compile");
  std::vector<double> ju, jc, cu, iu;
  for (const auto& built : programs) {
    if (!options.only.empty() && built.name != options.only) continue;
    const bench::Workload* workload = bench::find_workload(built.name);
    if (workload == nullptr) continue;
    Runner runner(*workload, built, options);
    double t[columns];
    runner.measure(t);
    double compile = runner.compile_ns_per_insn();
    ju.push_back(t[jit_unchecked] / t[native]);
    jc.push_back(t[jit_checked] / t[native]);
    cu.push_back(t[jit_checked] / t[jit_unchecked]);
    iu.push_back(t[interp_unchecked] / t[native]);
    auto ms = [](double ns) { return fmt::format("{:.3f}ms", ns / 1e6); };
    fmt::print(
        "{:<16}{:>7}{:>11}{:>10}{:>10}{:>10}{:>10}  "
        "{:>7.2f}x{:>7.2f}x{:>7.2f}x{:>7.2f}x{:>6.0f}ns\n",
        built.name, runner.insns(), ms(t[native]), ms(t[interp_unchecked]), ms(t[interp_checked]),
        ms(t[jit_unchecked]), ms(t[jit_checked]), iu.back(), ju.back(), jc.back(), cu.back(),
        compile);
  }
  if (ju.empty()) return 0;
  fmt::print("{:<16}{:>58}  {:>7.2f}x{:>7.2f}x{:>7.2f}x{:>7.2f}x\n", "geometric mean", "",
             geomean(iu), geomean(ju), geomean(jc), geomean(cu));
  std::size_t insns = 0;
  double random = compile_ns_per_insn_random(insns);
  fmt::print(
      "compile time (checked variant, including mmap/mprotect): {:.0f} ns per instruction over "
      "{} random program slots\n",
      random, insns);
  fmt::print(
      "targets: jit-u/native <= 1.5x (geometric mean), jit-c/jit-u <= 1.3x, compile < 1000 "
      "ns/insn\n");
  return 0;
}
