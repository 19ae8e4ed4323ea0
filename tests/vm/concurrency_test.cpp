// One Program run from 8 threads at once, each with its own memory: every run gives its own
// correct answer. Meant for the sanitizer build too (ThreadSanitizer-clean by construction:
// a Program is immutable and every run has its own state).
#include "support/case_runner.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>

namespace bpfvm::testing {
namespace {

std::uint64_t address_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Helper 1: grants the calling thread's own buffer (read-only) and returns its address.
thread_local std::array<std::uint64_t, 4> thread_buffer{};
std::uint64_t grant_thread_buffer(HelperCall& call, std::uint64_t, std::uint64_t, std::uint64_t,
                                  std::uint64_t, std::uint64_t) {
  call.grant(thread_buffer.data(), sizeof thread_buffer, false);
  return address_of(thread_buffer.data());
}

// Sums the 8 doublewords of the memory through a stack copy and a local call, adds an atomic
// counter in the memory, then adds the first doubleword of the thread's granted buffer.
// memory: 8 u64 inputs, then a u64 counter at offset 64.
std::vector<Insn> summing_program() {
  return {
      mov64_imm(6, 0),               // 0: r6 = i = 0
      mov64_imm(7, 0),               // 1: r7 = sum
      mov64_reg(2, 1),               // 2: loop: r2 = r1 + 8 * i
      mov64_reg(3, 6),               // 3
      make_insn(0x67, 3, 0, 0, 3),   // 4: lsh r3, 3
      add64_reg(2, 3),               // 5
      ldx(Size::dw, 4, 2, 0),        // 6: r4 = mem[i]
      stx(Size::dw, 10, 4, -8),      // 7: through the stack
      mov64_reg(8, 1),               // 8: keep r1 (callee may clobber r1-r5)
      mov64_reg(1, 10),              // 9
      add64_imm(1, -8),              // 10
      call_local(13),                // 11 -> 25: r0 = *r1 * 1
      mov64_reg(1, 8),               // 12
      add64_reg(7, 0),               // 13
      add64_imm(6, 1),               // 14
      jne_imm(6, 8, -14),            // 15 -> 2
      mov64_imm(3, 1),               // 16
      atomic_add(Size::dw, 1, 3, 64),  // 17: counter += 1
      call_helper(1),                // 18: r0 = this thread's buffer
      ldx(Size::dw, 0, 0, 0),        // 19
      add64_reg(0, 7),               // 20
      exit_insn(),                   // 21
      exit_insn(),                   // 22 (never reached)
      exit_insn(),                   // 23
      exit_insn(),                   // 24
      ldx(Size::dw, 0, 1, 0),        // 25: f: r0 = *r1
      exit_insn(),                   // 26
  };
}

TEST(Concurrency, OneProgramEightThreads) {
  HelperRegistry helpers;
  ASSERT_TRUE(helpers.add({1, "grant_thread_buffer", &grant_thread_buffer, nullptr}).ok());
  auto program = Program::load(summing_program(), LoadOptions{.helpers = &helpers});
  ASSERT_TRUE(program.ok()) << describe(program.error());

  constexpr int threads = 8;
  constexpr int runs = 2000;
  std::atomic<int> failures{0};
  std::atomic<int> ready{0};
  std::array<std::string, threads> first_failure;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      thread_buffer[0] = 1000000u * static_cast<std::uint64_t>(t + 1);
      alignas(16) std::array<std::uint64_t, 9> memory{};
      ++ready;
      while (ready.load() < threads) std::this_thread::yield();  // start together
      for (int run = 0; run < runs; ++run) {
        std::uint64_t expected = thread_buffer[0];
        for (std::size_t i = 0; i < 8; ++i) {
          memory[i] = static_cast<std::uint64_t>(t) * 1000 + static_cast<std::uint64_t>(run) + i;
          expected += memory[i];
        }
        std::span<std::uint8_t> bytes(reinterpret_cast<std::uint8_t*>(memory.data()), sizeof memory);
        RunOptions options;
        if (run % 2 == 1) options.memory_mode = MemoryMode::unchecked;
        if (run % 3 == 0) options.budget = 1000;
        auto result = interpret(*program, RunInput::raw(bytes), options);
        bool ok = result.ok() && *result == expected && memory[8] == static_cast<std::uint64_t>(run + 1);
        if (!ok && failures++ == 0)
          first_failure[static_cast<std::size_t>(t)] =
              "thread " + std::to_string(t) + " run " + std::to_string(run) + ": " +
              (result.ok() ? "got " + hex(*result) + " expected " + hex(expected) +
                                 " counter " + std::to_string(memory[8])
                           : describe(result.error()));
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::string message;
  for (const auto& f : first_failure) message += f;
  EXPECT_EQ(failures.load(), 0) << message;
}

// A region one thread's helper granted is never visible to another thread's run.
TEST(Concurrency, GrantsStayWithTheirRun) {
  HelperRegistry helpers;
  ASSERT_TRUE(helpers.add({1, "grant_thread_buffer", &grant_thread_buffer, nullptr}).ok());
  // r2 = another thread's buffer; grant our own, then read the other: out of bounds.
  auto program = Program::load(
      std::vector<Insn>{mov64_reg(6, 2), call_helper(1), ldx(Size::dw, 0, 0, 0), ldx(Size::dw, 0, 6, 0), exit_insn()},
      LoadOptions{.helpers = &helpers});
  ASSERT_TRUE(program.ok()) << describe(program.error());

  constexpr int threads = 8;
  std::array<std::atomic<std::uint64_t>, threads> buffers{};
  std::atomic<int> ready{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      buffers[static_cast<std::size_t>(t)] = address_of(thread_buffer.data());
      ++ready;
      while (ready.load() < threads) std::this_thread::yield();
      RunInput input;
      input.r2 = buffers[static_cast<std::size_t>((t + 1) % threads)];
      for (int run = 0; run < 2000; ++run) {
        auto result = interpret(*program, input);
        if (result.ok() || result.error().kind != Error::Kind::out_of_bounds ||
            result.error().insn_index != 3u)
          ++wrong;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace bpfvm::testing
