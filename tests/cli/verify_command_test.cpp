// `bpfvm verify` and `bpfvm run` verifying first, run as a user runs them: verdicts, errors,
// statistics, the log, JSON, exit statuses; verified programs running without memory checks
// and rejected ones with them, on both engines.
#include "support/cli_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace {

using Outcome = bpfvm::test::CliOutcome;

const std::string samples = VERIFY_SAMPLES_OBJECT;  // always_pass, unchecked_read
const std::string subprograms = std::string(BPFVM_BPF_OBJECTS_DIR) + "/subprograms.o";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class VerifyCommand : public bpfvm::test::CliFixture {};

TEST_F(VerifyCommand, HelpExplainsWithExamples) {
  Outcome help = bpfvm("verify --help");
  EXPECT_EQ(help.status, 0);
  for (const char* part : {"--program", "--type", "--context-size", "--log", "--json", "--budget",
                           "Examples:", "bpfvm verify xdp_counter.o", "Exit status"})
    EXPECT_TRUE(has(help.out, part)) << part << "\n" << help.out;
  EXPECT_EQ(bpfvm("verify").status, 2);  // PROGRAM is required
  Outcome run = bpfvm("run --help");
  EXPECT_TRUE(has(run.out, "--no-verify")) << run.out;
}

TEST_F(VerifyCommand, EveryProgramOfAnObject) {
  Outcome outcome = bpfvm("verify " + samples);
  EXPECT_EQ(outcome.status, 1) << outcome.err;  // one of the two is unsafe
  EXPECT_TRUE(has(outcome.out, samples + ": always_pass (section xdp, type xdp): OK\n"))
      << outcome.out;
  EXPECT_TRUE(has(outcome.out, samples + ": unchecked_read (section xdp, type xdp): REJECTED\n"))
      << outcome.out;
  EXPECT_TRUE(has(outcome.out, "2 programs: 1 OK, 1 rejected\n")) << outcome.out;
  EXPECT_TRUE(has(outcome.out, "processed 2 insns, ")) << outcome.out;  // always_pass
}

TEST_F(VerifyCommand, OneProgramByNameOrSection) {
  Outcome safe = bpfvm("verify " + samples + " --program always_pass");
  EXPECT_EQ(safe.status, 0) << safe.err;
  EXPECT_FALSE(has(safe.out, "unchecked_read")) << safe.out;
  EXPECT_TRUE(has(safe.out, "states kept")) << safe.out;
  Outcome unsafe = bpfvm("verify " + samples + " --program unchecked_read");
  EXPECT_EQ(unsafe.status, 1);
  // The error names the instruction, its disassembly and the registers involved.
  EXPECT_TRUE(has(unsafe.out, "\n  insn ")) << unsafe.out;
  EXPECT_TRUE(has(unsafe.out, "[R")) << unsafe.out;
  // A section naming one program is enough; subprograms' "xdp" names two.
  EXPECT_EQ(bpfvm("verify " + subprograms + " --program bpfvm/raw").status, 2);
  EXPECT_EQ(bpfvm("verify " + subprograms + " --program xdp_pass").status, 0);
}

TEST_F(VerifyCommand, JsonHasVerdictsErrorsAndStatistics) {
  Outcome outcome = bpfvm("verify --json " + samples);
  EXPECT_EQ(outcome.status, 1);
  auto json = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(json["file"], samples);
  EXPECT_EQ(json["verified"], 1);
  EXPECT_EQ(json["rejected"], 1);
  ASSERT_EQ(json["programs"].size(), 2u);
  const auto& safe = json["programs"][0];
  EXPECT_EQ(safe["name"], "always_pass");
  EXPECT_EQ(safe["section"], "xdp");
  EXPECT_EQ(safe["type"], "xdp");
  EXPECT_EQ(safe["verified"], true);
  EXPECT_FALSE(safe.contains("error"));
  EXPECT_EQ(safe["stats"]["insns_processed"], 2);
  EXPECT_GE(safe["time_ms"].get<double>(), 0.0);
  const auto& unsafe = json["programs"][1];
  EXPECT_EQ(unsafe["verified"], false);
  for (const char* field : {"insn", "disassembly", "reason", "registers", "message"})
    EXPECT_TRUE(unsafe["error"].contains(field)) << field;
  EXPECT_FALSE(unsafe["error"]["reason"].get<std::string>().empty());
  EXPECT_FALSE(unsafe.contains("log"));
}

