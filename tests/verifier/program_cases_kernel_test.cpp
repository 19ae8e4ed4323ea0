// The case files against the kernel's verifier: every case the kernel can judge the same way
// (no r2 at all, which the kernel leaves unset at entry and raw programs get as a length; no
// context size; no helpers, whose numbers mean other helpers in Linux) is loaded as a
// socket filter; typed cases (`@type`) are loaded with their own program type (and
// `@attach` as expected_attach_type), helper calls, r2 and context accesses included, since
// the ids and contexts are Linux's own. Asserted: Linux's verdict is the case's `@expect`, or its
// `@linux` where the case documents a difference (Linux lets root leak and mangle pointers and read
// unwritten stack; our scalar domain proves some edges impossible that Linux's does not).
#include "support/kernel_bpf.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/program_type.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace bpfvm::verifier::testing {
namespace {

struct Case {
  std::string where, name, source;
  bool accept = false, compatible = true, linux_given = false;
  ProgramType type = ProgramType::raw;
  std::uint32_t attach = 0;
  std::string raw_only;  // a line that makes an untyped case incompatible
};

std::vector<Case> compatible_cases() {
  std::vector<Case> out;
  const auto dir = std::filesystem::path(BPFVM_TEST_DATA_DIR) / "verifier/cases";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::string line;
    int number = 0;
    bool in_file = false;
    while (std::getline(in, line)) {
      ++number;
      if (line.rfind("==", 0) == 0) {
        Case c;
        c.where = path.filename().string() + ":" + std::to_string(number);
        c.name = line.substr(line.find_first_not_of("= "));
        out.push_back(std::move(c));
        in_file = true;
        continue;
      }
      if (!in_file) continue;
      Case& c = out.back();
      if (line.rfind("@expect ", 0) == 0 && !c.linux_given)
        c.accept = line.substr(8) == "accept";
      else if (line.rfind("@linux ", 0) == 0) {
        c.accept = line.substr(7) == "accept";
        c.linux_given = true;
      } else if (line.rfind("@type ", 0) == 0) {
        c.type = program_type_from_name(line.substr(6)).value_or(ProgramType::raw);
      } else if (line.rfind("@attach ", 0) == 0) {
        c.attach = static_cast<std::uint32_t>(std::stoul(line.substr(8)));
      } else if (line.rfind("@context", 0) == 0 || line.rfind("@budget", 0) == 0)
        c.compatible = false;
      else if (line.rfind("@", 0) != 0) {
        if (line.find("%r2") != std::string::npos || line.rfind("call ", 0) == 0 ||
            line.find("[%r1") != std::string::npos)
          c.raw_only = line;
        c.source += line + "\n";
      }
    }
    in_file = false;
  }
  std::erase_if(out, [](const Case& c) {
    return !c.compatible || (c.type == ProgramType::raw && !c.raw_only.empty());
  });
  return out;
}

TEST(VerifierCasesKernel, WhatWeAcceptLinuxAccepts) {
  if (auto probe = bpfvm::test::kernel::probe(); !probe)
    GTEST_SKIP() << "the kernel's verifier is not available: " << probe.error().to_string();
  int compared = 0, agree = 0, typed = 0;
  for (const Case& c : compatible_cases()) {
    auto insns = assemble(c.source);
    ASSERT_TRUE(insns) << c.where;
    bpfvm::test::kernel::ProgLoadOptions load;
    if (c.type != ProgramType::raw) {
      load.type = static_cast<bpfvm::test::kernel::ProgType>(c.type);
      load.expected_attach_type = c.attach;
      ++typed;
    }
    auto kernel = bpfvm::test::kernel::load_program(*insns, load);
    ++compared;
    if (kernel.ok() == c.accept) {
      ++agree;
      continue;
    }
    ADD_FAILURE() << c.where << " " << c.name << ": Linux " << (kernel.ok() ? "accepts" : "rejects")
                  << ", the case says it " << (c.accept ? "accepts" : "rejects")
                  << " (add or fix `@linux accept|reject`):\n"
                  << (kernel.ok() ? std::string() : kernel.error().to_string());
  }
  std::cout << compared << " cases compared with the kernel (" << typed << " typed), " << agree
            << " same verdict\n";
  EXPECT_GT(compared, 50);
}

}  // namespace
}  // namespace bpfvm::verifier::testing
