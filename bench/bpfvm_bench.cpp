// bpfvm-bench: runs each benchmark program natively, in the interpreter without memory checks
// and in the interpreter with them, in the same process, checks that all three agree with
// the reference answer, and prints time ratios. A benchmark, not a test: timing never fails.
//
//   bpfvm-bench [--quick] [--only a,b] [--samples N] [--min-sample-ms X] [--clock cpu|wall]
//               [--cpu N] [--markdown] [--verbose] [--list]

#include "registry.hpp"
#include "workloads.hpp"

#include <bpfvm/insn.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/vm.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#ifdef __linux__
#include <sched.h>
#include <time.h>
#endif

namespace bpfvm::bench {
namespace {

// What a sample measures. CPU time of this thread (the default on Linux) leaves out the
// time the scheduler gives to other processes, which on a busy 2-core machine is most of
// the noise; wall time (steady_clock) is what an idle machine would show.
enum class ClockKind { cpu, wall };

double now_ns(ClockKind clock) {
#ifdef __linux__
  if (clock == ClockKind::cpu) {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  }
#endif
  (void)clock;
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int kExitMismatch = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoPrograms = 77;  // the automake/ctest "skipped" code

struct Options {
  bool quick = false;
  bool markdown = false;
  bool verbose = false;
  bool list = false;
  std::vector<std::string> only;
  // Best of N: on a shared 2-core machine the fastest sample is the one least disturbed by
  // other processes, so it is the stablest estimate of the code's own speed.
  int samples = 21;             // timed samples per engine (the fastest is reported)
  double min_sample_ms = 10.0;  // each sample repeats the call until it lasts this long
  double max_engine_ms = 2000;  // fewer samples (at least 3) when an engine is this slow
  std::optional<int> cpu;
#ifdef __linux__
  ClockKind clock = ClockKind::cpu;
#else
  ClockKind clock = ClockKind::wall;
#endif
};

enum class Engine { native, unchecked, checked };
constexpr std::array<Engine, 3> kEngines = {Engine::native, Engine::unchecked, Engine::checked};

std::string_view engine_name(Engine engine) {
  switch (engine) {
    case Engine::native: return "native";
    case Engine::unchecked: return "interpreter (unchecked)";
    case Engine::checked: return "interpreter (checked)";
  }
  return "?";
}

[[noreturn]] void fail(const std::string& message) {
  std::fflush(stdout);
  fmt::print(stderr, "bpfvm-bench: FAILED: {}\n", message);
  std::exit(kExitMismatch);
}

[[noreturn]] void usage_error(const std::string& message) {
  fmt::print(stderr, "bpfvm-bench: {}\nTry --help.\n", message);
  std::exit(kExitUsage);
}

void print_help() {
  fmt::print(
      "Usage: bpfvm-bench [options]\n"
      "Runs each benchmark program natively, in the interpreter unchecked and checked, checks\n"
      "that the three agree with the reference answer, and prints time ratios.\n\n"
      "  --quick             one untimed-quality pass: checks results, prints rough numbers\n"
      "  --only a,b          run only these programs (see --list)\n"
      "  --samples N         timed samples per engine and program, best reported (21)\n"
      "  --min-sample-ms X   repeat calls within a sample until it lasts X ms (10)\n"
      "  --clock cpu|wall    time samples by thread CPU time (default on Linux) or wall time\n"
      "  --cpu N             pin the process to CPU N (Linux)\n"
      "  --markdown          print the table as Markdown\n"
      "  --verbose           also print min/median/max and calls per sample\n"
      "  --list              list the programs and exit\n"
      "  --help              this text\n\n"
      "Exit status: 0 ok, 1 an engine disagreed or failed, 2 usage, 77 no BPF programs built.\n");
}

double parse_number(std::string_view flag, const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value > 0)) {
    usage_error(fmt::format("{} wants a positive number, not '{}'", flag, text));
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i++) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(fmt::format("{} wants a value", arg));
      return argv[++i];
    };
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--markdown") {
      options.markdown = true;
    } else if (arg == "--verbose") {
      options.verbose = true;
    } else if (arg == "--list") {
      options.list = true;
    } else if (arg == "--only") {
      std::string_view names = value();
      while (!names.empty()) {
        const auto comma = names.find(',');
        options.only.emplace_back(names.substr(0, comma));
        names = comma == std::string_view::npos ? "" : names.substr(comma + 1);
      }
    } else if (arg == "--samples") {
      options.samples = static_cast<int>(parse_number(arg, value()));
      if (options.samples < 1) usage_error("--samples wants at least 1");
    } else if (arg == "--min-sample-ms") {
      options.min_sample_ms = parse_number(arg, value());
    } else if (arg == "--clock") {
      const std::string_view kind = value();
      if (kind == "cpu") {
#ifdef __linux__
        options.clock = ClockKind::cpu;
#else
        usage_error("--clock cpu is supported on Linux only");
#endif
      } else if (kind == "wall") {
        options.clock = ClockKind::wall;
      } else {
        usage_error(fmt::format("--clock wants cpu or wall, not '{}'", kind));
      }
    } else if (arg == "--cpu") {
      options.cpu = static_cast<int>(std::strtol(value(), nullptr, 10));
    } else if (arg == "--help" || arg == "-h") {
      print_help();
      std::exit(0);
    } else {
      usage_error(fmt::format("unknown option '{}'", arg));
    }
  }
  if (options.quick) {
    options.samples = 1;
    options.min_sample_ms = 0;
  }
  return options;
}

