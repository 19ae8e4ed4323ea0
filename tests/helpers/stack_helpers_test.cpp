// bpf_get_stackid (27) with an embedder's stack source, on both engines, and bpf_jiffies64
// (118) against the host's monotonic clock.
#include "helpers/harness.hpp"
#include "support/kernel_bpf.hpp"

#include <bpfvm/map.hpp>

#include <time.h>

#include <cerrno>
#include <vector>

namespace bpfvm::helper_test {
namespace {

// r0 = get_stackid(ctx, map, flags).
Program stackid_program(const HelperRegistry& helpers, std::shared_ptr<Map> map, u64 flags) {
  auto insns =
      assemble_or_fail("lddw %r2, 0\nlddw %r3, " + std::to_string(flags) + "\ncall 27\nexit\n");
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  auto program = Program::load(insns, {.helpers = &helpers, .maps = {map}});
  EXPECT_TRUE(program) << program.error().to_string();
  return *program;
}

std::shared_ptr<Map> stack_map(std::uint32_t depth, std::uint32_t entries) {
  MapSpec spec;
  spec.type = MapType::stack_trace;
  spec.key_size = 4;
  spec.value_size = depth * 8;
  spec.max_entries = entries;
  auto map = Map::create(spec);
  EXPECT_TRUE(map) << map.error().to_string();
  return *map;
}

TEST(StackHelpers, GetStackidStoresTheSourcesFramesAfterTheSkippedOnes) {
  std::vector<u64> kernel_stack = {0xffff0001, 0xffff0002, 0xffff0003, 0xffff0004};
  std::vector<u64> user_stack = {0x400100, 0x400200};
  std::vector<std::size_t> asked;
  HelperOptions options;
  options.stack_trace = [&](bool user, std::span<u64> ips) {
    asked.push_back(ips.size());
    const std::vector<u64>& stack = user ? user_stack : kernel_stack;
    const std::size_t n = std::min(ips.size(), stack.size());
    std::copy_n(stack.begin(), n, ips.begin());
    return n;
  };
  HelperRegistry helpers = linux_helpers(options);
  auto map = stack_map(3, 16);
  // skip 1: frames 2..4 of the kernel stack; the source is asked for depth + skip frames.
  Program skip_one = stackid_program(helpers, map, 1);
  Outcomes outcomes = run_both(skip_one, {});
  ASSERT_TRUE(outcomes.interpreter) << show(outcomes.interpreter);
  EXPECT_BOTH_EQ(outcomes, *outcomes.interpreter);  // the same stack gets the same id
  EXPECT_LT(*outcomes.interpreter, 16u);
  EXPECT_EQ(asked.front(), 4u);
  u64 value[3];
  const auto id = static_cast<std::uint32_t>(*outcomes.interpreter);
  ASSERT_EQ(map->host_lookup(&id, value), 0);
  EXPECT_EQ(value[0], 0xffff0002u);
  EXPECT_EQ(value[2], 0xffff0004u);
  // BPF_F_USER_STACK takes the user stack; skipping all of it is -EFAULT.
  Program user = stackid_program(helpers, map, 1u << 8);
  Outcomes user_outcomes = run_both(user, {});
  ASSERT_TRUE(user_outcomes.interpreter) << show(user_outcomes.interpreter);
  EXPECT_NE(*user_outcomes.interpreter, *outcomes.interpreter);
  Program skip_all = stackid_program(helpers, map, (1u << 8) | 2);
  EXPECT_BOTH_EQ(run_both(skip_all, {}), neg(EFAULT));
  // Unknown flag bits: -EINVAL.
  Program bad_flags = stackid_program(helpers, map, 1u << 11);
  EXPECT_BOTH_EQ(run_both(bad_flags, {}), neg(EINVAL));
}

TEST(StackHelpers, CollisionsFollowReuseStackid) {
  std::vector<u64> stack = {1, 2};
  HelperOptions options;
  options.stack_trace = [&](bool, std::span<u64> ips) {
    const std::size_t n = std::min(ips.size(), stack.size());
    std::copy_n(stack.begin(), n, ips.begin());
    return n;
  };
  HelperRegistry helpers = linux_helpers(options);
  auto map = stack_map(2, 1);  // one bucket
  Program plain = stackid_program(helpers, map, 0);
  Program reuse = stackid_program(helpers, map, 1u << 10);
  EXPECT_EQ(*interpret(plain, {}), 0u);
  stack = {3};
  EXPECT_EQ(*interpret(plain, {}), neg(EEXIST));
  EXPECT_EQ(*interpret(reuse, {}), 0u);
  u64 value[2];
  const std::uint32_t key = 0;
  ASSERT_EQ(map->host_lookup(&key, value), 0);
  EXPECT_EQ(value[0], 3u);
}

TEST(StackHelpers, WithoutAStackSourceTheStackIsEmpty) {
  HelperRegistry helpers = linux_helpers();
  Program program = stackid_program(helpers, stack_map(4, 4), 0);
  EXPECT_BOTH_EQ(run_both(program, {}), neg(EFAULT));
}

TEST(StackHelpers, GetStackidRefusesOtherMaps) {
  HelperRegistry helpers = linux_helpers();
  MapSpec spec;
  spec.type = MapType::array;
  spec.key_size = 4;
  spec.value_size = 8;
  spec.max_entries = 1;
  auto array = Map::create(spec);
  ASSERT_TRUE(array);
  Program program = stackid_program(helpers, *array, 0);
  auto r = interpret(program, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("stack_trace"), std::string::npos) << r.error().to_string();
}

u64 monotonic_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<u64>(t.tv_sec) * 1'000'000'000u + static_cast<u64>(t.tv_nsec);
}

TEST(TimeHelpers, Jiffies64TicksAtConfigHzFromInitialJiffies) {
  for (std::uint32_t hz : {100u, 250u, 1000u}) {
    HelperOptions options;
    options.config_hz = hz;
    HelperRegistry helpers = linux_helpers(options);
    auto program = Program::load(assemble_or_fail("call 118\nexit\n"), {.helpers = &helpers});
    ASSERT_TRUE(program);
    // INITIAL_JIFFIES = (u32)(-300 * HZ), plus one tick per 1/HZ s of CLOCK_MONOTONIC.
    const u64 initial = static_cast<std::uint32_t>(-300 * static_cast<std::int64_t>(hz));
    const u64 before = initial + monotonic_ns() / (1'000'000'000u / hz);
    Outcomes outcomes = run_both(*program, {});
    const u64 after = initial + monotonic_ns() / (1'000'000'000u / hz);
    for (const auto* r : {&outcomes.interpreter, &outcomes.jit}) {
      ASSERT_TRUE(*r) << show(*r);
      EXPECT_GE(**r, before) << hz;
      EXPECT_LE(**r, after) << hz;
    }
  }
}

TEST(TimeHelpers, Jiffies64DefaultsToTheKernelsConfigHz) {
  HelperRegistry helpers = linux_helpers();
  auto program = Program::load(assemble_or_fail("call 118\nmov %r6, %r0\ncall 118\nsub %r0, %r6\n"
                                                "exit\n"),
                               {.helpers = &helpers});
  ASSERT_TRUE(program);
  auto r = interpret(*program, {});
  ASSERT_TRUE(r);
  EXPECT_LE(*r, 1u);  // two readings in a row: at most one tick apart
}

// The kernel's bpf_jiffies64 against bpfvm's, read back to back. BPF_PROG_TEST_RUN reports
// the low 32 bits of r0; the two differ by the ticks between the readings and by where the
// kernel's tick started relative to CLOCK_MONOTONIC's zero (15 to 19 ticks on the machine
// this was written on, HZ 250), so 50 ticks (200 ms at HZ 250) is the bound.
TEST(TimeHelpers, Jiffies64MatchesTheKernels) {
  namespace k = bpfvm::test::kernel;
  if (auto probe = k::probe(); !probe) GTEST_SKIP() << probe.error().to_string();
  const std::vector<Insn> insns = assemble_or_fail("call 118\nexit\n");
  auto fd = k::load_program(insns);
  if (!fd && fd.error().is_refusal()) GTEST_SKIP() << fd.error().to_string();
  ASSERT_TRUE(fd) << fd.error().to_string();
  HelperRegistry helpers = linux_helpers();
  auto program = Program::load(insns, {.helpers = &helpers});
  ASSERT_TRUE(program);
  std::uint8_t packet[64] = {};
  auto kernel = k::test_run(*fd, packet);
  ASSERT_TRUE(kernel) << kernel.error().to_string();
  auto ours = interpret(*program, {});
  ASSERT_TRUE(ours);
  const auto difference =
      static_cast<std::int32_t>(static_cast<std::uint32_t>(*ours) - kernel->retval);
  EXPECT_GE(difference, -50) << "bpfvm " << *ours << ", kernel (low 32 bits) " << kernel->retval;
  EXPECT_LE(difference, 50) << "bpfvm " << *ours << ", kernel (low 32 bits) " << kernel->retval;
}

}  // namespace
}  // namespace bpfvm::helper_test