TEST_F(VerifyCommand, LogIsTheKernelStyleTrace) {
  auto program = write("sum.s",
                       "mov %r0, 1\n"
                       "jeq %r0, 1, +1\n"
                       "mov %r0, 2\n"
                       "exit\n");
  Outcome outcome = bpfvm("verify --log " + program.string());
  EXPECT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_TRUE(has(outcome.out, "0: r0 = 1 ; R0=1")) << outcome.out;
  EXPECT_TRUE(has(outcome.out, "3: exit ;")) << outcome.out;
  Outcome json = bpfvm("verify --log --json " + program.string());
  EXPECT_TRUE(
      has(nlohmann::json::parse(json.out)["programs"][0]["log"].get<std::string>(), "0: r0 = 1"));
  // Without --log, no trace.
  EXPECT_FALSE(has(bpfvm("verify " + program.string()).out, "0: r0 = 1"));
}

TEST_F(VerifyCommand, ProgramFilesWithATypeOrAContextSize) {
  auto read8 = write("read8.s",
                     "ldxdw %r0, [%r1+8]\n"
                     "exit\n");
  // raw: r1 points at r2 bytes, unknown until the run, so no read is provable.
  Outcome raw = bpfvm("verify " + read8.string());
  EXPECT_EQ(raw.status, 1);
  EXPECT_TRUE(has(raw.out, "(type raw): REJECTED")) << raw.out;
  EXPECT_TRUE(has(raw.out, "insn 0 (r0 = *(u64 *)(r1 + 8))")) << raw.out;
  EXPECT_EQ(bpfvm("verify " + read8.string() + " --context-size 16").status, 0);
  Outcome small = bpfvm("verify " + read8.string() + " --context-size 12");
  EXPECT_EQ(small.status, 1);
  EXPECT_TRUE(has(small.out, "off=8 size=8")) << small.out;

  auto pass = write("pass.s",
                    "mov %r0, 2\n"
                    "exit\n");
  Outcome xdp = bpfvm("verify " + pass.string() + " --type xdp");
  EXPECT_EQ(xdp.status, 0) << xdp.err;
  EXPECT_TRUE(has(xdp.out, "(type xdp): OK")) << xdp.out;
  // Raw bytecode (.bin) too.
  Outcome assembled = bpfvm("asm " + pass.string() + " -o " + (dir_ / "pass.bin").string());
  ASSERT_EQ(assembled.status, 0) << assembled.err;
  EXPECT_EQ(bpfvm("verify " + (dir_ / "pass.bin").string() + " --type socket_filter").status, 0);
}

TEST_F(VerifyCommand, MalformedInputIsStatusTwo) {
  Outcome missing = bpfvm("verify " + (dir_ / "nope.o").string());
  EXPECT_EQ(missing.status, 2);
  EXPECT_TRUE(has(missing.err, "nope.o")) << missing.err;
  auto bad_elf = write("bad.o", std::string("\x7f"
                                            "ELF",
                                            4) +
                                    std::string(60, '\x01'));
  EXPECT_EQ(bpfvm("verify " + bad_elf.string()).status, 2);
  Outcome unknown_program = bpfvm("verify " + samples + " --program nope");
  EXPECT_EQ(unknown_program.status, 2);
  EXPECT_TRUE(has(unknown_program.err, "always_pass (section xdp)")) << unknown_program.err;
  auto pass = write("pass.s", "mov %r0, 0\nexit\n");
  Outcome unknown_type = bpfvm("verify " + pass.string() + " --type nope");
  EXPECT_EQ(unknown_type.status, 2);
  EXPECT_TRUE(has(unknown_type.err, "unknown program type 'nope'")) << unknown_type.err;
  // For an object, --type is the type of sections that name none: a bad name is bad input,
  // a good one leaves typed sections as they are; --context-size is for program files.
  EXPECT_EQ(bpfvm("verify " + samples + " --type nope").status, 2);
  EXPECT_EQ(bpfvm("verify " + samples + " --type sched_cls").status,
            bpfvm("verify " + samples).status);
  EXPECT_EQ(bpfvm("verify " + samples + " --context-size 8").status, 2);
  EXPECT_EQ(bpfvm("verify " + pass.string() + " --program x").status, 2);  // not an object
  EXPECT_EQ(bpfvm("verify " + pass.string() + " --type xdp --context-size 8").status, 2);
  EXPECT_EQ(bpfvm("verify " + write("odd.bin", "1234567").string()).status, 2);
  EXPECT_EQ(bpfvm("verify " + write("typo.s", "mvo %r0, 0\nexit\n").string()).status, 2);
}

