// The validators, rule by rule, in each mode: what passes, what fails, and the message that
// names the instruction, the rule and the rule set.
#include <bpfvm/classic.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace bpfvm::classic {
namespace {

constexpr std::uint16_t LD_IMM = 0x00, LDX_IMM = 0x01, ST = 0x02, STX = 0x03, LD_MEM = 0x60,
                        LDX_MEM = 0x61, LD_H_ABS = 0x28, DIV_K = 0x34, MOD_K = 0x94, XOR_K = 0xa4,
                        MOD_X = 0x9c, XOR_X = 0xac, JA = 0x05, JEQ_K = 0x15, RET_K = 0x06,
                        RET_A = 0x16, TAX = 0x07;

Insn op(std::uint16_t code, std::uint32_t k = 0, std::uint8_t jt = 0, std::uint8_t jf = 0) {
  return Insn{code, jt, jf, k};
}

std::string error_of(const std::vector<Insn>& insns, Rules rules) {
  auto status = validate(insns, rules);
  return status ? "ok" : status.error().to_string();
}

const std::vector<Insn> accept_all = {op(RET_K, 0xffff)};

TEST(Validator, BothAcceptAPlainFilter) {
  std::vector<Insn> insns = {op(LD_H_ABS, 12), op(JEQ_K, 0x800, 0, 1), op(RET_K, 96), op(RET_K, 0)};
  EXPECT_EQ(error_of(insns, Rules::libpcap), "ok");
  EXPECT_EQ(error_of(insns, Rules::freebsd), "ok");
  EXPECT_EQ(error_of(accept_all, Rules::freebsd), "ok");
}

TEST(Validator, EmptyProgram) {
  EXPECT_EQ(error_of({}, Rules::libpcap), "the program is empty [libpcap: program not empty]");
  EXPECT_EQ(error_of({}, Rules::freebsd), "the program is empty [freebsd: program not empty]");
}

TEST(Validator, LastInstructionIsRet) {
  std::vector<Insn> insns = {op(LD_IMM, 1), op(TAX)};
  EXPECT_EQ(error_of(insns, Rules::libpcap),
            "instruction 1: the last instruction (opcode 0x7) is not a ret [libpcap: last "
            "instruction is RET]");
  EXPECT_EQ(error_of(insns, Rules::freebsd),
            "instruction 1: the last instruction (opcode 0x7) is not a ret [freebsd: last "
            "instruction is RET]");
}

TEST(Validator, ScratchIndexUnder16) {
  for (std::uint16_t code : {ST, STX, LD_MEM, LDX_MEM}) {
    std::vector<Insn> good = {op(code, 15), op(RET_A)};
    std::vector<Insn> bad = {op(code, 16), op(RET_A)};
    EXPECT_EQ(error_of(good, Rules::libpcap), "ok");
    EXPECT_EQ(error_of(good, Rules::freebsd), "ok");
    EXPECT_EQ(error_of(bad, Rules::libpcap),
              "instruction 0: scratch word M[16] does not exist (there are 16) [libpcap: scratch "
              "index under 16]");
    EXPECT_EQ(error_of(bad, Rules::freebsd),
              "instruction 0: scratch word M[16] does not exist (there are 16) [freebsd: scratch "
              "index under 16]");
  }
}

TEST(Validator, NoDivisionByConstantZero) {
  std::vector<Insn> div = {op(DIV_K, 0), op(RET_A)};
  EXPECT_EQ(error_of(div, Rules::libpcap),
            "instruction 0: division by the constant 0 [libpcap: no division by constant zero]");
  EXPECT_EQ(error_of(div, Rules::freebsd),
            "instruction 0: division by the constant 0 [freebsd: no division by constant zero]");
  std::vector<Insn> mod = {op(MOD_K, 0), op(RET_A)};
  EXPECT_EQ(error_of(mod, Rules::libpcap),
            "instruction 0: modulo by the constant 0 [libpcap: no division by constant zero]");
  // Division by X = 0 is a run-time matter: the packet is rejected.
  EXPECT_EQ(error_of({op(0x3c), op(RET_A)}, Rules::freebsd), "ok");
}

TEST(Validator, FreebsdWhitelistRefusesModAndXor) {
  for (std::uint16_t code : {MOD_K, MOD_X, XOR_K, XOR_X}) {
    std::vector<Insn> insns = {op(code, 3), op(RET_A)};
    EXPECT_EQ(error_of(insns, Rules::libpcap), "ok");
    EXPECT_NE(error_of(insns, Rules::freebsd).find("[freebsd: opcode whitelist]"),
              std::string::npos);
  }
  EXPECT_EQ(error_of({op(MOD_K, 3), op(RET_A)}, Rules::freebsd),
            "instruction 0: opcode 0x94 (mod) is not on the kernel's whitelist [freebsd: opcode "
            "whitelist]");
  EXPECT_EQ(
      error_of({op(0x0e), op(RET_A)}, Rules::freebsd),
      "instruction 0: opcode 0xe is not on the kernel's whitelist [freebsd: opcode whitelist]");
}

TEST(Validator, LibpcapChecksClassesAndModes) {
  EXPECT_EQ(error_of({op(0xc0), op(RET_A)}, Rules::libpcap),
            "instruction 0: opcode 0xc0 has unknown load mode 0xc0 [libpcap: load mode known]");
  EXPECT_EQ(error_of({op(0xb4), op(RET_A)}, Rules::libpcap),
            "instruction 0: opcode 0xb4 has unknown ALU operation 0xb0 [libpcap: ALU operation "
            "known]");
  EXPECT_EQ(error_of({op(0x55), op(RET_A)}, Rules::libpcap),
            "instruction 0: opcode 0x55 has unknown jump operation 0x50 [libpcap: jump operation "
            "known]");
  // bpf_validate() passes `ld` with the MSH mode, which bpf_filter() cannot run: loading adds
  // the rule that every opcode is one bpf_filter() executes.
  std::vector<Insn> msh = {op(0xb0, 3), op(RET_A)};
  EXPECT_TRUE(libpcap_accepts(msh));
  EXPECT_EQ(error_of(msh, Rules::libpcap), "ok");
  auto loaded = Program::load(msh);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().to_string(),
            "instruction 0: opcode 0xb0 is not an instruction bpf_filter() executes [libpcap: "
            "opcode executable]");
}

