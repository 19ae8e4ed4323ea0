// The bpf_conformance data files through the whole pipeline: data-file parser, assembler,
// loader, interpreter. tests/ must give the suite's results; negative/ must be rejected.
#include "support/case_runner.hpp"

#include <gtest/gtest.h>

#include "support/test_names.hpp"

#include <cctype>
#include <filesystem>
#include <sstream>

namespace bpfvm::testing {
namespace {

namespace fs = std::filesystem;

fs::path conformance_dir() { return fs::path(BPFVM_ANCHORS_DIR) / "bpf_conformance"; }

constexpr const char* absent = "anchors_absent";

std::vector<std::string> names_or_absent(const fs::path& dir) {
  std::vector<std::string> names = data_file_names(dir);
  if (names.empty()) names.push_back(absent);
  return names;
}

#define SKIP_IF_ABSENT(name)                                                              \
  if ((name) == absent)                                                                   \
  GTEST_SKIP() << "bpf_conformance anchors not found at " << conformance_dir().string() \
               << " (set BPFVM_ANCHORS_DIR)"

// ---- tests/ through parser, assembler, loader and interpreter ----

class ConformanceFile : public ::testing::TestWithParam<std::string> {};

TEST_P(ConformanceFile, PassesThroughTheWholePipeline) {
  SKIP_IF_ABSENT(GetParam());
  fs::path path = conformance_dir() / "tests" / (GetParam() + ".data");
  auto text = read_text(path);
  ASSERT_TRUE(text) << "cannot read " << path;
  EXPECT_EQ(check_data_file(*text), "") << path.string();
}

INSTANTIATE_TEST_SUITE_P(BpfConformance, ConformanceFile,
                         ::testing::ValuesIn(names_or_absent(conformance_dir() / "tests")),
                         bpfvm::testing::file_param_name);

// ---- negative/: every file is rejected ----

// The bytes of a `-- raw` section written one byte per hex pair, read without the library's
// data-file parser so the loader is tested on its own.
std::optional<std::vector<std::uint8_t>> raw_section_bytes(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  bool in_raw = false;
  std::string hex_text;
  while (std::getline(lines, line)) {
    if (line.rfind("--", 0) == 0) {
      in_raw = trim(line.substr(2)) == "raw";
      continue;
    }
    if (!in_raw || line.empty() || line[0] == '#') continue;
    hex_text += line + "\n";
  }
  if (hex_text.empty()) return std::nullopt;
  return parse_hex(hex_text);
}

class ConformanceNegative : public ::testing::TestWithParam<std::string> {};

TEST_P(ConformanceNegative, IsRejected) {
  SKIP_IF_ABSENT(GetParam());
  const std::string& name = GetParam();
  fs::path path = conformance_dir() / "negative" / (name + ".data");
  auto text = read_text(path);
  ASSERT_TRUE(text) << "cannot read " << path;

  if (name.rfind("unused-", 0) == 0) {
    // An unused field is non-zero: Program::load must refuse it, naming the instruction.
    auto bytes = raw_section_bytes(*text);
    ASSERT_TRUE(bytes) << path << ": no per-byte -- raw section";
    HelperRegistry helpers = suite_helpers();
    auto program = Program::load_bytes(*bytes, LoadOptions{.helpers = &helpers});
    ASSERT_FALSE(program.ok()) << path << ": Program::load accepted it";
    EXPECT_EQ(kind_name(program.error().kind), "invalid_program") << describe(program.error());
    EXPECT_TRUE(program.error().insn_index.has_value()) << describe(program.error());
    // The same through the data-file parser: it parses, and loading fails.
    CaseOutcome outcome = run_data_file(*text);
    EXPECT_EQ(stage_name(outcome.stage), stage_name(CaseOutcome::Stage::load))
        << path << (outcome.error ? ": " + describe(*outcome.error) : std::string());
    return;
  }

  CaseOutcome outcome = run_data_file(*text);
  if (name == "incorrect_return_value_high_bits") {
    // A valid program whose file states a wrong result: we must give the right one.
    ASSERT_EQ(stage_name(outcome.stage), stage_name(CaseOutcome::Stage::done))
        << (outcome.error ? describe(*outcome.error) : std::string());
    EXPECT_EQ(hex(outcome.result), "0x8877665544332211");
    return;
  }
  if (outcome.stage != CaseOutcome::Stage::done) {
    SUCCEED() << path << " rejected while " << stage_name(outcome.stage) << ": "
              << describe(*outcome.error);
    return;
  }
  // It ran: it must not produce the result the file claims.
  auto file = parse_data_file(*text);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(file->result.has_value())
      << path << " should have been rejected but ran and returned " << hex(outcome.result);
  EXPECT_NE(outcome.result, *file->result)
      << path << " is invalid but produced the result it states";
}

INSTANTIATE_TEST_SUITE_P(BpfConformance, ConformanceNegative,
                         ::testing::ValuesIn(names_or_absent(conformance_dir() / "negative")),
                         bpfvm::testing::file_param_name);

}  // namespace
}  // namespace bpfvm::testing
