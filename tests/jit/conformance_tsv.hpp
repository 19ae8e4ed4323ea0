// The bpf_conformance suite's programs.tsv (../shared/anchors/bpf_conformance): one row per
// tests/*.data file with the program and memory as hex and the expected r0.
#pragma once

#include <bpfvm/insn.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::jit_test {

struct ConformanceCase {
  std::string name;
  std::vector<Insn> insns;
  std::vector<std::uint8_t> memory;
  std::uint64_t expected = 0;
};

std::filesystem::path conformance_dir();
// Every row, by name; empty when the file is absent. Malformed rows are left out.
const std::map<std::string, ConformanceCase>& conformance_cases();

// "aa bb 0c", whitespace-separated hex bytes.
std::optional<std::vector<std::uint8_t>> parse_hex(const std::string& text);

}  // namespace bpfvm::jit_test
