// The bpf_conformance assembler: byte-exact encodings, labels, and errors with line and column.
#include <bpfvm/assembler.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

// The slot as the little-endian 64-bit word it is in memory: opcode in the low byte.
std::uint64_t word(const Insn& insn) {
  return insn.opcode | std::uint64_t{insn.dst} << 8 | std::uint64_t{insn.src} << 12 |
         std::uint64_t{static_cast<std::uint16_t>(insn.offset)} << 16 |
         std::uint64_t{static_cast<std::uint32_t>(insn.imm)} << 32;
}

std::vector<std::uint64_t> words(std::string_view source) {
  auto insns = assemble(source);
  EXPECT_TRUE(insns.ok()) << source << ": " << insns.error().to_string();
  std::vector<std::uint64_t> out;
  if (insns.ok())
    for (const Insn& insn : *insns) out.push_back(word(insn));
  return out;
}

struct EncodingCase {
  const char* source;
  std::vector<std::uint64_t> expected;
};

// One line per case.
const EncodingCase encoding_cases[] = {
    {"mov32 %r0, 1", {0x00000001000000b4}},
    {"mov %r1, -1", {0xffffffff000001b7}},
    {"mov32 %r0, 0xffffffff", {0xffffffff000000b4}},
    {"mov32 %r0, -2147483648", {0x80000000000000b4}},
    {"add %r1, %r2", {0x000000000000210f}},
    {"neg %r0", {0x0000000000000087}},
    {"neg32 %r3", {0x0000000000000384}},
    {"be16 %r0", {0x00000010000000dc}},
    {"le64 %r0", {0x00000040000000d4}},
    {"bswap32 %r0", {0x00000020000000d7}},
    {"swap16 %r0", {0x00000010000000d7}},
    {"sdiv %r1, 3", {0x0000000300010137}},
    {"smod32 %r1, %r2", {0x000000000001219c}},
    {"movsx832 %r0, %r1", {0x00000000000810bc}},
    {"movsx3264 %r0, %r1", {0x00000000002010bf}},
    {"lddw %r0, 0x123456789abcdef0", {0x9abcdef000000018, 0x1234567800000000}},
    {"lddw %r2, -2", {0xfffffffe00000218, 0xffffffff00000000}},
    {"ldxh %r0, [%r1+2]", {0x0000000000021069}},
    {"ldxdw %r0, [%r10-8]", {0x00000000fff8a079}},
    {"ldxb %r0, [%r1]", {0x0000000000001071}},
    {"ldxsb %r0, [%r1+0x7fff]", {0x000000007fff1091}},
    {"stw [%r1+2], 5", {0x0000000500020162}},
    {"stb [%r10-1], 0xff", {0x000000ffffff0a72}},
    {"stxw [%r10-4], %r1", {0x00000000fffc1a63}},
    {"lock add [%r10-8], %r1", {0x00000000fff81adb}},
    {"lock fetch add32 [%r10-4], %r1", {0x00000001fffc1ac3}},
    {"lock xchg [%r10-8], %r1", {0x000000e1fff81adb}},
    {"lock cmpxchg32 [%r10-8], %r1", {0x000000f1fff81ac3}},
    {"ldabsw 12", {0x0000000c00000020}},
    {"ldindh %r1, 4", {0x0000000400001048}},
    {"ja +3", {0x0000000000030005}},
    {"ja -2", {0x00000000fffe0005}},
    {"ja32 -1", {0xffffffff00000006}},
    {"jeq %r1, 0, +1", {0x0000000000010115}},
    {"jne32 %r1, %r2, -1", {0x00000000ffff215e}},
    {"call 5", {0x0000000500000085}},
    {"call local +3", {0x0000000300001085}},
    {"call btf 123", {0x0000007b00002085}},
    {"call %r2", {0x000000000000028d}},
    {"callx %r2", {0x000000000000028d}},
    {"exit", {0x0000000000000095}},
    {".8byte 0xfedcba9876543210", {0xfedcba9876543210}},
};

TEST(IsaAssembler, EncodesEachFormByteExactly) {
  for (const EncodingCase& c : encoding_cases) EXPECT_EQ(words(c.source), c.expected) << c.source;
}

TEST(IsaAssembler, LabelsCountSlotsAndResolveForwardAndBackward) {
  // lddw takes two slots: `done` is at slot 4.
  EXPECT_EQ(words("start:\n"
                  "  jeq %r1, 0, done   # forward\n"
                  "  lddw %r0, 1\n"
                  "  ja start           # backward\n"
                  "done: exit\n"),
            (std::vector<std::uint64_t>{0x0000000000030115, 0x0000000100000018, 0,
                                        0x00000000fffc0005, 0x95}));
}

TEST(IsaAssembler, Ja32AndLocalCallsKeepTheirDisplacementInImm) {
  EXPECT_EQ(words("ja32 target\ncall local target\nexit\ntarget:\nexit"),
            (std::vector<std::uint64_t>{0x0000000200000006, 0x0000000100001085, 0x95, 0x95}));
}

