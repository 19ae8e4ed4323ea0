// Differential: random programs through the interpreter and the JIT, compared on r0 or the
// error (kind, instruction index, message with stack addresses made relative), and on every
// byte of memory the runs could touch.
//
//   * hostile programs (hostile_program.hpp): helpers, callx, local calls, loops, regions,
//     checked-mode violations, budgets; checked mode, and unchecked mode when the checked
//     run stayed in bounds; one in eight with constants blinded;
//   * verifier-safe programs (tests/support/random_program.hpp, the kernel differential's
//     generator): checked and unchecked.
//
// Reproduce one program: BPFVM_RANDOM_SEED=<seed> ./jit_differential_test
// More programs:         BPFVM_RANDOM_COUNT=100000 ./jit_differential_test
#include "jit/engine_harness.hpp"
#include "jit/hostile_program.hpp"
#include "support/random_program.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>

namespace bpfvm::jit_test {
namespace {

using test::SeedRange;

constexpr std::size_t reports_in_full = 3;

struct Tally {
  std::size_t programs = 0, runs = 0, mismatches = 0, failures = 0, reported = 0;
  std::map<std::string, std::size_t> outcomes;

  void report(std::uint64_t seed, std::span<const Insn> insns, const std::string& what) {
    if (reported++ < reports_in_full) {
      ADD_FAILURE() << "seed " << seed << " (rerun: BPFVM_RANDOM_SEED=" << seed << "): " << what
                    << "\n"
                    << test::dump_insns(insns);
    } else {
      ADD_FAILURE() << "seed " << seed << ": " << what.substr(0, 300);
    }
  }
  void count(const Outcome& outcome) {
    ++runs;
    if (outcome.result) {
      ++outcomes["result"];
      return;
    }
    const std::string& m = outcome.error->message;
    std::string key = m.find("not aligned") != std::string::npos     ? "misaligned"
                      : m.find("read-only") != std::string::npos     ? "read-only store"
                      : m.find("budget") != std::string::npos        ? "budget"
                      : m.find("nests deeper") != std::string::npos  ? "call depth"
                      : m.find("callx") != std::string::npos         ? "callx unknown"
                      : m.find("helper failed") != std::string::npos ? "helper failed"
                                                                     : "out of bounds";
    ++outcomes[key];
  }
  std::string summary() const {
    std::string text;
    for (const auto& [key, n] : outcomes) text += " " + key + "=" + std::to_string(n);
    return text;
  }
};

SeedRange seeds(std::uint64_t first, std::size_t count) {
  return test::seeds_from_environment(SeedRange{first, count});
}

RunInput input_for(HostMemory& memory, const HostileProgram& program) {
  RunInput input;
  input.context = program.context_size ? memory.context.data() : nullptr;
  input.context_size = program.context_size;
  input.context_writable = program.context_writable;
  input.r2 = program.context_size;
  input.packet = std::span<const std::uint8_t>(memory.context.data(), program.context_size);
  return input;
}

RunOptions options_for(HostMemory& memory, const HostileProgram& program, MemoryMode mode) {
  RunOptions options;
  options.memory_mode = mode;
  options.budget = program.budget;
  if (program.with_regions) {
    options.regions.push_back({memory.writable.data(), memory.writable.size(), true});
    options.regions.push_back({memory.read_only.data(), memory.read_only.size(), false});
  }
  return options;
}

// Runs both engines from the same initial memory; "" when they agree.
std::string compare_hostile(HostMemory& memory, const HostileProgram& hostile,
                            const Program& program, const JitProgram& jit, MemoryMode mode,
                            Outcome& interpreter_out) {
  memory.fill(hostile.seed);
  const std::vector<std::uint8_t> initial = memory.snapshot();
  RunOptions options = options_for(memory, hostile, mode);
  interpreter_out =
      run_engine(Engine::interpreter, program, nullptr, input_for(memory, hostile), options);
  const std::vector<std::uint8_t> after_interpreter = memory.snapshot();
  memory.restore(initial);
  Outcome jit_out = run_engine(Engine::jit, program, &jit, input_for(memory, hostile), options);
  std::string difference = compare_outcomes(interpreter_out, jit_out);
  if (difference.empty() && after_interpreter != memory.snapshot()) {
    const std::vector<std::uint8_t> after_jit = memory.snapshot();
    for (std::size_t i = 0; i < after_jit.size(); ++i) {
      if (after_jit[i] != after_interpreter[i]) {
        difference = "host memory differs first at byte " + std::to_string(i) + " (context is 0-" +
                     std::to_string(HostMemory::context_capacity - 1) + ")";
        break;
      }
    }
  }
  return difference;
}

TEST(JitDifferential, HostileProgramsAgreeWithTheInterpreter) {
  const SeedRange range = seeds(0x6a697464'00000000ULL, 10000);
  // On the heap: addresses near either engine's stack would be rewritten as stack offsets.
  auto owned = std::make_unique<HostMemory>();
  HostMemory& memory = *owned;
  HelperRegistry helpers = test_helpers(memory);
  Tally tally;
  std::size_t insns = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < range.count; ++i) {
    const std::uint64_t seed = range.seed(i);
    HostileProgram hostile = generate_hostile_program(seed, memory);
    insns += hostile.insns.size();
    auto program = Program::load(hostile.insns, LoadOptions{.helpers = &helpers});
    if (!program) {
      ++tally.failures;
      tally.report(seed, hostile.insns,
                   "does not load (a generator bug): " + program.error().to_string());
      continue;
    }
    ++tally.programs;
    JitOptions options;
    options.count_instructions = hostile.budget.has_value();
    options.blind_constants = seed % 8 == 0;
    auto jit = JitProgram::compile(*program, options);
    if (!jit) {
      ++tally.failures;
      tally.report(seed, hostile.insns, "the JIT does not compile it: " + jit.error().to_string());
      continue;
    }
    Outcome checked;
    std::string difference =
        compare_hostile(memory, hostile, *program, *jit, MemoryMode::checked, checked);
    tally.count(checked);
    if (!hostile.breaks_rules && checked.error &&
        checked.error->kind == Error::Kind::out_of_bounds) {
      ++tally.failures;
      tally.report(seed, hostile.insns,
                   "a program that keeps the rules went out of bounds (a "
                   "generator bug): " +
                       describe(checked));
    }
    if (!difference.empty()) {
      ++tally.mismatches;
      tally.report(seed, hostile.insns, "checked: " + difference);
      continue;
    }
    // Unchecked, when the checked run never strayed out of bounds (so neither will this one).
    bool strayed = checked.error && checked.error->kind == Error::Kind::out_of_bounds;
    if (strayed || hostile.asks_accessible) continue;
    options.memory_mode = MemoryMode::unchecked;
    auto fast = JitProgram::compile(*program, options);
    ASSERT_TRUE(fast.ok()) << fast.error().to_string();
    Outcome unchecked;
    difference =
        compare_hostile(memory, hostile, *program, *fast, MemoryMode::unchecked, unchecked);
    tally.count(unchecked);
    if (!difference.empty()) {
      ++tally.mismatches;
      tally.report(seed, hostile.insns, "unchecked: " + difference);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[jit-diff] hostile: %zu programs (seeds 0x%" PRIx64
              "..+%zu, %zu slots on average), "
              "%zu runs per engine in %.2f s, %zu mismatches, %zu failures; outcomes:%s\n",
              tally.programs, range.first, range.count, range.count ? insns / range.count : 0,
              tally.runs, seconds, tally.mismatches, tally.failures, tally.summary().c_str());
  EXPECT_EQ(tally.mismatches, 0u);
  EXPECT_EQ(tally.failures, 0u);
}

TEST(JitDifferential, VerifierSafeProgramsAgreeWithTheInterpreter) {
  const SeedRange range = seeds(0x6a697473'00000000ULL, 2000);
  const test::RandomProgramGenerator generator;
  Tally tally;
  for (std::size_t i = 0; i < range.count; ++i) {
    const test::RandomProgram random = generator.generate(range.seed(i));
    auto program = Program::load(random.insns);
    ASSERT_TRUE(program.ok()) << program.error().to_string();
    ++tally.programs;
    std::uint8_t memory[64] = {};
    for (MemoryMode mode : {MemoryMode::checked, MemoryMode::unchecked}) {
      JitOptions options;
      options.memory_mode = mode;
      auto jit = JitProgram::compile(*program, options);
      ASSERT_TRUE(jit.ok()) << jit.error().to_string();
      RunOptions run;
      run.memory_mode = mode;
      RawComparison compared = compare_raw(*program, *jit, memory, run);
      tally.count(compared.jit);
      if (!compared.difference.empty()) {
        ++tally.mismatches;
        tally.report(random.seed, random.insns, compared.difference);
      }
    }
  }
  std::printf(
      "[jit-diff] verifier-safe: %zu programs, %zu runs per engine, %zu mismatches; outcomes:%s\n",
      tally.programs, tally.runs, tally.mismatches, tally.summary().c_str());
  EXPECT_EQ(tally.mismatches, 0u);
}

}  // namespace
}  // namespace bpfvm::jit_test
