// The public API of the JIT: compilation, variants compiled on first use, the engine choice
// with its fallback to the interpreter (saying why), hardening options, and many threads
// running one compiled program.
#include "jit/exec_memory.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/jit.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace bpfvm::jit_test {
namespace {

Program load(const char* source) {
  auto insns = assemble(source);
  EXPECT_TRUE(insns.ok()) << insns.error().to_string();
  auto program = Program::load(*insns);
  EXPECT_TRUE(program.ok()) << program.error().to_string();
  return *program;
}

TEST(JitProgram, CompilesAndRunsLikeTheInterpreter) {
  ASSERT_TRUE(jit_supported());
  Program program = load("mov %r0, %r2\nldxb %r1, [%r1+1]\nadd %r0, %r1\nexit\n");
  auto jit = JitProgram::compile(program);
  ASSERT_TRUE(jit.ok()) << jit.error().to_string();
  EXPECT_GT(jit->code_size(), 0u);
  EXPECT_EQ(jit->program().size(), program.size());
  EXPECT_EQ(jit->options().memory_mode, MemoryMode::checked);
  std::uint8_t memory[] = {1, 2, 3};
  auto result = jit->run(RunInput::raw(memory));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 5u);
}

TEST(JitProgram, RunsVariantsItWasNotCompiledFor) {
  // Compiled unchecked without counting; asked for checked with a budget.
  Program program = load("mov %r0, 0\nloop:\nadd %r0, 1\nja loop\n");
  JitOptions options;
  options.memory_mode = MemoryMode::unchecked;
  auto jit = JitProgram::compile(program, options);
  ASSERT_TRUE(jit.ok());
  RunOptions run;
  run.budget = 1000;
  auto result = jit->run(RunInput{}, run);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, Error::Kind::budget_exhausted);
  EXPECT_EQ(result.error().to_string(), interpret(program, RunInput{}, run).error().to_string());
}

TEST(JitProgram, DirectEntryRunsLikeRunForProgramsThatCallNothing) {
  // Packet loads in and out of bounds (out of bounds ends the run with 0), a context load,
  // and r2 at entry.
  Program program = load(
      "ldxb %r3, [%r1+0]\nldabsh 1\nadd %r0, %r3\nadd %r0, %r2\nldabsw 2\nadd %r0, %r3\nexit\n");
  JitOptions options;
  options.memory_mode = MemoryMode::unchecked;
  auto jit = JitProgram::compile(program, options);
  ASSERT_TRUE(jit.ok()) << jit.error().to_string();
  ASSERT_TRUE(jit->direct_supported());
  RunOptions unchecked;
  unchecked.memory_mode = MemoryMode::unchecked;
  for (std::size_t size : {3u, 5u, 6u, 9u}) {
    std::vector<std::uint8_t> memory(size);
    for (std::size_t i = 0; i < size; ++i) memory[i] = static_cast<std::uint8_t>(0x11 * (i + 1));
    RunInput input = RunInput::raw(memory);
    auto expected = jit->run(input, unchecked);
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ(jit->run_direct(input), *expected) << size << " bytes";
    EXPECT_EQ(*interpret(program, input, unchecked), *expected) << size << " bytes";
  }
}

TEST(JitProgram, DirectEntryOnlyForUncheckedCodeThatCallsNothing) {
  Program plain = load("mov %r0, 1\nexit\n");
  JitOptions unchecked;
  unchecked.memory_mode = MemoryMode::unchecked;
  // Checked code, counting code and a budget guard need the full run.
  EXPECT_FALSE(JitProgram::compile(plain)->direct_supported());
  JitOptions counting = unchecked;
  counting.count_instructions = true;
  EXPECT_FALSE(JitProgram::compile(plain, counting)->direct_supported());
  JitOptions guarded = unchecked;
  guarded.budget_guard = 100;
  EXPECT_FALSE(JitProgram::compile(plain, guarded)->direct_supported());
  EXPECT_TRUE(JitProgram::compile(plain, unchecked)->direct_supported());
  // A local call can stop the run (call depth), so it needs the full run too.
  Program local = load("call local f\nexit\nf:\nmov %r0, 2\nexit\n");
  EXPECT_FALSE(JitProgram::compile(local, unchecked)->direct_supported());
}

TEST(JitProgram, BudgetGuardStopsEveryRun) {
  Program program = load("mov %r0, 0\nloop:\nadd %r0, 1\nja loop\n");
  JitOptions options;
  options.budget_guard = 5000;
  auto jit = JitProgram::compile(program, options);
  ASSERT_TRUE(jit.ok());
  auto unbounded = jit->run(RunInput{});  // no budget asked: the guard still holds
  ASSERT_FALSE(unbounded.ok());
  EXPECT_EQ(unbounded.error().kind, Error::Kind::budget_exhausted);
  EXPECT_NE(unbounded.error().message.find("budget of 5000"), std::string::npos);
  RunOptions smaller;
  smaller.budget = 100;  // a smaller budget wins
  EXPECT_NE(jit->run(RunInput{}, smaller).error().message.find("budget of 100"), std::string::npos);
  RunOptions larger;
  larger.budget = 1'000'000;  // a larger one does not
  EXPECT_NE(jit->run(RunInput{}, larger).error().message.find("budget of 5000"), std::string::npos);
}

