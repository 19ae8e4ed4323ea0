// The decoder's load-time checks (RFC 9669 field rules, targets, program shape), including
// bpf_conformance's 45 negative/unused-*.data programs.
#include <bpfvm/assembler.hpp>
#include <bpfvm/data_file.hpp>

#include "isa/decoder.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

namespace fs = std::filesystem;

std::vector<Insn> program(std::string_view source) {
  auto insns = assemble(source);
  EXPECT_TRUE(insns.ok()) << insns.error().to_string();
  return insns.ok() ? *insns : std::vector<Insn>{};
}

// Decoding fails at `index` with a message containing `needle`.
void expect_rejected(const std::vector<Insn>& insns, std::size_t index, std::string_view needle,
                     const DecodeOptions& options = {}) {
  auto decoded = decode(insns, options);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().kind, Error::Kind::invalid_program);
  EXPECT_EQ(decoded.error().insn_index, index) << decoded.error().to_string();
  EXPECT_NE(decoded.error().message.find(needle), std::string::npos) << decoded.error().message;
}

TEST(IsaDecoder, AcceptsAWellFormedProgramAndResolvesTargets) {
  auto decoded = decode(program("jeq %r1, 0, done\nlddw %r0, 0x1122334455667788\ndone: exit"));
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  ASSERT_EQ(decoded->size(), 4u);
  EXPECT_EQ((*decoded)[0].target, 3u);
  EXPECT_EQ((*decoded)[1].imm64, 0x1122334455667788u);
  EXPECT_EQ((*decoded)[2].row, nullptr);  // lddw's second slot
  EXPECT_EQ((*decoded)[3].row->op, Op::EXIT);
}

TEST(IsaDecoder, RejectsEmptyProgram) {
  auto decoded = decode(std::vector<Insn>{});
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message.find("empty"), std::string::npos);
}

TEST(IsaDecoder, RejectsOverLimitProgram) {
  auto decoded = decode(program("mov %r0, 0\nmov %r0, 1\nexit"), DecodeOptions{.max_insns = 2});
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message.find("limit is 2"), std::string::npos);
}

TEST(IsaDecoder, RejectsUnknownOpcode) {
  expect_rejected(program("mov %r0, 0\n.8byte 0x00000000000000f0\nexit"), 1, "unknown opcode 0xf0");
}

TEST(IsaDecoder, RejectsUnknownVariant) {
  // div with offset 2: neither div (0) nor sdiv (1).
  expect_rejected(program(".8byte 0x0000000100020037\nexit"), 0, "field offset must be one of");
}

TEST(IsaDecoder, RejectsJumpsOutOfRange) {
  expect_rejected(program("ja +1\nexit"), 0, "outside the program");
  expect_rejected(program("exit\njeq %r1, 0, -3\nexit"), 1, "outside the program");
  expect_rejected(program("ja32 +5\nexit"), 0, "outside the program");
  expect_rejected(program("call local +7\nexit"), 0, "outside the program");
}

TEST(IsaDecoder, RejectsJumpIntoTheMiddleOfLddw) {
  expect_rejected(program("ja +1\nlddw %r0, 1\nexit"), 0, "middle of lddw");
}

TEST(IsaDecoder, RejectsTruncatedLddw) {
  expect_rejected(program("exit\n.8byte 0x0000000100000018"), 1, "second slot is missing");
  expect_rejected(program(".8byte 0x0000000100000018\n.8byte 0x0000000000000195\nexit"), 1,
                  "second slot of lddw");
}

TEST(IsaDecoder, RejectsMissingExit) {
  expect_rejected(program("mov %r0, 0"), 0, "fall off the end");
  expect_rejected(program("exit\nlddw %r0, 1"), 1, "fall off the end");
}

TEST(IsaDecoder, RejectsWritesToTheFramePointer) {
  expect_rejected(program("mov %r10, 0\nexit"), 0, "r10 is the read-only frame pointer");
  expect_rejected(program("ldxdw %r10, [%r1]\nexit"), 0, "read-only frame pointer");
  expect_rejected(program("lock fetch add [%r1], %r10\nexit"), 0, "into r10");
}

TEST(IsaDecoder, RejectsRegistersAboveR10) {
  expect_rejected(program(".8byte 0x00000000000000b7\n.8byte 0x000000000000b0bf\nexit"), 1,
                  "field src must name a register");
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// negative/unused-<insn>-<field>.data: a program whose <field> is non-zero where RFC 9669 says
// it is unused. Each must be rejected at the first slot, naming the field.
TEST(IsaDecoderConformance, RejectsEveryUnusedFieldFile) {
  const fs::path dir = fs::path(BPFVM_ANCHORS_DIR) / "bpf_conformance" / "negative";
  if (!fs::exists(dir)) GTEST_SKIP() << "bpf_conformance anchors not found at " << dir.string();
  std::size_t checked = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().stem().string();
    if (!name.starts_with("unused-")) continue;
    SCOPED_TRACE(name);
    std::string field = name.substr(name.rfind('-') + 1);
    auto file = parse_data_file(read_text(entry.path()));
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    auto insns = file->program();
    ASSERT_TRUE(insns.ok()) << insns.error().to_string();
    auto decoded = decode(*insns);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().insn_index, 0u);
    EXPECT_NE(decoded.error().message.find("field " + field), std::string::npos)
        << decoded.error().message;
    ++checked;
  }
  EXPECT_EQ(checked, 45u);
}

}  // namespace
}  // namespace bpfvm
