// All bpf_conformance programs (programs.tsv) through the JIT: checked, unchecked, with a
// budget and with constants blinded, each giving the suite's result, the interpreter's
// outcome and the interpreter's memory.
#include "jit/conformance_tsv.hpp"
#include "jit/engine_harness.hpp"

#include <bpfvm/conformance.hpp>

#include <gtest/gtest.h>

#include "support/test_names.hpp"

#include <cctype>

namespace bpfvm::jit_test {
namespace {

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& [name, row] : conformance_cases()) names.push_back(name);
  if (names.empty()) names.push_back("anchors_absent");
  return names;
}

struct Variant {
  const char* name;
  MemoryMode mode;
  std::optional<std::uint64_t> budget;
  bool blind;
};

constexpr Variant variants[] = {
    {"checked", MemoryMode::checked, std::nullopt, false},
    {"unchecked", MemoryMode::unchecked, std::nullopt, false},
    {"checked+budget", MemoryMode::checked, 1'000'000, false},
    {"unchecked+budget", MemoryMode::unchecked, 1'000'000, false},
    {"checked+blinded", MemoryMode::checked, std::nullopt, true},
    {"unchecked+blinded+budget", MemoryMode::unchecked, 1'000'000, true},
};

class JitConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(JitConformance, EveryVariantGivesTheSuitesResultAndTheInterpretersOutcome) {
  auto it = conformance_cases().find(GetParam());
  if (it == conformance_cases().end())
    GTEST_SKIP() << "bpf_conformance anchors not found at " << conformance_dir().string();
  const ConformanceCase& row = it->second;
  HelperRegistry helpers = conformance_helpers();
  auto program = Program::load(row.insns, LoadOptions{.helpers = &helpers});
  ASSERT_TRUE(program.ok()) << program.error().to_string();
  for (const Variant& variant : variants) {
    SCOPED_TRACE(variant.name);
    JitOptions options;
    options.memory_mode = variant.mode;
    options.count_instructions = variant.budget.has_value();
    options.blind_constants = variant.blind;
    auto jit = JitProgram::compile(*program, options);
    ASSERT_TRUE(jit.ok()) << jit.error().to_string();
    RunOptions run;
    run.memory_mode = variant.mode;
    run.budget = variant.budget;
    RawComparison compared = compare_raw(*program, *jit, row.memory, run);
    ASSERT_TRUE(compared.jit.result.has_value()) << describe(compared.jit);
    EXPECT_EQ(hex(*compared.jit.result), hex(row.expected));
    EXPECT_EQ(compared.difference, "");
  }
}

INSTANTIATE_TEST_SUITE_P(BpfConformance, JitConformance, ::testing::ValuesIn(case_names()),
                         bpfvm::testing::file_param_name);

TEST(JitConformanceSuite, HasAll313Programs) {
  if (conformance_cases().empty())
    GTEST_SKIP() << "bpf_conformance anchors not found at " << conformance_dir().string();
  EXPECT_EQ(conformance_cases().size(), 313u);
}

}  // namespace
}  // namespace bpfvm::jit_test
