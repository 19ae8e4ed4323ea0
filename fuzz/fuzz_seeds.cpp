// Writes a seed corpus for interpreter_fuzz (input layout: fuzz_input.hpp) from the
// bpf_conformance programs.tsv and from our own tests/cases/*.data, at run time, so that no
// seed is stored in the repository; with --verifier, a corpus for verifier_fuzz (layout:
// verifier_input.hpp) from the verifier cases, tests/verifier/cases/*.txt (docs/verifier.md).
//
//   fuzz_seeds OUT_DIR [programs.tsv] [tests/cases]
//   fuzz_seeds --verifier OUT_DIR tests/verifier/cases
#include "fuzz_input.hpp"
#include "verifier_input.hpp"

#include <bpfvm/assembler.hpp>

#include <bpfvm/data_file.hpp>
#include <bpfvm/program.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using namespace bpfvm;

namespace {

bool write_seed(const fs::path& dir, const std::string& name,
                const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

std::size_t seeds_from_tsv(const fs::path& tsv, const fs::path& out) {
  std::ifstream in(tsv);
  if (!in) return 0;
  std::string line;
  std::getline(in, line);  // header
  std::size_t count = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> columns;
    std::stringstream split(line);
    std::string column;
    while (std::getline(split, column, '\t')) columns.push_back(column);
    if (columns.size() < 2) continue;
    auto program = parse_hex_bytes(columns[1]);
    auto memory = columns.size() > 2
                      ? parse_hex_bytes(columns[2])
                      : Result<std::vector<std::uint8_t>>(std::vector<std::uint8_t>{});
    if (!program || !memory) continue;
    count += write_seed(out, "conformance-" + columns[0], fuzz::join_input(*memory, 0, *program));
  }
  return count;
}

std::size_t seeds_from_cases(const fs::path& dir, const fs::path& out) {
  std::size_t count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".data") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto file = parse_data_file(text.str());
    if (!file) continue;
    auto insns = file->program();
    if (!insns) continue;
    std::vector<std::uint8_t> program = bytes_from_insns(*insns);
    count += write_seed(out, "case-" + entry.path().stem().string(),
                        fuzz::join_input(file->memory, 0, program));
  }
  return count;
}

// One seed per case: `== name` opens a case, `@context N` and `@budget N` set its options,
// other `@` lines are verdicts, the rest is the program's assembly.
std::size_t seeds_from_verifier_cases(const fs::path& dir, const fs::path& out) {
  struct Case {
    std::string name, source;
    std::optional<std::size_t> context;
    bool small_budget = false;
  };
  std::size_t count = 0;
  auto write = [&](const Case& c) {
    auto insns = assemble(c.source);
    if (!insns) return;
    count +=
        write_seed(out, "vcase-" + std::to_string(count),
                   fuzz::join_verifier_input(c.context, c.small_budget, bytes_from_insns(*insns)));
  };
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".txt") continue;
    std::ifstream in(entry.path());
    std::optional<Case> current;
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("==", 0) == 0) {
        if (current) write(*current);
        current = Case{.name = line};
      } else if (!current) {
        continue;
      } else if (line.rfind("@context ", 0) == 0) {
        current->context = std::stoul(line.substr(9));
      } else if (line.rfind("@budget ", 0) == 0) {
        current->small_budget = std::stoull(line.substr(8)) <= fuzz::verifier_small_budget;
      } else if (line.rfind("@", 0) != 0) {
        current->source += line + "\n";
      }
    }
    if (current) write(*current);
  }
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "--verifier") {
    fs::path out = argv[2];
    fs::create_directories(out);
    std::size_t cases = seeds_from_verifier_cases(argv[3], out);
    std::printf("wrote %zu verifier seeds from %s into %s\n", cases, argv[3], out.string().c_str());
    return cases == 0 ? 1 : 0;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [programs.tsv] [tests/cases]\n", argv[0]);
    return 2;
  }
  fs::path out = argv[1];
  fs::create_directories(out);
  std::size_t tsv = argc > 2 ? seeds_from_tsv(argv[2], out) : 0;
  std::size_t cases = argc > 3 ? seeds_from_cases(argv[3], out) : 0;
  std::printf("wrote %zu seeds from programs.tsv and %zu from tests/cases into %s\n", tsv, cases,
              out.string().c_str());
  return 0;
}
