// The command line's JIT: `--engine jit|auto|interp` for run and conformance-plugin, and
// `bpfvm jit [--dump]`.
#include "support/cli_fixture.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

namespace {

namespace fs = std::filesystem;

using Outcome = bpfvm::test::CliOutcome;
using bpfvm::test::slurp;

class JitCli : public bpfvm::test::CliFixture {};

TEST_F(JitCli, EveryEngineRunsAProgram) {
  auto program = write("len.s", "mov %r0, %r2\nldxb %r1, [%r1+2]\nadd %r0, %r1\nexit\n");
  for (const char* engine : {"jit", "auto", "interp"}) {
    Outcome outcome =
        bpfvm(std::string("run --engine ") + engine + " --mem-hex 'aa bb cc' " + program.string());
    EXPECT_EQ(outcome.status, 0) << engine << ": " << outcome.err;
    EXPECT_EQ(outcome.out, "0xcf\n") << engine;
    EXPECT_EQ(outcome.err, "") << engine;
  }
  Outcome unknown = bpfvm("run --engine turbo " + program.string());
  EXPECT_EQ(unknown.status, 2);
}

TEST_F(JitCli, JitRunsCheckedUncheckedAndWithABudget) {
  auto program = write("loop.s", "mov %r0, 0\nloop:\nadd %r0, 1\njne %r0, 100, loop\nexit\n");
  EXPECT_EQ(bpfvm("run --engine jit " + program.string()).out, "0x64\n");
  EXPECT_EQ(bpfvm("run --engine jit --unchecked " + program.string()).out, "0x64\n");
  Outcome budget = bpfvm("run --engine jit --budget 50 " + program.string());
  EXPECT_EQ(budget.status, 1);
  EXPECT_NE(budget.err.find("instruction budget of 50 exhausted"), std::string::npos) << budget.err;
}

TEST_F(JitCli, JitReportsCheckedModeErrorsLikeTheInterpreter) {
  auto program = write("oob.s", "ldxw %r0, [%r1+2]\nexit\n");
  Outcome jit = bpfvm("run --engine jit --mem-hex '01 02 03' " + program.string());
  Outcome interp = bpfvm("run --engine interp --mem-hex '01 02 03' " + program.string());
  EXPECT_EQ(jit.status, 1);
  EXPECT_EQ(interp.status, 1);
  EXPECT_NE(jit.err.find("instruction 0: load of 4 bytes at address"), std::string::npos)
      << jit.err;
  // The same message but for the address (two processes, two heaps).
  auto without_address = [](std::string text) {
    return std::regex_replace(text, std::regex("0x[0-9a-f]+"), "ADDRESS");
  };
  EXPECT_EQ(without_address(jit.err), without_address(interp.err));
}

TEST_F(JitCli, ConformancePluginRunsTheJit) {
  // mov32 r0, 0x2a; exit
  std::string program = "b4 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00";
  Outcome outcome = bpfvm("conformance-plugin --engine jit ''", program);
  EXPECT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "2a\n");
}

TEST_F(JitCli, RunChecksDataFilesThroughTheJit) {
  const fs::path cases = fs::path(BPFVM_TEST_DATA_DIR) / "cases";
  int checked = 0;
  for (const char* name : {"call-depth-8-frames", "call-preserves-r6-r9-nested",
                           "ldindw-32bit-wrap", "mem-stack-copy", "call-unwind-ends-program"}) {
    fs::path file = cases / (std::string(name) + ".data");
    if (!fs::exists(file)) continue;
    Outcome outcome = bpfvm("run --engine jit --check " + file.string());
    EXPECT_EQ(outcome.status, 0) << name << ": " << outcome.err;
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no data files at " << cases;
}

TEST_F(JitCli, DumpShowsEachInstructionAndItsMachineCode) {
  auto program = write("dump.s", "mov %r0, 1\nldxw %r2, [%r1+4]\nexit\n");
  Outcome outcome = bpfvm("jit --dump " + program.string());
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const std::string& out = outcome.out;
  EXPECT_NE(out.find("   0: mov %r0, 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("mov eax, 1"), std::string::npos) << out;
  EXPECT_NE(out.find("B801000000"), std::string::npos) << out;  // the bytes
  EXPECT_NE(out.find("   1: ldxw %r2, [%r1+4]\n"), std::string::npos) << out;
  EXPECT_NE(out.find("   2: exit\n"), std::string::npos) << out;
  EXPECT_NE(out.find("out-of-line paths:"), std::string::npos) << out;
  EXPECT_LT(out.find("   0: mov"), out.find("   1: ldxw"));
  // Checked mode compares against the context inline; unchecked does not.
  EXPECT_NE(out.find("cmp r10"), std::string::npos) << out;
  Outcome unchecked = bpfvm("jit --dump --unchecked " + program.string());
  EXPECT_EQ(unchecked.out.find("cmp r10"), std::string::npos) << unchecked.out;
  Outcome size = bpfvm("jit " + program.string());
  EXPECT_EQ(size.status, 0);
  EXPECT_NE(size.out.find("bytes of machine code"), std::string::npos) << size.out;
  EXPECT_EQ(bpfvm("jit --help").status, 0);
}

TEST_F(JitCli, DumpWithBlindingHidesTheConstant) {
  auto program = write("blind.s", "mov %r0, 0x41424344\nexit\n");
  Outcome plain = bpfvm("jit --dump " + program.string());
  Outcome blind = bpfvm("jit --dump --blind " + program.string());
  EXPECT_NE(plain.out.find("44434241"), std::string::npos) << plain.out;
  EXPECT_EQ(blind.out.find("44434241"), std::string::npos) << blind.out;
}

}  // namespace