void pin_to_cpu(int cpu) {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    usage_error(fmt::format("cannot pin to CPU {}: {}", cpu, std::strerror(errno)));
  }
#else
  usage_error(fmt::format("--cpu {} is supported on Linux only", cpu));
#endif
}

// Other work on the machine makes every number noisy: say so when the load is high.
void warn_if_busy() {
  std::FILE* file = std::fopen("/proc/loadavg", "r");
  if (file == nullptr) return;
  double load = 0;
  const bool read = std::fscanf(file, "%lf", &load) == 1;
  std::fclose(file);
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  if (read && load > 0.5 * cpus) {
    fmt::print("warning: load average {:.2f} on {} CPUs; other work will make the numbers noisy\n",
               load, cpus);
  }
}

// FNV-1a over a buffer, to compare the memory each engine leaves behind.
std::uint64_t memory_digest(std::span<const std::uint8_t> memory) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (std::uint8_t byte : memory) hash = (hash ^ byte) * 0x100000001b3ULL;
  return hash;
}

// The program must be self-contained: no helper calls (0x85), no lddw with a pseudo source
// (a map or a function), and it must reach `exit`. extract_bytecode.cmake already rejected
// relocations; this checks the bytes the runner actually loads.
void check_bytecode(std::string_view name, std::span<const Insn> insns) {
  constexpr std::uint8_t kCall = 0x85, kLddw = 0x18, kExit = 0x95;
  bool has_exit = false;
  for (std::size_t i = 0; i < insns.size(); i++) {
    const Insn& insn = insns[i];
    if (insn.opcode == kCall) {
      fail(fmt::format("{}: instruction {} is a call; benchmark programs must inline everything",
                       name, i));
    }
    if (insn.opcode == kLddw) {
      if (insn.src != lddw_src::imm64) {
        fail(fmt::format("{}: instruction {} is lddw with pseudo source {} (a relocation)", name, i,
                         static_cast<int>(insn.src)));
      }
      i++;  // the second slot of lddw
      continue;
    }
    has_exit = has_exit || insn.opcode == kExit;
  }
  if (!has_exit) fail(fmt::format("{}: the bytecode has no exit", name));
}

struct Samples {
  std::vector<double> ns_per_call;
  std::uint64_t calls_per_sample = 1;

