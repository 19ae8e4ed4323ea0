#include "classic/pcap_corpus.hpp"

#include <fstream>
#include <sstream>

namespace bpfvm::classic::test {

std::filesystem::path corpus_dir() {
  return std::filesystem::path(BPFVM_ANCHORS_DIR) / "pcap-corpus";
}

bool corpus_present() { return std::filesystem::exists(corpus_dir() / "files.tsv"); }

std::optional<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

namespace {

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, separator)) fields.push_back(field);
  if (!line.empty() && line.back() == separator) fields.emplace_back();
  return fields;
}

}  // namespace

std::vector<TsvRow> read_tsv(const std::filesystem::path& path) {
  std::vector<TsvRow> rows;
  auto text = read_text(path);
  if (!text) return rows;
  std::istringstream lines(*text);
  std::string line;
  std::vector<std::string> header;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    auto fields = split(line, '\t');
    if (header.empty()) {
      header = fields;
      continue;
    }
    TsvRow row;
    for (std::size_t i = 0; i < header.size(); ++i)
      row[header[i]] = i < fields.size() ? fields[i] : "";
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> corpus_filters() {
  std::vector<std::string> filters;
  auto text = read_text(corpus_dir() / "filters.txt");
  if (!text) return filters;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) filters.push_back(line);
  return filters;
}

std::vector<std::string> corpus_files() {
  std::vector<std::string> files;
  for (const TsvRow& row : read_tsv(corpus_dir() / "files.tsv")) files.push_back(row.at("file"));
  return files;
}

std::vector<std::size_t> parse_ranges(const std::string& text) {
  std::vector<std::size_t> out;
  for (const std::string& part : split(text, ',')) {
    if (part.empty()) continue;
    auto dash = part.find('-');
    std::size_t first = std::stoul(part.substr(0, dash));
    std::size_t last = dash == std::string::npos ? first : std::stoul(part.substr(dash + 1));
    for (std::size_t n = first; n <= last; ++n) out.push_back(n);
  }
  return out;
}

std::map<std::size_t, std::string> dump_blocks(const std::string& text) {
  std::map<std::size_t, std::string> blocks;
  std::istringstream lines(text);
  std::string line;
  std::size_t current = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("### ", 0) == 0) {
      current = std::stoul(line.substr(4));
      blocks[current];
      continue;
    }
    if (current != 0) blocks[current] += line + "\n";
  }
  return blocks;
}

}  // namespace bpfvm::classic::test