TEST(Validator, JumpsInRange) {
  std::vector<Insn> cond = {op(JEQ_K, 1, 0, 2), op(RET_K, 1), op(RET_K, 0)};
  EXPECT_EQ(error_of(cond, Rules::libpcap),
            "instruction 0: jump target 3 is past the end of the program (3 instructions) "
            "[libpcap: jumps in range]");
  EXPECT_EQ(error_of(cond, Rules::freebsd),
            "instruction 0: jump target 3 is past the end of the program (3 instructions) "
            "[freebsd: forward jumps in range]");
  std::vector<Insn> ja = {op(JA, 5), op(RET_K, 0)};
  EXPECT_EQ(error_of(ja, Rules::libpcap),
            "instruction 0: jump target 6 is past the end of the program (2 instructions) "
            "[libpcap: jumps in range]");
}

TEST(Validator, BackwardJumpsOnlyInLibpcapMode) {
  // protochain's loop: a ja back to instruction 0.
  std::vector<Insn> loop = {op(LD_H_ABS, 12), op(JEQ_K, 0, 1, 0),
                            op(JA, static_cast<std::uint32_t>(-3)), op(RET_K, 0)};
  EXPECT_EQ(error_of(loop, Rules::libpcap), "ok");
  EXPECT_EQ(
      error_of(loop, Rules::freebsd),
      "instruction 2: ja -3: backward jumps are not allowed [freebsd: forward jumps in range]");
  // A backward target before the start is out of range for libpcap too.
  std::vector<Insn> before = {op(JA, static_cast<std::uint32_t>(-2)), op(RET_K, 0)};
  EXPECT_EQ(error_of(before, Rules::libpcap),
            "instruction 0: jump target -1 is past the end of the program (2 instructions) "
            "[libpcap: jumps in range]");
}

TEST(Validator, FreebsdAtMost512Instructions) {
  std::vector<Insn> insns(512, op(LDX_IMM, 1));
  insns.back() = op(RET_A);
  EXPECT_EQ(error_of(insns, Rules::freebsd), "ok");
  insns.insert(insns.begin(), op(LDX_IMM, 1));
  EXPECT_EQ(error_of(insns, Rules::freebsd),
            "the program has 513 instructions [freebsd: at most 512 instructions]");
  EXPECT_EQ(error_of(insns, Rules::libpcap), "ok");
}

// The table's freebsd column is FreeBSD's bpf_code_map (sys/net/bpf_filter.c): one bit per
// 8-bit opcode, sixteen opcodes per word.
TEST(Validator, FreebsdWhitelistIsTheKernelBitmap) {
  static constexpr std::uint16_t bpf_code_map[16] = {0x10ff, 0x3070, 0x3131, 0x3031, 0x3131, 0x1011,
                                                     0x1013, 0x1010, 0x0093, 0x0000, 0x0000, 0x0002,
                                                     0x0000, 0x0000, 0x0000, 0x0000};
  for (unsigned code = 0; code < 256; ++code) {
    bool kernel = (bpf_code_map[code >> 4] >> (code & 0xf)) & 1;
    std::vector<Insn> insns = {op(static_cast<std::uint16_t>(code), 1), op(RET_A)};
    if (code == JA) insns[0].k = 0;  // the jump itself must stay in range
    auto status = validate(insns, Rules::freebsd);
    bool whitelisted = status || status.error().message.find("whitelist") == std::string::npos;
    EXPECT_EQ(whitelisted, kernel) << "opcode 0x" << std::hex << code;
  }
}

TEST(Validator, ErrorsAreInvalidProgramWithTheIndex) {
  std::vector<Insn> insns = {op(LD_IMM), op(ST, 99), op(RET_A)};
  auto status = validate(insns, Rules::freebsd);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, Error::Kind::invalid_program);
  EXPECT_EQ(status.error().insn_index, 1u);
}

}  // namespace
}  // namespace bpfvm::classic