  double median() const {
    std::vector<double> sorted = ns_per_call;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
  double min() const { return *std::min_element(ns_per_call.begin(), ns_per_call.end()); }
  double max() const { return *std::max_element(ns_per_call.begin(), ns_per_call.end()); }
};

class Benchmark {
 public:
  Benchmark(const Workload& workload, const BuiltProgram& built, Program program, ClockKind clock)
      : clock_(clock),
        workload_(workload),
        built_(built),
        program_(std::move(program)),
        pristine_(workload.memory_size),
        memory_(workload.memory_size) {
    workload_.prepare(pristine_);
    expected_ = workload_.expected(pristine_);
    unchecked_.memory_mode = MemoryMode::unchecked;
    checked_.memory_mode = MemoryMode::checked;
  }

  const Workload& workload() const { return workload_; }

  // Runs every engine once on a fresh copy of the input; fails loudly unless all return the
  // reference r0 and leave the same memory behind.
  void verify() {
    std::optional<std::uint64_t> native_digest;
    for (Engine engine : kEngines) {
      reset_memory();
      const std::uint64_t r0 = run(engine);
      if (r0 != expected_) {
        fail(fmt::format("{}: {} returned {:#x} ({}), the reference answer is {:#x} ({})",
                         workload_.name, engine_name(engine), r0, r0, expected_, expected_));
      }
      const std::uint64_t digest = memory_digest(memory_);
      if (!native_digest) {
        native_digest = digest;
      } else if (digest != *native_digest) {
        fail(fmt::format("{}: {} returned the right r0 but left different memory than native",
                         workload_.name, engine_name(engine)));
      }
    }
  }

  // One call, timed alone: for calibration.
  double time_one_call(Engine engine) {
    reset_memory();
    const double start = now_ns(clock_);
    check(engine, run(engine));
    return now_ns(clock_) - start;
  }

  // `calls` calls, returning nanoseconds per call. A program that writes its input gets a
  // fresh copy before each call, outside the timed region.
  double sample(Engine engine, std::uint64_t calls) {
    double total = 0;
    if (workload_.mutates_input) {
      for (std::uint64_t i = 0; i < calls; i++) {
        reset_memory();
        const double start = now_ns(clock_);
        const std::uint64_t r0 = run(engine);
        total += now_ns(clock_) - start;
        check(engine, r0);
      }
    } else {
      reset_memory();
      const double start = now_ns(clock_);
      for (std::uint64_t i = 0; i < calls; i++) check(engine, run(engine));
      total = now_ns(clock_) - start;
    }
    return total / static_cast<double>(calls);
  }

 private:
  void reset_memory() { std::memcpy(memory_.data(), pristine_.data(), pristine_.size()); }

  std::uint64_t run(Engine engine) {
    if (engine == Engine::native) return built_.native(memory_.data(), memory_.size());
    const RunOptions& options = engine == Engine::checked ? checked_ : unchecked_;
    Result<std::uint64_t> result = interpret(program_, RunInput::raw(memory_), options);
    if (!result) {
      fail(fmt::format("{}: {} failed: {}", workload_.name, engine_name(engine),
                       result.error().to_string()));
    }
    return *result;
  }

  void check(Engine engine, std::uint64_t r0) const {
    if (r0 != expected_) {
      fail(fmt::format("{}: {} returned {:#x} in a timed run, expected {:#x}", workload_.name,
                       engine_name(engine), r0, expected_));
    }
  }

