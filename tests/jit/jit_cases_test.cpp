// Every data-driven case of the interpreter (tests/cases/*.data) through both engines: the
// JIT must meet the file's `-- result` / `-- error`, and give exactly the interpreter's
// outcome (r0 or error kind, index and message) and memory in checked mode, in unchecked
// mode (cases that stay in bounds), with constants blinded, and under every budget from 0
// up to the one the program needs.
#include "jit/engine_harness.hpp"
#include "support/case_runner.hpp"

#include <bpfvm/data_file.hpp>

#include <gtest/gtest.h>

#include "support/test_names.hpp"

#include <cctype>
#include <filesystem>

namespace bpfvm::jit_test {
namespace {

namespace fs = std::filesystem;

fs::path cases_dir() { return fs::path(BPFVM_TEST_DATA_DIR) / "cases"; }

std::vector<std::string> names() {
  auto names = bpfvm::testing::data_file_names(cases_dir());
  if (names.empty()) names.push_back("no_cases");
  return names;
}

struct Loaded {
  DataFile file;
  Program program;
};

// The case's program, loaded; nullopt (with the reason) when it does not load, which is
// what malformed-* cases expect: no engine runs them.
std::optional<Loaded> load(const std::string& name, std::string& why) {
  auto text = bpfvm::testing::read_text(cases_dir() / (name + ".data"));
  if (!text) {
    why = "cannot read";
    return std::nullopt;
  }
  auto file = parse_data_file(*text);
  if (!file) {
    why = file.error().to_string();
    return std::nullopt;
  }
  auto insns = file->program();
  if (!insns) {
    why = insns.error().to_string();
    return std::nullopt;
  }
  HelperRegistry helpers = bpfvm::testing::suite_helpers();
  auto program = Program::load(*insns, LoadOptions{.helpers = &helpers});
  if (!program) {
    why = program.error().to_string();
    return std::nullopt;
  }
  return Loaded{std::move(*file), std::move(*program)};
}

// The variant each run uses is compiled up front, so a failure to compile shows here rather
// than as a silent fallback to the interpreter.
JitProgram compile(const Program& program, MemoryMode mode, bool blind = false,
                   bool counting = false) {
  JitOptions options;
  options.memory_mode = mode;
  options.blind_constants = blind;
  options.count_instructions = counting;
  auto jit = JitProgram::compile(program, options);
  EXPECT_TRUE(jit.ok()) << jit.error().to_string();
  return *jit;
}

class JitCases : public ::testing::TestWithParam<std::string> {};

TEST_P(JitCases, JitMeetsTheExpectationAndMatchesTheInterpreter) {
  std::string why;
  auto loaded = load(GetParam(), why);
  if (!loaded) GTEST_SKIP() << "does not load (no engine runs it): " << why;
  const DataFile& file = loaded->file;
  JitProgram jit = compile(loaded->program, MemoryMode::checked);
  RunOptions checked;
  RawComparison compared = compare_raw(loaded->program, jit, file.memory, checked);
  EXPECT_EQ(compared.difference, "");
  if (file.result) {
    ASSERT_TRUE(compared.jit.result.has_value()) << describe(compared.jit);
    EXPECT_EQ(hex(*compared.jit.result), hex(*file.result));
  } else if (file.error) {
    ASSERT_TRUE(compared.jit.error.has_value()) << describe(compared.jit);
    std::string actual = bpfvm::testing::describe(*compared.jit.error);
    EXPECT_NE(actual.find(bpfvm::testing::trim(*file.error)), std::string::npos)
        << "expected '" << *file.error << "' in '" << actual << "'";
  }

  // Blinded constants change nothing.
  JitProgram blinded = compile(loaded->program, MemoryMode::checked, true);
  EXPECT_EQ(compare_raw(loaded->program, blinded, file.memory, checked).difference, "")
      << "blinded";

  // Unchecked, when the checked run stayed in bounds.
  if (compared.interpreter.result) {
    RunOptions unchecked;
    unchecked.memory_mode = MemoryMode::unchecked;
    JitProgram fast = compile(loaded->program, MemoryMode::unchecked);
    EXPECT_EQ(compare_raw(loaded->program, fast, file.memory, unchecked).difference, "")
        << "unchecked";
  }
}

TEST_P(JitCases, EveryBudgetStopsAtTheSameInstruction) {
  std::string why;
  auto loaded = load(GetParam(), why);
  if (!loaded) GTEST_SKIP() << "does not load (no engine runs it): " << why;
  JitProgram jit = compile(loaded->program, MemoryMode::checked, false, true);
  for (std::uint64_t budget = 0; budget < 2000; ++budget) {
    RunOptions options;
    options.budget = budget;
    RawComparison compared = compare_raw(loaded->program, jit, loaded->file.memory, options);
    ASSERT_EQ(compared.difference, "") << "budget " << budget;
    bool exhausted = compared.interpreter.error &&
                     compared.interpreter.error->kind == Error::Kind::budget_exhausted;
    if (!exhausted) break;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, JitCases, ::testing::ValuesIn(names()), bpfvm::testing::file_param_name);

}  // namespace
}  // namespace bpfvm::jit_test