TEST(JitProgram, BlindedConstantsGiveTheSameResults) {
  Program program = load(
      "lddw %r0, 0x1122334455667788\nadd %r0, 0x41424344\nmul32 %r0, -7\nstw [%r10-4], 0x5a5a\n"
      "ldxw %r1, [%r10-4]\nxor %r0, %r1\njgt %r0, 0x7fff0000, +1\nadd %r0, 1\ndiv %r0, 3\nexit\n");
  JitOptions options;
  options.blind_constants = true;
  auto blinded = JitProgram::compile(program, options);
  ASSERT_TRUE(blinded.ok());
  EXPECT_EQ(*blinded->run(RunInput{}), *interpret(program, RunInput{}));
}

TEST(JitProgram, AutomaticEngineFallsBackToTheInterpreterAndSaysWhy) {
  Program program = load("mov %r0, 42\nexit\n");
  jit::ExecMemory::inject_failure_for_testing(true);
  std::string note;
  auto automatic = run_program(Engine::automatic, program, RunInput{}, {}, &note);
  auto forced = run_program(Engine::jit, program, RunInput{}, {});
  auto compiled = JitProgram::compile(program);
  jit::ExecMemory::inject_failure_for_testing(false);
  ASSERT_TRUE(automatic.ok());
  EXPECT_EQ(*automatic, 42u);
  EXPECT_NE(note.find("interpreter"), std::string::npos) << note;
  EXPECT_NE(note.find("injected failure"), std::string::npos) << note;
  ASSERT_FALSE(forced.ok());
  EXPECT_NE(forced.error().message.find("injected failure"), std::string::npos);
  EXPECT_FALSE(compiled.ok());

  note.clear();
  auto jitted = run_program(Engine::automatic, program, RunInput{}, {}, &note);
  EXPECT_EQ(*jitted, 42u);
  EXPECT_EQ(note, "");
}

TEST(JitProgram, AVariantThatCannotBeCompiledLaterRunsInTheInterpreter) {
  Program program = load("mov %r0, 7\nexit\n");
  auto jit = JitProgram::compile(program);  // checked, not counting
  ASSERT_TRUE(jit.ok());
  jit::ExecMemory::inject_failure_for_testing(true);
  RunOptions run;
  run.memory_mode = MemoryMode::unchecked;  // another variant, compiled now: fails
  auto result = jit->run(RunInput{}, run);
  jit::ExecMemory::inject_failure_for_testing(false);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 7u);
}

TEST(JitProgram, ManyThreadsRunOneProgram) {
  // Each thread runs over its own memory, in both modes, with and without a budget: the
  // variants are compiled on first use, concurrently.
  Program program = load(
      "mov %r0, 0\nmov %r3, 0\nloop:\nldxb %r4, [%r1+0]\nadd %r0, %r4\nmul %r0, 31\nadd %r1, 1\n"
      "add %r3, 1\njlt %r3, %r2, loop\nexit\n");
  auto jit = JitProgram::compile(program);
  ASSERT_TRUE(jit.ok());
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::uint8_t> memory(64 + static_cast<std::size_t>(t));
      for (int i = 0; i < 500; ++i) {
        for (std::size_t j = 0; j < memory.size(); ++j)
          memory[j] = static_cast<std::uint8_t>(i * 7 + j * t);
        RunOptions run;
        run.memory_mode = i % 2 ? MemoryMode::checked : MemoryMode::unchecked;
        if (i % 3 == 0) run.budget = 100'000;
        auto ours = jit->run(RunInput::raw(memory), run);
        auto reference = interpret(program, RunInput::raw(memory), run);
        if (!ours.ok() || !reference.ok() || *ours != *reference) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(JitProgram, DumpListsEveryInstruction) {
  Program program = load("mov %r0, 1\nlddw %r1, 0x123456789\nexit\n");
  auto dump = jit_dump(program);
  ASSERT_TRUE(dump.ok());
  EXPECT_NE(dump->find("   0: mov %r0, 1"), std::string::npos) << *dump;
  EXPECT_NE(dump->find("   1: lddw %r1, 0x123456789"), std::string::npos) << *dump;
  EXPECT_NE(dump->find("   3: exit"), std::string::npos) << *dump;
  EXPECT_EQ(dump->find("   2:"), std::string::npos) << *dump;  // lddw's second slot
}

}  // namespace
}  // namespace bpfvm::jit_test