  ClockKind clock_;
  const Workload& workload_;
  const BuiltProgram& built_;
  Program program_;
  std::vector<std::uint8_t> pristine_;
  std::vector<std::uint8_t> memory_;
  std::uint64_t expected_ = 0;
  RunOptions unchecked_;
  RunOptions checked_;
};

struct Row {
  std::string_view name;
  std::array<Samples, 3> samples;  // indexed by Engine
  double best(Engine engine) const { return samples[static_cast<int>(engine)].min(); }
};

// Calibrates each engine, then takes the samples round-robin (native, unchecked, checked,
// native, ...) so that drift in machine speed hits all three alike.
Row measure(Benchmark& benchmark, const Options& options) {
  Row row{benchmark.workload().name, {}};
  const double min_sample_ns = options.min_sample_ms * 1e6;
  int samples = options.samples;
  for (Engine engine : kEngines) {
    Samples& s = row.samples[static_cast<int>(engine)];
    if (options.quick) continue;
    const double one = std::max(benchmark.time_one_call(engine), 1.0);
    s.calls_per_sample = static_cast<std::uint64_t>(std::ceil(min_sample_ns / one));
    s.calls_per_sample = std::clamp<std::uint64_t>(s.calls_per_sample, 1, 10'000'000);
    // Keep slow engines within the time budget, but never below 3 samples.
    const double per_sample_ms = one * static_cast<double>(s.calls_per_sample) / 1e6;
    const int affordable = static_cast<int>(options.max_engine_ms / per_sample_ms);
    samples = std::min(samples, std::max(3, affordable));
  }
  for (int i = 0; i < samples; i++) {
    for (Engine engine : kEngines) {
      Samples& s = row.samples[static_cast<int>(engine)];
      s.ns_per_call.push_back(benchmark.sample(engine, s.calls_per_sample));
    }
  }
  return row;
}

std::string format_time(double ns) {
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.1f} us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.2f} ms", ns / 1e6);
  return fmt::format("{:.2f} s", ns / 1e9);
}

double geometric_mean(const std::vector<double>& values) {
  double log_sum = 0;
  for (double v : values) log_sum += std::log(v);
  return std::exp(log_sum / static_cast<double>(values.size()));
}

void print_table(const std::vector<Row>& rows, const Options& options) {
  std::vector<double> unchecked_ratios, checked_ratios, checked_over_unchecked;
  struct Line {
    std::string cells[7];
  };
  std::vector<Line> lines;
  lines.push_back({{"program", "native", "unchecked", "checked", "unchecked/native",
                    "checked/native", "checked/unchecked"}});
  for (const Row& row : rows) {
    const double native = row.best(Engine::native);
    const double unchecked = row.best(Engine::unchecked);
    const double checked = row.best(Engine::checked);
    unchecked_ratios.push_back(unchecked / native);
    checked_ratios.push_back(checked / native);
    checked_over_unchecked.push_back(checked / unchecked);
    lines.push_back(
        {{std::string(row.name), format_time(native), format_time(unchecked), format_time(checked),
          fmt::format("{:.1f}x", unchecked / native), fmt::format("{:.1f}x", checked / native),
          fmt::format("{:.2f}x", checked / unchecked)}});
  }
  lines.push_back(
      {{"geometric mean", "", "", "", fmt::format("{:.1f}x", geometric_mean(unchecked_ratios)),
        fmt::format("{:.1f}x", geometric_mean(checked_ratios)),
        fmt::format("{:.2f}x", geometric_mean(checked_over_unchecked))}});

  if (options.markdown) {
    for (std::size_t i = 0; i < lines.size(); i++) {
      std::string text = "|";
      for (const std::string& cell : lines[i].cells) text += " " + cell + " |";
      fmt::print("{}\n", text);
      if (i == 0) fmt::print("|---|--:|--:|--:|--:|--:|--:|\n");
    }
    return;
  }
  std::array<std::size_t, 7> widths{};
  for (const Line& line : lines) {
    for (std::size_t c = 0; c < widths.size(); c++) {
      widths[c] = std::max(widths[c], line.cells[c].size());
    }
  }
  for (std::size_t i = 0; i < lines.size(); i++) {
    std::string text = fmt::format("{:<{}}", lines[i].cells[0], widths[0]);
    for (std::size_t c = 1; c < widths.size(); c++) {
      text += fmt::format("  {:>{}}", lines[i].cells[c], widths[c]);
    }
    fmt::print("{}\n", text);
    if (i == 0 || i + 2 == lines.size()) fmt::print("{}\n", std::string(text.size(), '-'));
  }
}

