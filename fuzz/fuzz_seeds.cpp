// Writes a seed corpus for interpreter_fuzz (input layout: fuzz_input.hpp) from the
// bpf_conformance programs.tsv and from our own tests/cases/*.data, at run time, so that no
// seed is stored in the repository.
//
//   fuzz_seeds OUT_DIR [programs.tsv] [tests/cases]
#include "fuzz_input.hpp"

#include <bpfvm/data_file.hpp>
#include <bpfvm/program.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
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

}  // namespace

int main(int argc, char** argv) {
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
