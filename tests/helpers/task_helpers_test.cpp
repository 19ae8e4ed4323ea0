// Time, randomness and the calling thread: ktime_get_ns, ktime_get_boot_ns,
// get_prandom_u32, get_smp_processor_id, get_current_pid_tgid, get_current_uid_gid,
// get_current_comm, on both engines.
#include "helpers/harness.hpp"

#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace bpfvm::helper_test {
namespace {

Program load_source(const HelperRegistry& helpers, std::string_view source) {
  auto program = Program::load(assemble_or_fail(source), {.helpers = &helpers});
  EXPECT_TRUE(program) << program.error().to_string();
  return *program;
}

u64 now_ns(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<u64>(t.tv_sec) * 1'000'000'000u + static_cast<u64>(t.tv_nsec);
}

TEST(TaskHelpers, ClocksAreMonotonicAndBootTime) {
  HelperRegistry helpers = linux_helpers();
  for (auto [id, clock] : {std::pair{5, CLOCK_MONOTONIC}, std::pair{125, CLOCK_BOOTTIME}}) {
    // r0 = second reading - first reading; both readings must lie within the host's clock.
    Program program = load_source(helpers, "call " + std::to_string(id) + "\nexit\n");
    u64 before = now_ns(clock);
    Outcomes outcomes = run_both(program, {});
    u64 after = now_ns(clock);
    for (const auto* r : {&outcomes.interpreter, &outcomes.jit}) {
      ASSERT_TRUE(*r) << show(*r);
      EXPECT_GE(**r, before);
      EXPECT_LE(**r, after);
    }
  }
}

TEST(TaskHelpers, PrandomIsReproducibleWithASeedAnd32Bits) {
  auto sequence = [](std::uint64_t seed) {
    HelperRegistry helpers = linux_helpers({.prandom_seed = seed});
    Program program = load_source(helpers, R"(
      call 7
      mov %r6, %r0
      call 7
      rsh %r6, 0
      lsh %r0, 32
      or %r0, %r6
      exit
    )");
    return run_both(program, {});
  };
  Outcomes a = sequence(1234), b = sequence(1234), c = sequence(99);
  ASSERT_TRUE(a.interpreter && a.jit && b.interpreter && c.interpreter);
  EXPECT_EQ(*a.interpreter, *b.interpreter);
  EXPECT_EQ(*a.jit, *b.jit);
  EXPECT_NE(*a.interpreter, *a.jit);  // the sequence goes on between runs
  EXPECT_NE(*a.interpreter, *c.interpreter);
  EXPECT_NE(*a.interpreter >> 32, *a.interpreter & 0xffffffff);
}

TEST(TaskHelpers, CurrentThreadIdentity) {
  HelperRegistry helpers = linux_helpers();
  u64 pid_tgid = (static_cast<u64>(getpid()) << 32) | static_cast<std::uint32_t>(gettid());
  EXPECT_BOTH_EQ(run_both(load_source(helpers, "call 14\nexit\n"), {}), pid_tgid);
  u64 uid_gid = (static_cast<u64>(getgid()) << 32) | getuid();
  EXPECT_BOTH_EQ(run_both(load_source(helpers, "call 15\nexit\n"), {}), uid_gid);
  Outcomes cpu = run_both(load_source(helpers, "call 8\nexit\n"), {});
  ASSERT_TRUE(cpu.interpreter && cpu.jit);
  EXPECT_LT(*cpu.interpreter, std::thread::hardware_concurrency() + 64u);
}

TEST(TaskHelpers, CurrentCommIsTheThreadNameTruncatedAndPadded) {
  HelperRegistry helpers = linux_helpers();
  char saved[17] = {};
  prctl(PR_GET_NAME, saved);
  prctl(PR_SET_NAME, "bpfvm-comm-test");
  // get_current_comm(ctx, ctx_len): ctx is 24 bytes (all of comm and zero padding) or 6.
  Program program = load_source(helpers, "call 16\nexit\n");
  for (std::size_t size : {24u, 6u}) {
    std::vector<std::uint8_t> memory(size, 0xee);
    Outcomes outcomes = run_both(program, RunInput::raw(memory), {},
                                 [&] { std::fill(memory.begin(), memory.end(), 0xee); });
    EXPECT_BOTH_EQ(outcomes, 0);
    std::vector<std::uint8_t> expected(size, 0);
    std::memcpy(expected.data(), "bpfvm-comm-test", std::min<std::size_t>(size - 1, 15));
    EXPECT_EQ(memory, expected) << size;
  }
  prctl(PR_SET_NAME, saved);
}

}  // namespace
}  // namespace bpfvm::helper_test
