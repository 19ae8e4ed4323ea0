// The bpfvm command, run as a user runs it: arguments in, stdout, stderr and exit status out.
#include "support/cli_fixture.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using Outcome = bpfvm::test::CliOutcome;
using bpfvm::test::slurp;

class CliTest : public bpfvm::test::CliFixture {};

TEST_F(CliTest, HelpDescribesEveryCommand) {
  Outcome top = bpfvm("--help");
  EXPECT_EQ(top.status, 0);
  for (const char* command : {"run", "asm", "disasm", "conformance-plugin"}) {
    EXPECT_NE(top.out.find(command), std::string::npos) << command;
    Outcome help = bpfvm(std::string(command) + " --help");
    EXPECT_EQ(help.status, 0) << command;
    EXPECT_NE(help.out.find("Usage"), std::string::npos) << command << ": " << help.out;
  }
  EXPECT_NE(bpfvm("run --help").out.find("--mem-hex"), std::string::npos);
  EXPECT_NE(bpfvm("disasm --help").out.find("--syntax"), std::string::npos);
}

TEST_F(CliTest, NoCommandIsAUsageError) {
  Outcome outcome = bpfvm("");
  EXPECT_EQ(outcome.status, 2);
  EXPECT_FALSE(outcome.err.empty());
}

TEST_F(CliTest, RunsAssemblyWithMemoryAndPrintsR0) {
  auto program = write("len.s", "mov %r0, %r2\nexit\n");
  Outcome outcome = bpfvm("run --mem-hex 'aa bb cc' " + program.string());
  EXPECT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "0x3\n");
}

TEST_F(CliTest, RunsMemoryFromAFile) {
  auto program = write("first.s", "ldxb %r0, [%r1+1]\nexit\n");
  auto memory = write("mem.bin", std::string("\x10\x20\x30", 3));
  Outcome outcome = bpfvm("run --mem " + memory.string() + " " + program.string());
  EXPECT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "0x20\n");
}

TEST_F(CliTest, AssemblesDisassemblesAndRunsBytecode) {
  auto source = write("prog.s", "mov32 %r0, 7\nadd %r0, 35\nexit\n");
  Outcome assembled = bpfvm("asm " + source.string() + " -o " + (dir_ / "prog.bin").string());
  ASSERT_EQ(assembled.status, 0) << assembled.err;
  EXPECT_EQ(slurp(dir_ / "prog.bin").size(), 24u);

  Outcome ran = bpfvm("run " + (dir_ / "prog.bin").string());
  EXPECT_EQ(ran.out, "0x2a\n");

  Outcome conformance = bpfvm("disasm " + (dir_ / "prog.bin").string());
  EXPECT_EQ(conformance.status, 0) << conformance.err;
  EXPECT_EQ(conformance.out, "mov32 %r0, 7\nadd %r0, 35\nexit\n");

  Outcome llvm = bpfvm("disasm --syntax llvm " + (dir_ / "prog.bin").string());
  EXPECT_EQ(llvm.status, 0) << llvm.err;
  EXPECT_NE(llvm.out.find("w0 = 7"), std::string::npos) << llvm.out;
  EXPECT_NE(llvm.out.find("exit"), std::string::npos);
}

TEST_F(CliTest, AsmDefaultsTheOutputName) {
  auto source = write("named.asm", "mov %r0, 1\nexit\n");
  Outcome outcome = bpfvm("asm " + source.string());
  EXPECT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "named.bin"));
}

TEST_F(CliTest, AssemblyErrorsGiveLineAndColumn) {
  auto source = write("bad.s", "mov %r0, 1\nfrobnicate %r0\nexit\n");
  Outcome outcome = bpfvm("asm " + source.string());
  EXPECT_EQ(outcome.status, 2);
  EXPECT_NE(outcome.err.find("line 2"), std::string::npos) << outcome.err;
}

TEST_F(CliTest, AsmRefusesWhatTheLoaderWouldRefuseUnlessAsked) {
  auto source = write("noexit.s", "mov %r0, 1\n");
  Outcome refused = bpfvm("asm " + source.string());
  EXPECT_EQ(refused.status, 2);
  EXPECT_NE(refused.err.find("fall off"), std::string::npos) << refused.err;
  Outcome forced = bpfvm("asm --no-check " + source.string());
  EXPECT_EQ(forced.status, 0) << forced.err;
}