void print_details(const Row& row) {
  for (Engine engine : kEngines) {
    const Samples& s = row.samples[static_cast<int>(engine)];
    fmt::print("  {:<16} {:<24} min {:>10}  median {:>10}  max {:>10}  ({} samples x {} calls)\n",
               row.name, engine_name(engine), format_time(s.min()), format_time(s.median()),
               format_time(s.max()), s.ns_per_call.size(), s.calls_per_sample);
  }
}

int run(const Options& options) {
  const std::vector<BuiltProgram> built = built_programs();
  if (built.empty()) {
    fmt::print(
        "bpfvm-bench: no BPF benchmark programs were built (clang, llvm-objcopy or "
        "llvm-readelf was not found, or BPFVM_BENCH_BPF was OFF, when CMake configured); "
        "nothing to run\n");
    return kExitNoPrograms;
  }
  if (options.list) {
    for (const BuiltProgram& program : built) {
      const Workload* workload = find_workload(program.name);
      fmt::print("{:<16} {:>6} insns  {}\n", program.name, program.bytecode.size() / 8,
                 workload ? workload->description : "(no workload)");
    }
    return 0;
  }
  for (const std::string& name : options.only) {
    const bool known = std::any_of(built.begin(), built.end(),
                                   [&](const BuiltProgram& p) { return p.name == name; });
    if (!known) usage_error(fmt::format("no program named '{}' (see --list)", name));
  }

  const BuildInfo info = build_info();
  fmt::print("bpfvm-bench{}: native = {} {}; bpf = {} {}\n", options.quick ? " --quick" : "",
             info.native_compiler, info.native_flags, info.bpf_compiler, info.bpf_flags);
  if (info.build_type != "Release" && info.build_type != "RelWithDebInfo") {
    fmt::print("warning: built as '{}'; build with -DCMAKE_BUILD_TYPE=Release for numbers\n",
               info.build_type);
  }
  if (!options.quick) warn_if_busy();
  if (options.quick) {
    fmt::print("quick run: one call per engine, results checked, times are NOT comparable\n");
  } else {
    fmt::print("time per call ({}): best of up to {} samples per engine, each >= {} ms\n",
               options.clock == ClockKind::cpu ? "thread CPU time" : "wall time", options.samples,
               options.min_sample_ms);
  }

  std::vector<Row> rows;
  for (const BuiltProgram& program : built) {
    if (!options.only.empty() &&
        std::find(options.only.begin(), options.only.end(), program.name) == options.only.end()) {
      continue;
    }
    const Workload* workload = find_workload(program.name);
    if (workload == nullptr) fail(fmt::format("{}: built but has no workload", program.name));

    Result<std::vector<Insn>> insns = insns_from_bytes(program.bytecode);
    if (!insns) fail(fmt::format("{}: {}", program.name, insns.error().to_string()));
    check_bytecode(program.name, *insns);
    Result<Program> loaded = Program::load(*insns);
    if (!loaded) fail(fmt::format("{}: load failed: {}", program.name, loaded.error().to_string()));

    Benchmark benchmark(*workload, program, std::move(*loaded), options.clock);
    benchmark.verify();
    if (options.quick) {
      Row row{program.name, {}};
      for (Engine engine : kEngines) {
        row.samples[static_cast<int>(engine)].ns_per_call.push_back(
            benchmark.time_one_call(engine));
      }
      rows.push_back(std::move(row));
    } else {
      rows.push_back(measure(benchmark, options));
    }
    if (options.verbose) print_details(rows.back());
    std::fflush(stdout);
  }
  fmt::print("\n");
  print_table(rows, options);
  fmt::print("\nall {} programs: native, unchecked and checked results agree\n", rows.size());
  return 0;
}

}  // namespace
}  // namespace bpfvm::bench

int main(int argc, char** argv) {
  const bpfvm::bench::Options options = bpfvm::bench::parse_options(argc, argv);
  if (options.cpu) bpfvm::bench::pin_to_cpu(*options.cpu);
  return bpfvm::bench::run(options);
}
