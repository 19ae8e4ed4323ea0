// Registers across calls out of JIT code: every eBPF register holds a distinct value, then
// something runs that may clobber x86 registers (a helper that scrambles every caller-saved
// register, the same through callx, a local call whose callee scrambles everything, nested
// local calls, the checked-mode slow path into C++, a helper that grants a region), and
// each register is read back. The interpreter keeps r1-r5 across helper calls and r6-r9
// across local calls; the JIT must too.
#include "jit/engine_harness.hpp"
#include "jit/hostile_program.hpp"

#include <bpfvm/assembler.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>

namespace bpfvm::jit_test {
namespace {

std::uint64_t marker(int r) {
  return 0x1111111111111111ULL * static_cast<std::uint64_t>(r) ^ 0x0123456789abcdefULL;
}

std::string set_all_registers() {
  std::string source;
  for (int r = 0; r <= 9; ++r) source += fmt::format("lddw %r{}, {:#x}\n", r, marker(r));
  return source;
}

struct Disruptor {
  const char* name;
  std::string code;       // runs after the registers are set
  std::string functions;  // local functions, after the main exit
  int first_kept;         // registers from here to r9 must come back unchanged
  int last_kept;
};

class RegisterStress : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_ = std::make_unique<HostMemory>();
    helpers_ = test_helpers(*memory_);
  }

  // Runs the program through both engines; returns the JIT's r0 after checking they agree.
  std::uint64_t run(const std::string& source, const RunOptions& options = {}) {
    auto insns = assemble(source);
    EXPECT_TRUE(insns.ok()) << insns.error().to_string() << "\n" << source;
    if (!insns) return 0;
    auto program = Program::load(*insns, LoadOptions{.helpers = &helpers_});
    EXPECT_TRUE(program.ok()) << program.error().to_string();
    if (!program) return 0;
    JitOptions jit_options;
    jit_options.memory_mode = options.memory_mode;
    jit_options.count_instructions = options.budget.has_value();
    auto jit = JitProgram::compile(*program, jit_options);
    EXPECT_TRUE(jit.ok()) << jit.error().to_string();
    if (!jit) return 0;
    RawComparison compared = compare_raw(
        *program, *jit, std::span<const std::uint8_t>(memory_->context.data(), 64), options);
    EXPECT_EQ(compared.difference, "") << source;
    EXPECT_TRUE(compared.jit.result.has_value()) << describe(compared.jit) << "\n" << source;
    return compared.jit.result.value_or(0);
  }

  std::unique_ptr<HostMemory> memory_;
  HelperRegistry helpers_;
};

std::vector<Disruptor> disruptors(const HostMemory& memory) {
  // A callee that overwrites every register it may, and calls a scrambling helper.
  std::string scrambling_callee = "scramble_all:\n";
  for (int r = 0; r <= 9; ++r) scrambling_callee += fmt::format("mov %r{}, {}\n", r, -1000 - r);
  scrambling_callee += fmt::format("call {}\nexit\n", helper_id::scramble);
  // Seven nested frames, each overwriting r6-r9 before going deeper.
  std::string nested;
  for (int depth = 1; depth <= 7; ++depth) {
    nested += fmt::format("nest{}:\n", depth);
    for (int r = 6; r <= 9; ++r) nested += fmt::format("mov %r{}, {}\n", r, depth * 100 + r);
    nested += fmt::format("call {}\n", helper_id::scramble);
    nested += depth < 7 ? fmt::format("call local nest{}\n", depth + 1) : std::string();
    nested += "exit\n";
  }
  const auto region = reinterpret_cast<std::uint64_t>(memory.writable.data());
  return {
      {"helper that scrambles caller-saved registers",
       fmt::format("call {}\n", helper_id::scramble), "", 1, 9},
      {"callx of that helper", fmt::format("mov %r0, {}\ncallx %r0\n", helper_id::scramble), "", 1,
       9},
      {"local call whose callee scrambles everything", "call local scramble_all\n",
       scrambling_callee, 6, 9},
      {"seven nested local calls", "call local nest1\n", nested, 6, 9},
      {"checked-mode slow path (a RunOptions region)",
       fmt::format("stxdw [%r10-8], %r1\nlddw %r1, {:#x}\nldxdw %r0, [%r1+8]\nstxdw [%r1+16], %r0\n"
                   "ldxdw %r1, [%r10-8]\nlddw %r0, {:#x}\n",
                   region, marker(0)),
       "", 0, 9},
      {"checked-mode slow path (the stack through a copied pointer)",
       fmt::format(
           "mov %r0, %r10\nadd %r0, -16\nstxdw [%r0], %r6\nldxdw %r6, [%r0]\nlddw %r0, {:#x}\n",
           marker(0)),
       "", 0, 9},
  };
}

