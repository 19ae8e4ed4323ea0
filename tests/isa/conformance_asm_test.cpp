// The assembler against bpf_conformance: every tests/*.data program must assemble to exactly
// the bytes listed in programs.tsv, and the negative files must fail where they should.
#include <bpfvm/assembler.hpp>
#include <bpfvm/data_file.hpp>
#include <bpfvm/disassembler.hpp>
#include <bpfvm/program.hpp>

#include "isa/decoder.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

namespace fs = std::filesystem;

const fs::path conformance_dir = fs::path(BPFVM_ANCHORS_DIR) / "bpf_conformance";

#define SKIP_WITHOUT_ANCHORS()                                                        \
  if (!fs::exists(conformance_dir / "programs.tsv"))                                  \
  GTEST_SKIP() << "bpf_conformance anchors not found at " << conformance_dir.string() \
               << " (set BPFVM_ANCHORS_DIR)"

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The program as programs.tsv writes it: space-separated bytes in memory order.
std::string hex_bytes(const std::vector<Insn>& insns) {
  return format_hex_bytes(bytes_from_insns(insns));
}

Result<std::vector<Insn>> load_program(const fs::path& path) {
  auto file = parse_data_file(read_text(path));
  if (!file) return file.error();
  return file->program();
}

std::vector<fs::path> data_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".data") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(IsaConformancePrograms, AssembleToTheBytesOfProgramsTsv) {
  SKIP_WITHOUT_ANCHORS();
  std::istringstream tsv(read_text(conformance_dir / "programs.tsv"));
  std::string line;
  std::getline(tsv, line);  // header: name, program, memory, result
  std::size_t checked = 0;
  while (std::getline(tsv, line)) {
    std::istringstream columns(line);
    std::string name, program;
    std::getline(columns, name, '\t');
    std::getline(columns, program, '\t');
    SCOPED_TRACE(name);
    auto insns = load_program(conformance_dir / "tests" / (name + ".data"));
    ASSERT_TRUE(insns.ok()) << insns.error().to_string();
    EXPECT_EQ(hex_bytes(*insns), program);
    // Each has an expected result, so each must pass the load-time checks too.
    auto decoded = decode(*insns);
    EXPECT_TRUE(decoded.ok()) << decoded.error().to_string();
    ++checked;
  }
  EXPECT_EQ(checked, 313u);
}

// Disassembly of every conformance program assembles back to the same bytes, and every one of
// their instructions has a printed form in both syntaxes.
TEST(IsaConformancePrograms, DisassemblyRoundTrips) {
  SKIP_WITHOUT_ANCHORS();
  std::size_t checked = 0;
  for (const fs::path& path : data_files(conformance_dir / "tests")) {
    SCOPED_TRACE(path.filename().string());
    auto insns = load_program(path);
    ASSERT_TRUE(insns.ok()) << insns.error().to_string();
    std::string text = disassemble(*insns, Syntax::conformance);
    auto again = assemble(text);
    ASSERT_TRUE(again.ok()) << again.error().to_string() << "\n" << text;
    EXPECT_EQ(*again, *insns) << text;
    EXPECT_EQ(text.find(".8byte"), std::string::npos) << text;
    std::string llvm = disassemble(*insns, Syntax::llvm);
    EXPECT_EQ(llvm.find(".8byte"), std::string::npos) << llvm;
    ++checked;
  }
  EXPECT_EQ(checked, 313u);
}

// Where the negative files fail: in the data-file parser, the assembler, the decoder, or not
// at all (a wrong expected result is the runner's business). The unused-* files are raw
// programs for the decoder; decoder_test.cpp covers them.
enum class FailsIn { data_file, no_program, assembler, decoder, nothing };

struct NegativeCase {
  const char* file;
  FailsIn fails_in;
  std::size_t line = 0, column = 0;  // for assembler errors, within the `-- asm` text
};

const NegativeCase negative_cases[] = {
    {"empty.data", FailsIn::no_program},
    {"empty_instructions.data", FailsIn::no_program},
    {"error.data", FailsIn::decoder},  // `or %r0, %r10`: r10 may only form addresses
    {"incorrect_return_value_high_bits.data", FailsIn::nothing},
    {"invalid_imm32_dec_range.data", FailsIn::assembler, 2, 12},
    {"invalid_imm32_hex_range.data", FailsIn::assembler, 2, 12},
    {"invalid_label.data", FailsIn::assembler, 1, 4},
    {"invalid_lock.data", FailsIn::assembler, 1, 6},
    {"invalid_lock2.data", FailsIn::assembler, 1, 5},
    {"invalid_mnemonic.data", FailsIn::assembler, 2, 1},
    {"invalid_offset.data", FailsIn::assembler, 1, 11},
    {"invalid_offset_range.data", FailsIn::assembler, 2, 15},
    {"invalid_operand_count.data", FailsIn::assembler, 1, 1},
    {"invalid_register.data", FailsIn::assembler, 1, 9},
    {"invalid_unknown_directive.data", FailsIn::data_file},
};

void check_negative(const NegativeCase& c) {
  auto file = parse_data_file(read_text(conformance_dir / "negative" / c.file));
  if (c.fails_in == FailsIn::data_file) {
    ASSERT_FALSE(file.ok());
    EXPECT_TRUE(file.error().line.has_value());
    return;
  }
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  auto program = file->program();
  if (c.fails_in == FailsIn::no_program) {
    EXPECT_FALSE(file->asm_text || file->raw);
    EXPECT_FALSE(program.ok());
    return;
  }
  if (c.fails_in == FailsIn::assembler) {
    ASSERT_FALSE(program.ok());
    EXPECT_EQ(program.error().line, c.line) << program.error().to_string();
    EXPECT_EQ(program.error().column, c.column) << program.error().to_string();
    // Where the file names the expected message, ours starts the same way.
    if (file->error && !file->error->empty()) {
      EXPECT_TRUE(program.error().message.starts_with(*file->error))
          << program.error().message << " vs " << *file->error;
    }
    return;
  }
  ASSERT_TRUE(program.ok()) << program.error().to_string();
  EXPECT_EQ(decode(*program).ok(), c.fails_in == FailsIn::nothing);
}

TEST(IsaConformanceNegative, FailWhereTheyShould) {
  SKIP_WITHOUT_ANCHORS();
  for (const NegativeCase& c : negative_cases) {
    SCOPED_TRACE(c.file);
    check_negative(c);
  }
}

// Every negative file is either in the table above or an unused-* decoder case.
TEST(IsaConformanceNegative, TableCoversEveryFile) {
  SKIP_WITHOUT_ANCHORS();
  std::size_t listed = 0, unused = 0;
  for (const fs::path& path : data_files(conformance_dir / "negative")) {
    std::string name = path.filename().string();
    if (name.starts_with("unused-")) {
      ++unused;
      continue;
    }
    bool found = std::any_of(std::begin(negative_cases), std::end(negative_cases),
                             [&](const NegativeCase& c) { return name == c.file; });
    EXPECT_TRUE(found) << name;
    listed += found ? 1 : 0;
  }
  EXPECT_EQ(listed, std::size(negative_cases));
  EXPECT_EQ(unused, 45u);
}

}  // namespace
}  // namespace bpfvm
