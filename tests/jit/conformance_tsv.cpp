#include "jit/conformance_tsv.hpp"

#include <bpfvm/program.hpp>

#include <fstream>
#include <sstream>

namespace bpfvm::jit_test {

std::filesystem::path conformance_dir() {
  return std::filesystem::path(BPFVM_ANCHORS_DIR) / "bpf_conformance";
}

std::optional<std::vector<std::uint8_t>> parse_hex(const std::string& text) {
  std::vector<std::uint8_t> out;
  std::istringstream in(text);
  std::string byte;
  while (in >> byte) {
    if (byte.size() != 2) return std::nullopt;
    char* end = nullptr;
    unsigned long value = std::strtoul(byte.c_str(), &end, 16);
    if (end != byte.c_str() + 2) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(value));
  }
  return out;
}

const std::map<std::string, ConformanceCase>& conformance_cases() {
  static const std::map<std::string, ConformanceCase> cases = [] {
    std::map<std::string, ConformanceCase> out;
    std::ifstream in(conformance_dir() / "programs.tsv");
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
      if (header) {
        header = false;
        continue;
      }
      std::vector<std::string> columns;
      std::istringstream fields(line);
      std::string field;
      while (std::getline(fields, field, '\t')) columns.push_back(field);
      if (columns.size() == 3) columns.emplace_back();  // empty trailing column
      if (columns.size() != 4) continue;
      auto program = parse_hex(columns[1]);
      auto memory = parse_hex(columns[2]);
      if (!program || !memory) continue;
      auto insns = insns_from_bytes(*program);
      if (!insns) continue;
      const std::string& result = columns[3];
      std::uint64_t expected =
          std::strtoull(result.c_str(), nullptr, result.rfind("0x", 0) == 0 ? 16 : 10);
      out[columns[0]] =
          ConformanceCase{columns[0], std::move(*insns), std::move(*memory), expected};
    }
    return out;
  }();
  return cases;
}

}  // namespace bpfvm::jit_test