// bpf_conformance programs (tests/prime.data, tests/jeq-reg.data) jump to `exit` without
// defining it: programs.tsv encodes the program's first exit instruction.
TEST(IsaAssembler, UndefinedExitLabelMeansTheFirstExit) {
  EXPECT_EQ(words("ja exit\nexit\nmov %r0, 1\nexit"),
            (std::vector<std::uint64_t>{0x0000000000000005, 0x95, 0x00000001000000b7, 0x95}));
  EXPECT_EQ(words("exit\nmov %r0, 1\nja exit\nexit"),
            (std::vector<std::uint64_t>{0x95, 0x00000001000000b7, 0x00000000fffd0005, 0x95}));
  EXPECT_EQ(words("ja exit\nmov %r0, 1\nexit:\nmov %r0, 2\nexit"),
            (std::vector<std::uint64_t>{0x0000000000010005, 0x00000001000000b7, 0x00000002000000b7,
                                        0x95}));
}

TEST(IsaAssembler, CommentsBlankLinesAndCarriageReturnsAreIgnored) {
  EXPECT_EQ(words("# header\n\n   \nmov %r0, 0 # trailing\r\nexit\r\n"),
            (std::vector<std::uint64_t>{0x00000000000000b7, 0x95}));
  EXPECT_TRUE(words("").empty());
}

struct ErrorCase {
  const char* source;
  std::size_t line, column;
  const char* message;  // a substring of the message
};

// One line per case.
const ErrorCase error_cases[] = {
    {"ldxq %r0, %r1", 1, 1, "Unknown mnemonic 'ldxq'"},
    {"exit\nor %r0, %r50", 2, 9, "Invalid register %r50"},
    {"mov %rx, 1", 1, 5, "Invalid register %rx"},
    {"mov r1, 1", 1, 5, "Operand 1 of mov must be a register"},
    {"lock or [%r10-8]", 1, 6, "Invalid number of operands for lock or: expected 2, got 1"},
    {"lock", 1, 5, "Invalid number of operands for lock"},
    {"lock nand [%r10-8], %r1", 1, 6, "Unknown atomic operation 'lock nand'"},
    {"lddw %r0", 1, 1, "Invalid number of operands for lddw: expected 2, got 1"},
    {"exit %r0", 1, 1, "Invalid number of operands for exit: expected 0, got 1"},
    {"ldxb %r0, %r1", 1, 11, "Operand 2 of ldxb must be a memory operand"},
    {"add %r0, [%r1]", 1, 10, "Operand 2 of add must be an immediate or a register"},
    {"mov32 %r0, 2147483648", 1, 12, "2147483648 is out of range for a 32-bit immediate"},
    {"mov32 %r0, 0x100000000", 1, 12, "0x100000000 is out of range"},
    {"mov32 %r0, -2147483649", 1, 12, "-2147483649 is out of range"},
    {"ldxb %r0, [%r1+0x10000]", 1, 15, "0x10000 is out of range for a 16-bit offset"},
    {"stb [%r1-32769], 0", 1, 9, "-32769 is out of range"},
    {"ja +32768", 1, 4, "out of range for a 16-bit offset"},
    {"lddw %r0, 0x10000000000000000", 1, 11, "does not fit in 64 bits"},
    {"mov %r0, 0x1g", 1, 10, "Invalid number '0x1g'"},
    {"ja NOT_A_LABEL\nexit", 1, 4, "Undefined label 'NOT_A_LABEL'"},
    {"a:\nexit\n  a: exit", 3, 3, "Duplicate label 'a' (first defined on line 1)"},
    {"mov %r0 1", 1, 9, "Expected ',' between operands, found '1'"},
    {"mov %r0,", 1, 9, "Expected an operand after ','"},
    {"ldxb %r0, [%r1+2", 1, 17, "Expected ']' to close the memory operand"},
    {"mov %r0, 1 $", 1, 12, "Expected ',' between operands, found '$'"},
    {"+ mov %r0, 1", 1, 1, "Expected a mnemonic or a label, found '+'"},
    {".8byte %r1", 1, 1, ".8byte takes one 64-bit number"},
};

TEST(IsaAssemblerErrors, SayWhatAndWhereInOneLine) {
  for (const ErrorCase& c : error_cases) {
    auto result = assemble(c.source);
    ASSERT_FALSE(result.ok()) << c.source;
    const Error& error = result.error();
    EXPECT_EQ(error.kind, Error::Kind::parse) << c.source;
    EXPECT_EQ(error.line, c.line) << c.source << ": " << error.to_string();
    EXPECT_EQ(error.column, c.column) << c.source << ": " << error.to_string();
    EXPECT_NE(error.message.find(c.message), std::string::npos)
        << c.source << ": " << error.message;
    EXPECT_EQ(error.to_string().find('\n'), std::string::npos);
  }
}

TEST(IsaAssemblerErrors, FarLabelForA16BitJumpIsRejected) {
  std::string source = "ja far\n";
  for (int i = 0; i < 40000; ++i) source += "mov %r0, 0\n";
  source += "far: exit\n";
  auto result = assemble(source);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().line, 1u);
  EXPECT_NE(result.error().message.find("beyond the 16-bit jump offset"), std::string::npos);
  // ja32 reaches it.
  source.replace(0, 2, "ja32");
  EXPECT_TRUE(assemble(source).ok());
}

}  // namespace
}  // namespace bpfvm
