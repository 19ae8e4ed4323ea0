// bpf_probe_read, bpf_trace_printk, bpf_snprintf and bpf_strncmp on both engines.
#include "helpers/harness.hpp"
#include "helpers/test_maps.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace bpfvm::helper_test {
namespace {

// Runs `source` with `memory` as a raw context (r1 = memory, r2 = its length).
Outcomes run_raw(const HelperRegistry& helpers, std::string_view source,
                 std::vector<std::uint8_t>& memory, const std::vector<std::uint8_t>& initial,
                 std::vector<std::shared_ptr<Map>> maps = {}) {
  auto program = Program::load(assemble_or_fail(source), {.helpers = &helpers, .maps = maps});
  EXPECT_TRUE(program) << program.error().to_string();
  if (!program) return {};
  return run_both(*program, RunInput::raw(memory), {}, [&] { memory = initial; });
}

std::vector<std::uint8_t> bytes(std::string_view text, std::size_t size) {
  std::vector<std::uint8_t> out(size, 0);
  std::memcpy(out.data(), text.data(), std::min(size, text.size()));
  return out;
}

TEST(ProbeRead, CopiesAdmittedMemoryAndZeroFillsTheRest) {
  HelperRegistry helpers = linux_helpers();
  // probe_read(r10-16, 8, ctx+4) then probe_read(r10-8, 8, 0x1000): -EFAULT, zeroed.
  const char* source = R"(
    mov %r6, %r1
    stdw [%r10-8], -1
    mov %r1, %r10
    add %r1, -16
    mov %r2, 8
    mov %r3, %r6
    add %r3, 4
    call 4
    mov %r7, %r0
    mov %r1, %r10
    add %r1, -8
    mov %r2, 8
    mov %r3, 0x1000
    call 4
    neg %r0
    ldxdw %r1, [%r10-8]
    add %r0, %r1
    ldxw %r1, [%r10-16]
    lsh %r1, 32
    or %r0, %r1
    add %r0, %r7
    exit
  )";
  std::vector<std::uint8_t> initial = {0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 5, 6, 7, 8};
  std::vector<std::uint8_t> memory = initial;
  EXPECT_BOTH_EQ(run_raw(helpers, source, memory, initial), (u64{0x44332211} << 32) | EFAULT);
}

TEST(ProbeRead, BadDestinationFailsInCheckedMode) {
  HelperRegistry helpers = linux_helpers();
  std::vector<std::uint8_t> memory(8), initial(8);
  EXPECT_BOTH_FAIL(run_raw(helpers, "mov %r3, %r1\nmov %r1, 0x2000\nmov %r2, 4\ncall 4\nexit\n",
                           memory, initial),
                   Error::Kind::helper, "probe_read: dst at 0x2000 (4 bytes) is not writable");
}

TEST(TracePrintk, FormatsToTheSinkAndReturnsTheLength) {
  std::vector<std::string> lines;
  HelperRegistry helpers =
      linux_helpers({.trace_sink = [&](std::string_view line) { lines.emplace_back(line); }});
  // ctx: the format at 0, the string argument at 64.
  const char* source = R"(
    mov %r6, %r1
    mov %r1, %r6
    mov %r2, 40
    mov %r3, -5
    mov %r4, %r6
    add %r4, 64
    mov %r5, 255
    call 6
    exit
  )";
  auto initial = bytes("v=%d s=%s x=%04x %%\n", 128);
  std::memcpy(initial.data() + 64, "hi", 3);
  std::vector<std::uint8_t> memory = initial;
  std::string expected = "v=-5 s=hi x=00ff %\n";
  EXPECT_BOTH_EQ(run_raw(helpers, source, memory, initial), expected.size());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], expected);
  EXPECT_EQ(lines[1], expected);
}

TEST(TracePrintk, RejectsWhatLinuxRejects) {
  HelperRegistry helpers = linux_helpers({.trace_sink = [](std::string_view) {}});
  const char* source = R"(
    mov %r2, 32
    mov %r3, 1
    mov %r4, 2
    mov %r5, 3
    call 6
    exit
  )";
  for (const char* format : {"%d %d %d %d", "%5.2d", "%q", "%lf", "%sx", "%pQ", "\x01"}) {
    auto initial = bytes(format, 32);
    std::vector<std::uint8_t> memory = initial;
    SCOPED_TRACE(format);
    EXPECT_BOTH_EQ(run_raw(helpers, source, memory, initial), neg(EINVAL));
  }
  // No NUL within fmt_size.
  auto unterminated = bytes("abcdefgh", 8);
  std::vector<std::uint8_t> memory = unterminated;
  EXPECT_BOTH_EQ(run_raw(helpers, "mov %r2, 8\ncall 6\nexit\n", memory, unterminated), neg(EINVAL));
}

