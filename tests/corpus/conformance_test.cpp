// The bpf_conformance suite (../shared/anchors/bpf_conformance) through the interpreter.
//
// Programs come from programs.tsv, the suite's own encoding of every tests/*.data file, so this
// test does not depend on our assembler. One test per data file, named after it.
#include "support/case_runner.hpp"

#include <gtest/gtest.h>

#include "support/test_names.hpp"

#include <cctype>
#include <filesystem>
#include <map>
#include <sstream>

namespace bpfvm::testing {
namespace {

namespace fs = std::filesystem;

fs::path conformance_dir() { return fs::path(BPFVM_ANCHORS_DIR) / "bpf_conformance"; }

// Placeholder parameter used when the anchors are absent, so the test skips with a message.
constexpr const char* absent = "anchors_absent";

struct TsvRow {
  std::string program;
  std::string memory;
  std::string result;
};

const std::map<std::string, TsvRow>& tsv_rows() {
  static const std::map<std::string, TsvRow> rows = [] {
    std::map<std::string, TsvRow> out;
    auto text = read_text(conformance_dir() / "programs.tsv");
    if (!text) return out;
    std::istringstream lines(*text);
    std::string line;
    bool header = true;
    while (std::getline(lines, line)) {
      if (header) {
        header = false;
        continue;
      }
      if (line.empty()) continue;
      std::vector<std::string> columns;
      std::size_t start = 0;
      for (;;) {
        std::size_t tab = line.find('\t', start);
        columns.push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
        if (tab == std::string::npos) break;
        start = tab + 1;
      }
      if (columns.size() != 4) continue;  // reported per case as a missing row
      out[columns[0]] = TsvRow{columns[1], columns[2], columns[3]};
    }
    return out;
  }();
  return rows;
}

std::vector<std::string> names_or_absent(const fs::path& dir) {
  std::vector<std::string> names = data_file_names(dir);
  if (names.empty()) names.push_back(absent);
  return names;
}

#define SKIP_IF_ABSENT(name)                                                              \
  if ((name) == absent)                                                                   \
  GTEST_SKIP() << "bpf_conformance anchors not found at " << conformance_dir().string() \
               << " (set BPFVM_ANCHORS_DIR)"

// ---- tests/: every program gives the suite's result ----

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  struct Loaded {
    std::vector<Insn> insns;
    std::vector<std::uint8_t> memory;
    std::uint64_t expected = 0;
  };

  // Reads the programs.tsv row of this test's file; adds a failure when it cannot.
  std::optional<Loaded> row() {
    const std::string& name = GetParam();
    auto it = tsv_rows().find(name);
    if (it == tsv_rows().end()) {
      ADD_FAILURE() << "programs.tsv has no row for tests/" << name << ".data";
      return std::nullopt;
    }
    auto program = parse_hex(it->second.program);
    auto memory = parse_hex(it->second.memory);
    auto expected = parse_number(it->second.result);
    if (!program || !memory || !expected) {
      ADD_FAILURE() << "programs.tsv row for " << name << " is malformed";
      return std::nullopt;
    }
    auto insns = insns_from_bytes(*program);
    if (!insns) {
      ADD_FAILURE() << describe(insns.error());
      return std::nullopt;
    }
    return Loaded{std::move(*insns), std::move(*memory), *expected};
  }
};

TEST_P(Conformance, CheckedModeGivesTheSuitesResult) {
  SKIP_IF_ABSENT(GetParam());
  auto loaded = row();
  if (!loaded) return;
  auto result = load_and_run(loaded->insns, loaded->memory);
  ASSERT_TRUE(result.ok()) << "tests/" << GetParam() << ".data: " << describe(result.error());
  EXPECT_EQ(hex(*result), hex(loaded->expected)) << "tests/" << GetParam() << ".data";
}

TEST_P(Conformance, UncheckedModeGivesTheSameResult) {
  SKIP_IF_ABSENT(GetParam());
  auto loaded = row();
  if (!loaded) return;
  auto result = load_and_run(loaded->insns, loaded->memory, RawRun{.mode = MemoryMode::unchecked});
  ASSERT_TRUE(result.ok()) << "tests/" << GetParam() << ".data: " << describe(result.error());
  EXPECT_EQ(hex(*result), hex(loaded->expected)) << "tests/" << GetParam() << ".data";
}

// A generous budget changes nothing for programs that terminate.
TEST_P(Conformance, GenerousBudgetChangesNothing) {
  SKIP_IF_ABSENT(GetParam());
  auto loaded = row();
  if (!loaded) return;
  auto result = load_and_run(loaded->insns, loaded->memory, RawRun{.budget = 1'000'000});
  ASSERT_TRUE(result.ok()) << "tests/" << GetParam() << ".data: " << describe(result.error());
  EXPECT_EQ(hex(*result), hex(loaded->expected)) << "tests/" << GetParam() << ".data";
}

INSTANTIATE_TEST_SUITE_P(BpfConformance, Conformance,
                         ::testing::ValuesIn(names_or_absent(conformance_dir() / "tests")),
                         bpfvm::testing::file_param_name);

TEST(ConformanceTsv, HasOneRowPerDataFile) {
  auto names = data_file_names(conformance_dir() / "tests");
  if (names.empty()) GTEST_SKIP() << "bpf_conformance anchors not found at " << conformance_dir();
  EXPECT_EQ(names.size(), 313u);
  EXPECT_EQ(tsv_rows().size(), names.size());
  for (const auto& name : names) EXPECT_TRUE(tsv_rows().count(name)) << name;
}

}  // namespace
}  // namespace bpfvm::testing