TEST_F(VerifyCommand, BudgetEndsTheExploration) {
  // Ten thousand iterations of a loop: well past a budget of 100 processed instructions.
  auto loop = write("loop.s",
                    "mov %r0, 0\n"
                    "add %r0, 1\n"
                    "jlt %r0, 10000, -2\n"
                    "exit\n");
  Outcome outcome = bpfvm("verify " + loop.string() + " --budget 100");
  EXPECT_EQ(outcome.status, 1);
  EXPECT_TRUE(has(outcome.out, "BPF program is too large. Processed 100 insn")) << outcome.out;
}

class RunVerifiesFirst : public bpfvm::test::CliFixture {};

TEST_F(RunVerifiesFirst, AVerifiedObjectProgramRunsUnchecked) {
  for (const char* engine : {"interp", "jit"}) {
    Outcome outcome = bpfvm("run --json --engine " + std::string(engine) + " " + samples +
                            " --program always_pass");
    ASSERT_EQ(outcome.status, 0) << outcome.err;
    auto json = nlohmann::json::parse(outcome.out);
    EXPECT_EQ(json["verified"], true) << engine;
    EXPECT_EQ(json["memory_checks"], false) << engine;
    EXPECT_FALSE(json.contains("verify_error"));
    EXPECT_EQ(json["action"], "XDP_PASS");
    EXPECT_TRUE(outcome.err.empty()) << outcome.err;  // no note for a verified program
  }
}

TEST_F(RunVerifiesFirst, ARejectedObjectProgramRunsCheckedAndSaysWhy) {
  for (const char* engine : {"interp", "jit"}) {
    // The first byte is 0x01: XDP_DROP.
    Outcome outcome = bpfvm("run --json --engine " + std::string(engine) + " " + samples +
                            " --program unchecked_read --packet-hex '01 02 03 04 05 06 07 08 09 "
                            "0a 0b 0c 0d 0e'");
    ASSERT_EQ(outcome.status, 0) << outcome.err;
    auto json = nlohmann::json::parse(outcome.out);
    EXPECT_EQ(json["verified"], false);
    EXPECT_EQ(json["memory_checks"], true);
    EXPECT_TRUE(has(json["verify_error"].get<std::string>(), "insn ")) << json.dump();
    EXPECT_EQ(json["action"], "XDP_DROP");
    EXPECT_TRUE(has(outcome.err,
                    "bpfvm: note: the verifier rejected unchecked_read, so it runs "
                    "with memory checks: insn "))
        << outcome.err;
  }
  // The text form says so too, and still prints the result.
  Outcome text = bpfvm("run " + samples + " --program unchecked_read");
  EXPECT_EQ(text.out, "0x2 XDP_PASS\n");
  EXPECT_TRUE(has(text.err, "runs with memory checks")) << text.err;
}

TEST_F(RunVerifiesFirst, NoVerifyRunsChecked) {
  Outcome outcome = bpfvm("run --json --no-verify " + samples + " --program always_pass");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  auto json = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(json["verified"], false);
  EXPECT_EQ(json["memory_checks"], true);
  EXPECT_EQ(json["verify_error"], "not verified (--no-verify)");
  EXPECT_TRUE(outcome.err.empty()) << outcome.err;
}

TEST_F(RunVerifiesFirst, RawProgramsAreVerifiedForTheMemoryGiven) {
  auto read8 = write("read8.s",
                     "ldxdw %r0, [%r1+8]\n"
                     "exit\n");
  const std::string sixteen = " --mem-hex '01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10'";
  for (const char* engine : {"interp", "jit"}) {
    // Safe for 16 bytes: unchecked (--repeat names the mode on stderr).
    Outcome safe =
        bpfvm("run --repeat 2 --engine " + std::string(engine) + " " + read8.string() + sixteen);
    EXPECT_EQ(safe.status, 0) << safe.err;
    EXPECT_EQ(safe.out, "0x100f0e0d0c0b0a09\n");
    EXPECT_TRUE(has(safe.err, "(unchecked mode)")) << safe.err;
    EXPECT_FALSE(has(safe.err, "note")) << safe.err;
    // --no-verify: checked.
    Outcome unverified = bpfvm("run --no-verify --repeat 2 --engine " + std::string(engine) + " " +
                               read8.string() + sixteen);
    EXPECT_EQ(unverified.status, 0) << unverified.err;
    EXPECT_TRUE(has(unverified.err, "(checked mode)")) << unverified.err;
  }
  // Unsafe for 12 bytes: rejected, so checked, and the check stops the read.
  Outcome unsafe =
      bpfvm("run " + read8.string() + " --mem-hex '01 02 03 04 05 06 07 08 09 0a 0b 0c'");
  EXPECT_EQ(unsafe.status, 1);
  EXPECT_TRUE(has(unsafe.err,
                  "the verifier rejected the program, so it runs with memory checks: "
                  "insn 0 (r0 = *(u64 *)(r1 + 8)): invalid bpf_context access"))
      << unsafe.err;
  EXPECT_TRUE(has(unsafe.err, "outside the memory")) << unsafe.err;
  // --no-verify and --unchecked contradict each other.
  EXPECT_EQ(bpfvm("run --no-verify --unchecked " + read8.string() + sixteen).status, 2);
}