// Linux leaves trace_printk's r3-r5 unchecked (ARG_DONTCARE), so a verified program may pass
// any number there, a %s included: the helper must read strings only where the run admits
// memory, in unchecked mode too (never through the raw pointer). r3 is the context's string,
// r4 a host string the run never granted (a plain dereference would print "secret"), r5 an
// address nothing maps (a plain dereference would crash).
TEST(TracePrintk, StringsAreReadOnlyFromAdmittedMemoryInEveryMode) {
  static const char secret[] = "secret";
  std::vector<std::string> lines;
  HelperRegistry helpers =
      linux_helpers({.trace_sink = [&](std::string_view line) { lines.emplace_back(line); }});
  const std::string source = fmt::format(R"(
    mov %r6, %r1
    mov %r2, 24
    mov %r3, %r6
    add %r3, 64
    lddw %r4, {}
    mov %r5, 16
    call 6
    exit
  )",
                                         reinterpret_cast<std::uintptr_t>(secret));
  auto program = Program::load(assemble_or_fail(source), {.helpers = &helpers});
  ASSERT_TRUE(program) << program.error().to_string();
  const std::string expected = "a=hi b= c=\n";
  for (MemoryMode mode : {MemoryMode::checked, MemoryMode::unchecked}) {
    SCOPED_TRACE(mode == MemoryMode::checked ? "checked" : "unchecked");
    lines.clear();
    auto initial = bytes("a=%s b=%s c=%s\n", 128);
    std::memcpy(initial.data() + 64, "hi", 3);
    std::vector<std::uint8_t> memory = initial;
    EXPECT_BOTH_EQ(
        run_both(*program, RunInput::raw(memory), options_with(mode), [&] { memory = initial; }),
        expected.size());
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], expected);
    EXPECT_EQ(lines[1], expected);
  }
}

// snprintf(ctx+64, ctx[56], fmt = ctx, data = ctx+32, 24): the output lands in ctx+64.
std::string snprintf_run(const char* format, const std::uint64_t (&args)[3], std::uint32_t size,
                         u64* r0) {
  HelperRegistry helpers = linux_helpers();
  const char* source = R"(
    mov %r6, %r1
    mov %r1, %r6
    add %r1, 64
    ldxw %r2, [%r6+56]
    mov %r3, %r6
    mov %r4, %r6
    add %r4, 32
    mov %r5, 24
    call 165
    exit
  )";
  auto initial = bytes(format, 128);
  std::memcpy(initial.data() + 32, args, 24);
  std::memcpy(initial.data() + 56, &size, 4);
  std::vector<std::uint8_t> memory = initial;
  Outcomes outcomes = run_raw(helpers, source, memory, initial);
  EXPECT_TRUE(outcomes.interpreter && outcomes.jit && *outcomes.interpreter == *outcomes.jit)
      << show(outcomes.interpreter) << " vs " << show(outcomes.jit);
  *r0 = outcomes.jit ? *outcomes.jit : 0;
  return std::string(reinterpret_cast<const char*>(memory.data() + 64));
}

TEST(Snprintf, LinuxFormatsAndTruncation) {
  u64 r0 = 0;
  EXPECT_EQ(snprintf_run("%d|%u|%x", {u64(-7), u64(-7), 255}, 64, &r0), "-7|4294967289|ff");
  EXPECT_EQ(r0, 17u);
  EXPECT_EQ(snprintf_run("%lld %llx %5d", {u64(-7), u64(-1), 42}, 64, &r0),
            "-7 ffffffffffffffff    42");
  EXPECT_EQ(snprintf_run("%-4d|%04u|%+d", {1, 2, 3}, 64, &r0), "1   |0002|+3");
  EXPECT_EQ(snprintf_run("%c%c%c", {'a', 'b', 'c'}, 64, &r0), "abc");
  EXPECT_EQ(snprintf_run("%pI4 %pi4", {0, 0, 0}, 64, &r0), "0.0.0.0 000.000.000.000");
  // Truncated to the buffer, NUL-terminated; the result counts the whole text and its NUL.
  EXPECT_EQ(snprintf_run("%d%d%d", {111, 222, 333}, 5, &r0), "1112");
  EXPECT_EQ(r0, 10u);
  EXPECT_EQ(snprintf_run("%d %d %d %d", {1, 2, 3}, 64, &r0), "");
  EXPECT_EQ(r0, neg(EINVAL));
}

TEST(Strncmp, KernelResults) {
  HelperRegistry helpers = linux_helpers();
  // strncmp(ctx, ctx[56], ctx+32)
  const char* source = R"(
    mov %r6, %r1
    ldxw %r2, [%r6+56]
    mov %r3, %r6
    add %r3, 32
    call 182
    exit
  )";
  struct Case {
    const char* s1;
    const char* s2;
    std::uint32_t n;
    int expected;
  };
  for (const Case& c :
       {Case{"abc", "abc", 4, 0}, Case{"abd", "abc", 4, 1}, Case{"abb", "abc", 4, -1},
        Case{"abX", "abc", 2, 0}, Case{"ab", "abc", 8, -1}, Case{"\xff", "a", 1, 1}}) {
    auto initial = bytes(c.s1, 64);
    std::memcpy(initial.data() + 32, c.s2, std::strlen(c.s2) + 1);
    std::memcpy(initial.data() + 56, &c.n, 4);
    std::vector<std::uint8_t> memory = initial;
    SCOPED_TRACE(c.s1);
    EXPECT_BOTH_EQ(run_raw(helpers, source, memory, initial),
                   static_cast<u64>(static_cast<std::int64_t>(c.expected)));
  }
  // s2 without a NUL in reach fails in checked mode.
  std::vector<std::uint8_t> full(64, 'a');
  std::vector<std::uint8_t> memory = full;
  EXPECT_BOTH_FAIL(
      run_raw(helpers, "mov %r2, 4\nmov %r3, %r1\nadd %r3, 60\ncall 182\nexit\n", memory, full),
      Error::Kind::helper, "strncmp: s2 at 0x");
}

}  // namespace
}  // namespace bpfvm::helper_test