TEST_F(RegisterStress, EveryRegisterSurvivesWhatMustKeepIt) {
  for (const Disruptor& d : disruptors(*memory_)) {
    SCOPED_TRACE(d.name);
    RunOptions options;
    options.regions.push_back({memory_->writable.data(), memory_->writable.size(), true});
    for (int r = d.first_kept; r <= d.last_kept; ++r) {
      std::string source =
          set_all_registers() + d.code + fmt::format("mov %r0, %r{}\nexit\n", r) + d.functions;
      if (r == 0) source = set_all_registers() + d.code + "exit\n" + d.functions;
      EXPECT_EQ(hex(run(source, options)), hex(marker(r))) << "r" << r;
    }
    // And every register at once, whether kept or not, agrees with the interpreter.
    std::string fold = set_all_registers() + d.code;
    for (int r = 1; r <= 9; ++r) fold += fmt::format("mul %r0, 0x5bd1e995\nxor %r0, %r{}\n", r);
    run(fold + "exit\n" + d.functions, options);
  }
}

TEST_F(RegisterStress, GrantedRegionThroughTheSlowPathKeepsRegisters) {
  // lookup(0) grants a writable buffer; accesses through it go to the C++ slow path.
  std::string source =
      set_all_registers() + fmt::format(
                                "stxdw [%r10-8], %r1\nmov %r1, 0\ncall {}\nldxdw %r1, [%r10-8]\n"
                                "stxdw [%r0+8], %r6\nldxdw %r6, [%r0+8]\nlddw %r0, {:#x}\n",
                                helper_id::lookup, marker(0));
  for (int r = 0; r <= 9; ++r)
    EXPECT_EQ(hex(run(source + fmt::format("mov %r0, %r{}\nexit\n", r))), hex(marker(r)))
        << "r" << r;
}

// System V wants rsp 16-byte aligned at every call; a helper storing with movdqa to an
// aligned stack slot faults otherwise. Called from main, through callx, and from every depth
// of nested local calls.
TEST_F(RegisterStress, HelpersSeeAnAlignedStackAtEveryDepth) {
  const int id = helper_id::aligned_sse;
  std::string nested = fmt::format(
      "mov %r1, 1\nmov %r2, 2\ncall {}\nmov %r6, %r0\ncall local d1\nadd %r0, %r6\nexit\n", id);
  for (int depth = 1; depth <= 7; ++depth) {
    nested +=
        fmt::format("d{}:\nmov %r1, {}\nmov %r2, 10\ncall {}\nmov %r6, %r0\n", depth, depth, id);
    nested += fmt::format("mov %r0, {}\ncallx %r0\nadd %r6, %r0\n", id);
    if (depth < 7) nested += fmt::format("call local d{}\nadd %r6, %r0\n", depth + 1);
    nested += "mov %r0, %r6\nexit\n";
  }
  // Each level adds (depth + 10) twice, plus the deeper levels; main adds 3.
  std::uint64_t expected = 3;
  for (int depth = 1; depth <= 7; ++depth) expected += 2 * static_cast<std::uint64_t>(depth + 10);
  EXPECT_EQ(run(nested), expected);
}

TEST_F(RegisterStress, HelpersInALoopKeepTheLoopCounter) {
  // r1-r5 survive helper calls in the interpreter, so a counter may live in one of them.
  for (int counter = 1; counter <= 9; ++counter) {
    std::string source = fmt::format(
        "mov %r0, 0\nmov %r{0}, 100\nloop:\nmov %r6, %r0\ncall {1}\nadd %r6, 1\nmov %r0, %r6\n"
        "sub %r{0}, 1\njne %r{0}, 0, loop\nexit\n",
        counter, helper_id::scramble);
    if (counter == 6) continue;  // r6 carries r0 in this program
    RunOptions options;
    options.budget = 10'000;  // a clobbered counter fails the test instead of hanging it
    EXPECT_EQ(run(source, options), 100u) << "counter r" << counter;
  }
}

}  // namespace
}  // namespace bpfvm::jit_test
