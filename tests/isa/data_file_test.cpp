// The bpf_conformance data-file format and hex-byte parsing.
#include <bpfvm/data_file.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

using Bytes = std::vector<std::uint8_t>;

DataFile parse_ok(std::string_view text) {
  auto file = parse_data_file(text);
  EXPECT_TRUE(file.ok()) << file.error().to_string();
  return file.ok() ? *file : DataFile{};
}

TEST(IsaDataFile, ReadsEverySection) {
  DataFile file = parse_ok(
      "# Copyright line\n"
      "# RFC 9669 \x7f"
      "4.1: a stray DEL byte in a comment\n"
      "-- asm\n"
      "# kept: the assembler skips it\n"
      "ldxb %r0, [%r1+1]\n"
      "exit\n"
      "-- mem\n"
      "aa bb\n"
      "# a comment inside mem\n"
      "cc\n"
      "-- result\n"
      "0xbb\n");
  ASSERT_TRUE(file.asm_text.has_value());
  EXPECT_EQ(*file.asm_text, "# kept: the assembler skips it\nldxb %r0, [%r1+1]\nexit\n");
  EXPECT_EQ(file.memory, (Bytes{0xaa, 0xbb, 0xcc}));
  EXPECT_EQ(file.result, 0xbbu);
  EXPECT_FALSE(file.raw.has_value());
  EXPECT_FALSE(file.error.has_value());
  auto program = file.program();
  ASSERT_TRUE(program.ok()) << program.error().to_string();
  EXPECT_EQ(program->size(), 2u);
}

TEST(IsaDataFile, RawTakesWordsOrBytesPerLine) {
  DataFile file = parse_ok(
      "-- raw\n"
      "0x5566778800000018\n"
      "0x1122334400000000\n"
      "95 00 00 00 00 00 00 00\n"
      "07 01 02 00\n"
      "03 00 00 00\n");
  ASSERT_TRUE(file.raw.has_value());
  ASSERT_EQ(file.raw->size(), 4u);
  EXPECT_EQ((*file.raw)[0].opcode, 0x18);
  EXPECT_EQ((*file.raw)[0].imm, 0x55667788);
  EXPECT_EQ((*file.raw)[1].imm, 0x11223344);
  EXPECT_EQ((*file.raw)[2].opcode, 0x95);
  EXPECT_EQ((*file.raw)[3].opcode, 0x07);
  EXPECT_EQ((*file.raw)[3].dst, 1);
  EXPECT_EQ((*file.raw)[3].offset, 2);
  EXPECT_EQ((*file.raw)[3].imm, 3);
  auto program = file.program();
  ASSERT_TRUE(program.ok());
  EXPECT_EQ(*program, *file.raw);
}

TEST(IsaDataFile, AsmIsThePreferredProgramWhenBothArePresent) {
  DataFile file = parse_ok("-- asm\nexit\n-- raw\n0x0000000000000000\n");
  auto program = file.program();
  ASSERT_TRUE(program.ok());
  ASSERT_EQ(program->size(), 1u);
  EXPECT_EQ((*program)[0].opcode, 0x95);
}

TEST(IsaDataFile, ResultIsHexOrDecimal) {
  EXPECT_EQ(parse_ok("-- result\n0x8977665544332211\n").result, 0x8977665544332211u);
  EXPECT_EQ(parse_ok("-- result\n42\n").result, 42u);
  EXPECT_EQ(parse_ok("-- result\n-1\n").result, ~std::uint64_t{0});
  EXPECT_FALSE(parse_ok("-- asm\nexit\n").result.has_value());
}

TEST(IsaDataFile, ErrorSectionMayBeEmpty) {
  EXPECT_EQ(parse_ok("-- raw\n95 00 00 00 00 00 00 00\n-- error\n").error, "");
  EXPECT_EQ(parse_ok("-- asm\nlock\n-- error\nInvalid number of operands for lock").error,
            "Invalid number of operands for lock");
}

TEST(IsaDataFile, IgnoredSectionsAndCarriageReturns) {
  DataFile file = parse_ok(
      "-- c\r\n"
      "#include <stdint.h>\r\n"
      "int f(int i) { return --i; }\r\n"
      "-- asm\r\n"
      "exit\r\n"
      "-- no register offset\r\n"
      "call instruction\r\n"
      "-- result\r\n"
      "0x1\r\n");
  EXPECT_EQ(file.asm_text, "exit\n");
  EXPECT_EQ(file.result, 1u);
}

struct BadFile {
  const char* text;
  std::size_t line;
  const char* message;
};

