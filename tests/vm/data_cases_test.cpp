// Our own data-driven cases, tests/cases/*.data (format: tests/cases/README.md), through the
// data-file parser, the assembler, the loader and the interpreter. One test per file.
#include "support/case_runner.hpp"

#include <gtest/gtest.h>

#include "support/test_names.hpp"

#include <cctype>
#include <filesystem>

namespace bpfvm::testing {
namespace {

namespace fs = std::filesystem;

fs::path cases_dir() { return fs::path(BPFVM_TEST_DATA_DIR) / "cases"; }

class DataCase : public ::testing::TestWithParam<std::string> {
 protected:
  fs::path path() const { return cases_dir() / (GetParam() + ".data"); }
};

TEST_P(DataCase, CheckedMode) {
  auto text = read_text(path());
  ASSERT_TRUE(text) << "cannot read " << path();
  EXPECT_EQ(check_data_file(*text), "") << path().string();
}

INSTANTIATE_TEST_SUITE_P(Cases, DataCase, ::testing::ValuesIn(data_file_names(cases_dir())),
                         bpfvm::testing::file_param_name);

// The cases with a `-- result`: valid programs, which unchecked mode must run the same.
std::vector<std::string> valid_case_names() {
  std::vector<std::string> names;
  for (const std::string& name : data_file_names(cases_dir())) {
    auto text = read_text(cases_dir() / (name + ".data"));
    if (text && text->find("\n-- result") != std::string::npos) names.push_back(name);
  }
  return names;
}

class ValidDataCase : public DataCase {};

TEST_P(ValidDataCase, UncheckedModeGivesTheSameResult) {
  auto text = read_text(path());
  ASSERT_TRUE(text) << "cannot read " << path();
  EXPECT_EQ(check_data_file(*text, RawRun{.mode = MemoryMode::unchecked}), "") << path().string();
}

INSTANTIATE_TEST_SUITE_P(Cases, ValidDataCase, ::testing::ValuesIn(valid_case_names()), bpfvm::testing::file_param_name);

TEST(DataCases, FolderIsNotEmpty) { EXPECT_GT(data_file_names(cases_dir()).size(), 100u); }

}  // namespace
}  // namespace bpfvm::testing