TEST_F(CliTest, OutOfBoundsLoadFailsCleanly) {
  auto program = write("oob.s", "ldxw %r0, [%r1+8]\nexit\n");
  Outcome outcome = bpfvm("run --mem-hex '01 02 03 04' " + program.string());
  EXPECT_EQ(outcome.status, 1);
  EXPECT_EQ(outcome.out, "");
  EXPECT_NE(outcome.err.find("instruction 0"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("load of 4 bytes"), std::string::npos) << outcome.err;
}

TEST_F(CliTest, BudgetEndsAnInfiniteLoop) {
  auto program = write("loop.s", "loop:\nja loop\nexit\n");
  Outcome outcome = bpfvm("run --budget 1000 " + program.string());
  EXPECT_EQ(outcome.status, 1);
  EXPECT_NE(outcome.err.find("budget"), std::string::npos) << outcome.err;
}

TEST_F(CliTest, LoadErrorsNameTheInstruction) {
  auto program = write("bad.bin", std::string("\x07\x00\x01\x00\x01\x00\x00\x00"
                                              "\x95\x00\x00\x00\x00\x00\x00\x00", 16));
  Outcome outcome = bpfvm("run " + program.string());
  EXPECT_EQ(outcome.status, 2);
  EXPECT_NE(outcome.err.find("instruction 0"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("offset"), std::string::npos) << outcome.err;
}

TEST_F(CliTest, TruncatedBytecodeIsRefused) {
  auto program = write("short.bin", std::string("\x95\x00\x00", 3));
  Outcome outcome = bpfvm("run " + program.string());
  EXPECT_EQ(outcome.status, 2);
  EXPECT_NE(outcome.err.find("multiple of 8"), std::string::npos) << outcome.err;
}

TEST_F(CliTest, MissingFileAndUnknownFormatAreClearErrors) {
  Outcome missing = bpfvm("run " + (dir_ / "nope.s").string());
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("nope.s"), std::string::npos) << missing.err;
  auto odd = write("prog.txt", "exit\n");
  Outcome unknown = bpfvm("run " + odd.string());
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find(".bin"), std::string::npos) << unknown.err;
}

TEST_F(CliTest, RunsConformanceDataFilesAndChecksTheirResult) {
  auto good = write("good.data", "-- asm\nmov %r0, %r2\nexit\n-- mem\n00 11 22\n-- result\n0x3\n");
  Outcome ok = bpfvm("run --check " + good.string());
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.out, "0x3\n");
  auto wrong = write("wrong.data", "-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n");
  Outcome differs = bpfvm("run --check " + wrong.string());
  EXPECT_EQ(differs.status, 1);
  EXPECT_NE(differs.err.find("-- result"), std::string::npos) << differs.err;
}

TEST_F(CliTest, ConformancePluginProtocol) {
  // mov %r0, %r2; exit  with three bytes of memory: r0 = 3, printed without 0x.
  Outcome outcome = bpfvm("conformance-plugin '01 02 03'",
                          "bf 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00");
  EXPECT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "3\n");

  // Helper 5 unwinds when it returns 0: r1 = 0; call 5; r0 = 2; exit  gives 0.
  Outcome unwound = bpfvm("conformance-plugin",
                          "b7 01 00 00 00 00 00 00 85 00 00 00 05 00 00 00 "
                          "b7 00 00 00 02 00 00 00 95 00 00 00 00 00 00 00");
  EXPECT_EQ(unwound.status, 0) << unwound.err;
  EXPECT_EQ(unwound.out, "0\n");

  Outcome bad = bpfvm("conformance-plugin", "07 00 01 00 01 00 00 00 95 00 00 00 00 00 00 00");
  EXPECT_NE(bad.status, 0);
  EXPECT_FALSE(bad.err.empty());

  Outcome garbage = bpfvm("conformance-plugin", "zz");
  EXPECT_NE(garbage.status, 0);
}

TEST_F(CliTest, RepeatTimesEveryEngine) {
  auto program = write("len.s", "mov %r0, %r2\nexit\n");
  for (const char* engine : {"interp", "jit"}) {
    Outcome outcome = bpfvm(std::string("run --repeat 50 --engine ") + engine +
                            " --mem-hex '01 02' " + program.string());
    EXPECT_EQ(outcome.status, 0) << outcome.err;
    EXPECT_EQ(outcome.out, "0x2\n");
    EXPECT_NE(outcome.err.find("50 runs on the"), std::string::npos) << outcome.err;
    EXPECT_NE(outcome.err.find("us per run"), std::string::npos) << outcome.err;
  }
  EXPECT_EQ(bpfvm("run --repeat 0 " + program.string()).status, 2);
}

TEST_F(CliTest, EngineOptionIsValidated) {
  auto program = write("one.s", "mov %r0, 1\nexit\n");
  EXPECT_EQ(bpfvm("run --engine interp " + program.string()).out, "0x1\n");
  EXPECT_EQ(bpfvm("run --engine warp " + program.string()).status, 2);
}

}  // namespace