const BadFile bad_files[] = {
    {"# c\n-- asm\n-- Unknown directive\n", 3, "Unknown section '-- Unknown directive'"},
    {"-- asm\nexit\n-- asm\nexit\n", 3, "Duplicate section '-- asm'"},
    {"mov %r0, 1\n-- asm\n", 1, "Text before the first"},
    {"-- raw\n95 00 00 00 00 00 00\n", 2, "not a whole 8-byte instruction"},
    {"-- raw\n95 00 zz 00 00 00 00 00\n", 2, "Invalid hex byte 'zz'"},
    {"-- raw\n0x12345678901234567\n", 2, "Invalid instruction word"},
    {"-- mem\n00 01\n02 0x100\n", 3, "Invalid hex byte '0x100'"},
    {"-- result\n0x\n", 2, "Invalid result '0x'"},
    {"-- result\n1\n2\n", 3, "Second value '2'"},
};

TEST(IsaDataFile, ErrorsNameTheLine) {
  for (const BadFile& c : bad_files) {
    auto file = parse_data_file(c.text);
    ASSERT_FALSE(file.ok()) << c.text;
    EXPECT_EQ(file.error().kind, Error::Kind::parse);
    EXPECT_EQ(file.error().line, c.line) << c.text << ": " << file.error().to_string();
    EXPECT_NE(file.error().message.find(c.message), std::string::npos) << file.error().message;
  }
}

TEST(IsaDataFile, NoProgramIsAnError) {
  auto program = parse_ok("# only comments\n-- result\n0x0\n").program();
  ASSERT_FALSE(program.ok());
  EXPECT_NE(program.error().message.find("no program"), std::string::npos);
}

TEST(IsaDataFile, AssemblyErrorsComeBackFromProgram) {
  auto program = parse_ok("-- asm\nexit\nor %r0, %r50\n").program();
  ASSERT_FALSE(program.ok());
  EXPECT_EQ(program.error().line, 2u);  // within the asm text
  EXPECT_EQ(program.error().column, 9u);
}

TEST(IsaHexBytes, ParsesBytesWithOptionalPrefixes) {
  auto bytes = parse_hex_bytes("aa BB 0c\n0x01 0XfF a\n\n");
  ASSERT_TRUE(bytes.ok()) << bytes.error().to_string();
  EXPECT_EQ(*bytes, (Bytes{0xaa, 0xbb, 0x0c, 0x01, 0xff, 0x0a}));
  auto empty = parse_hex_bytes("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(IsaHexBytes, FormatsWhatItParses) {
  EXPECT_EQ(format_hex_bytes(Bytes{0xaa, 0x0b, 0x00, 0xff}), "aa 0b 00 ff");
  EXPECT_EQ(format_hex_bytes(Bytes{}), "");
  auto again = parse_hex_bytes(format_hex_bytes(Bytes{1, 2, 254}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, (Bytes{1, 2, 254}));
}

TEST(IsaHexBytes, ErrorsHaveLineAndColumn) {
  auto bytes = parse_hex_bytes("00 11\n22 333 44\n");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.error().line, 2u);
  EXPECT_EQ(bytes.error().column, 4u);
  EXPECT_NE(bytes.error().message.find("'333'"), std::string::npos);
  EXPECT_FALSE(parse_hex_bytes("0x").ok());
  EXPECT_FALSE(parse_hex_bytes("g0").ok());
}

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Memory and result of every conformance test agree with programs.tsv.
TEST(IsaDataFileConformance, MemoryAndResultMatchProgramsTsv) {
  const fs::path dir = fs::path(BPFVM_ANCHORS_DIR) / "bpf_conformance";
  if (!fs::exists(dir / "programs.tsv"))
    GTEST_SKIP() << "bpf_conformance anchors not found at " << dir.string();
  std::istringstream tsv(read_text(dir / "programs.tsv"));
  std::string line;
  std::getline(tsv, line);  // header
  std::size_t checked = 0;
  while (std::getline(tsv, line)) {
    std::istringstream columns(line);
    std::string name, program, memory, result;
    std::getline(columns, name, '\t');
    std::getline(columns, program, '\t');
    std::getline(columns, memory, '\t');
    std::getline(columns, result, '\t');
    SCOPED_TRACE(name);
    auto file = parse_data_file(read_text(dir / "tests" / (name + ".data")));
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    auto expected_memory = parse_hex_bytes(memory);
    ASSERT_TRUE(expected_memory.ok());
    EXPECT_EQ(file->memory, *expected_memory);
    ASSERT_TRUE(file->result.has_value());
    bool hex = result.starts_with("0x") || result.starts_with("0X");
    EXPECT_EQ(*file->result, std::stoull(hex ? result.substr(2) : result, nullptr, hex ? 16 : 10))
        << result;
    ++checked;
  }
  EXPECT_EQ(checked, 313u);
}

}  // namespace
}  // namespace bpfvm