// The built-ins (memset, memcpy, memmove, memcmp at 0x7f000001-4) are there for program files
// as for objects: `verify` judges calls to them by their prototypes, `run` and `jit` load them.
TEST_F(RunVerifiesFirst, ProgramFilesMayCallTheBuiltins) {
  auto memset7 = write("memset.s",
                       "mov %r1, %r10\n"
                       "add %r1, -16\n"
                       "mov %r2, 7\n"
                       "mov %r3, 16\n"
                       "call 0x7f000001\n"
                       "ldxb %r0, [%r10-3]\n"
                       "exit\n");
  for (const char* type : {"raw", "xdp", "socket_filter"}) {
    Outcome verified = bpfvm("verify " + memset7.string() + " --type " + type);
    EXPECT_EQ(verified.status, 0) << type << "\n" << verified.out;
  }
  auto memcmp4 = write("memcmp.s",
                       "mov %r2, %r1\n"
                       "add %r2, 4\n"
                       "mov %r3, 4\n"
                       "call 0x7f000004\n"
                       "exit\n");
  EXPECT_EQ(bpfvm("verify " + memcmp4.string() + " --context-size 8").status, 0);
  Outcome short_context = bpfvm("verify " + memcmp4.string() + " --context-size 7");
  EXPECT_EQ(short_context.status, 1);
  EXPECT_TRUE(has(short_context.out, "insn 3 (call 2130706436): invalid access to context"))
      << short_context.out;
  for (const char* engine : {"interp", "jit"}) {
    Outcome set = bpfvm("run --repeat 2 --engine " + std::string(engine) + " " + memset7.string());
    EXPECT_EQ(set.status, 0) << set.err;
    EXPECT_EQ(set.out, "0x7\n");
    EXPECT_TRUE(has(set.err, "(unchecked mode)")) << set.err;  // verified with the built-ins
    // memcmp's int, sign-extended: 04 < 05.
    Outcome compared = bpfvm("run --repeat 2 --engine " + std::string(engine) + " " +
                             memcmp4.string() + " --mem-hex '01 02 03 04 01 02 03 05'");
    EXPECT_EQ(compared.status, 0) << compared.err;
    EXPECT_EQ(compared.out, "0xffffffffffffffff\n");
    EXPECT_TRUE(has(compared.err, "(unchecked mode)")) << compared.err;
  }
  EXPECT_EQ(bpfvm("jit " + memset7.string()).status, 0);

  // A memset past the top of the stack: rejected by its prototype, not as an unknown function;
  // run checked, the built-in refuses the bytes and the run fails.
  auto overflow = write("overflow.s",
                        "mov %r1, %r10\n"
                        "add %r1, -16\n"
                        "mov %r2, 7\n"
                        "mov %r3, 32\n"
                        "call 0x7f000001\n"
                        "mov %r0, 0\n"
                        "exit\n");
  Outcome rejected = bpfvm("verify " + overflow.string());
  EXPECT_EQ(rejected.status, 1);
  EXPECT_TRUE(has(rejected.out, "invalid indirect access to stack R1 off=-16 size=32"))
      << rejected.out;
  for (const char* engine : {"interp", "jit"}) {
    Outcome failed = bpfvm("run --engine " + std::string(engine) + " " + overflow.string());
    EXPECT_EQ(failed.status, 1) << failed.err;
    EXPECT_TRUE(has(failed.err, "runs with memory checks")) << failed.err;
    EXPECT_TRUE(has(failed.err, "helper failed: memset: dst at")) << failed.err;
  }

  // An id in the built-in range that names no built-in is still unknown.
  auto unknown = write("unknown.s",
                       "call 0x7f000005\n"
                       "exit\n");
  Outcome unknown_verify = bpfvm("verify " + unknown.string());
  EXPECT_EQ(unknown_verify.status, 1);
  EXPECT_TRUE(has(unknown_verify.out, "invalid func unknown#2130706437")) << unknown_verify.out;
  Outcome unknown_run = bpfvm("run " + unknown.string());
  EXPECT_EQ(unknown_run.status, 1);  // it loads, and the run fails at the call
  EXPECT_TRUE(has(unknown_run.err, "no helper with id 2130706437")) << unknown_run.err;
}

}  // namespace
