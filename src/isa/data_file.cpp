// The bpf_conformance test file format: `#` comment lines, then `-- name` sections.
#include <bpfvm/data_file.hpp>

#include <bpfvm/assembler.hpp>

#include "isa/text_lexer.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm {
namespace {

enum class Section { none, assembly, raw, memory, result, error, c_source, no_register_offset };

struct SectionName {
  std::string_view name;
  Section section;
};

// `-- c` (the C source a program was compiled from) and `-- no register offset` (a uBPF
// runner option, sometimes followed by a note) carry nothing bpfvm uses; they are skipped.
constexpr std::array<SectionName, 7> section_names = {{
    {"asm", Section::assembly},
    {"raw", Section::raw},
    {"mem", Section::memory},
    {"result", Section::result},
    {"error", Section::error},
    {"c", Section::c_source},
    {"no register offset", Section::no_register_offset},
}};

Error line_error(std::size_t line, std::string message) {
  Error error = make_error(Error::Kind::parse, std::move(message));
  error.line = line;
  return error;
}

Error column_error(std::size_t line, std::size_t column, std::string message) {
  Error error = line_error(line, std::move(message));
  error.column = column;
  return error;
}

std::string_view trim(std::string_view text) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

bool is_comment(std::string_view line) { return trim(line).starts_with('#'); }

// A whitespace-separated word of a line, with its 1-based column.
struct Word {
  std::string_view text;
  std::size_t column;
};

std::vector<Word> split_words(std::string_view line) {
  std::vector<Word> words;
  std::size_t i = 0;
  while (i < line.size()) {
    if (std::isspace(static_cast<unsigned char>(line[i])) != 0) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) == 0) ++i;
    words.push_back({line.substr(start, i - start), start + 1});
  }
  return words;
}

// `aa`, `0xaa` or `a`: one byte in hex.
std::optional<std::uint8_t> parse_hex_byte(std::string_view word) {
  if (word.starts_with("0x") || word.starts_with("0X")) word.remove_prefix(2);
  if (word.empty() || word.size() > 2) return std::nullopt;
  unsigned value = 0;
  for (char c : word) {
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return std::nullopt;
    unsigned digit = std::isdigit(static_cast<unsigned char>(c)) != 0
                         ? static_cast<unsigned>(c - '0')
                         : static_cast<unsigned>(std::tolower(c) - 'a' + 10);
    value = value * 16 + digit;
  }
  return static_cast<std::uint8_t>(value);
}

// Appends the hex bytes of one line; `line` numbers errors.
Status append_hex_bytes(std::string_view text, std::size_t line, std::vector<std::uint8_t>& out) {
  for (const Word& word : split_words(text)) {
    auto byte = parse_hex_byte(word.text);
    if (!byte)
      return column_error(line, word.column, fmt::format("Invalid hex byte '{}'", word.text));
    out.push_back(*byte);
  }
  return Ok{};
}

// The slot of a 64-bit little-endian instruction word (RFC 9669 section 3).
Insn insn_from_word(std::uint64_t word) {
  Insn insn;
  insn.opcode = static_cast<std::uint8_t>(word);
  insn.dst = static_cast<std::uint8_t>((word >> 8) & 0x0f);
  insn.src = static_cast<std::uint8_t>((word >> 12) & 0x0f);
  insn.offset = static_cast<std::int16_t>(word >> 16);
  insn.imm = static_cast<std::int32_t>(word >> 32);
  return insn;
}

class DataFileParser {
 public:
  Result<DataFile> run(std::string_view text) {
    while (!text.empty()) {
      std::size_t end = text.find('\n');
      std::string_view line = text.substr(0, end);
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (auto status = parse_line(line, ++line_); !status) return status.error();
    }
    return finish();
  }

 private:
  Status parse_line(std::string_view line, std::size_t number) {
    if (line.starts_with("-- ") || line == "--") return open_section(line, number);
    switch (section_) {
      case Section::none:
        if (trim(line).empty() || is_comment(line)) return Ok{};
        return line_error(number, "Text before the first `-- section` line");
      case Section::assembly:
        asm_text_ += line;
        asm_text_ += '\n';
        return Ok{};
      case Section::error: error_lines_->emplace_back(line); return Ok{};
      case Section::c_source:
      case Section::no_register_offset: return Ok{};
      default: break;
    }
    if (trim(line).empty() || is_comment(line)) return Ok{};
    switch (section_) {
      case Section::raw: return parse_raw_line(line, number);
      case Section::memory: return append_hex_bytes(line, number, file_.memory);
      case Section::result: return parse_result_line(line, number);
      default: return Ok{};
    }
  }

  Status open_section(std::string_view line, std::size_t number) {
    std::string_view name = trim(line.substr(2));
    for (const SectionName& known : section_names) {
      if (known.name != name) continue;
      if (count(known.section) != 0)
        return line_error(number, fmt::format("Duplicate section '-- {}'", name));
      seen_.push_back(known.section);
      section_ = known.section;
      if (section_ == Section::assembly) asm_text_.clear();
      if (section_ == Section::raw) raw_.emplace();
      if (section_ == Section::error) error_lines_.emplace();
      return Ok{};
    }
    return line_error(number,
                      fmt::format("Unknown section '{}' (expected -- asm, raw, mem, result, "
                                  "error, c or no register offset)",
                                  trim(line)));
  }

  std::size_t count(Section section) const {
    std::size_t n = 0;
    for (Section seen : seen_) n += seen == section ? 1 : 0;
    return n;
  }

  // A line holds one 64-bit instruction word (`0x00000001000000b7`, opcode in the low byte) or
  // the slot's bytes in memory order (`b7 00 00 00 01 00 00 00`).
  Status parse_raw_line(std::string_view line, std::size_t number) {
    std::vector<Word> words = split_words(line);
    if (words.size() == 1 && words[0].text.size() > 4 &&
        (words[0].text.starts_with("0x") || words[0].text.starts_with("0X"))) {
      auto word = text::parse_unsigned(words[0].text);
      if (!word)
        return column_error(number, words[0].column,
                            fmt::format("Invalid instruction word '{}'", words[0].text));
      if (!raw_bytes_.empty())
        return line_error(number, "Instruction word after an incomplete run of raw bytes");
      raw_->push_back(insn_from_word(word->magnitude));
      return Ok{};
    }
    if (auto status = append_hex_bytes(line, number, raw_bytes_); !status) return status;
    raw_line_ = number;
    while (raw_bytes_.size() >= 8) {
      std::uint64_t word = 0;
      for (std::size_t i = 0; i < 8; ++i)
        word |= static_cast<std::uint64_t>(raw_bytes_[i]) << (8 * i);
      raw_->push_back(insn_from_word(word));
      raw_bytes_.erase(raw_bytes_.begin(), raw_bytes_.begin() + 8);
    }
    return Ok{};
  }

  // `0x2a` or `42`; a negative decimal is taken as its 64-bit two's complement.
  Status parse_result_line(std::string_view line, std::size_t number) {
    std::string_view value = trim(line);
    if (file_.result)
      return line_error(number, fmt::format("Second value '{}' in -- result", value));
    bool negative = value.starts_with('-');
    auto parsed = text::parse_unsigned(negative ? value.substr(1) : value);
    if (!parsed || (negative && parsed->hex))
      return line_error(number,
                        fmt::format("Invalid result '{}' (expected 0x hex or decimal)", value));
    file_.result = negative ? ~parsed->magnitude + 1 : parsed->magnitude;
    return Ok{};
  }

  Result<DataFile> finish() {
    if (!raw_bytes_.empty())
      return line_error(raw_line_, fmt::format("-- raw ends with {} bytes, not a whole 8-byte "
                                               "instruction",
                                               raw_bytes_.size()));
    if (count(Section::assembly) != 0) file_.asm_text = asm_text_;
    file_.raw = std::move(raw_);
    if (error_lines_) {
      std::string text;
      for (const std::string& line : *error_lines_) text += line + '\n';
      file_.error = std::string(trim(text));
    }
    return std::move(file_);
  }

  DataFile file_;
  Section section_ = Section::none;
  std::vector<Section> seen_;
  std::size_t line_ = 0;
  std::string asm_text_;
  std::optional<std::vector<Insn>> raw_;
  std::vector<std::uint8_t> raw_bytes_;
  std::size_t raw_line_ = 0;
  std::optional<std::vector<std::string>> error_lines_;
};

}  // namespace

Result<std::vector<Insn>> DataFile::program() const {
  if (asm_text) return assemble(*asm_text);
  if (raw) return *raw;
  return make_error(Error::Kind::parse, "The data file has no program (no -- asm or -- raw)");
}

Result<DataFile> parse_data_file(std::string_view text) { return DataFileParser().run(text); }

Result<std::vector<std::uint8_t>> parse_hex_bytes(std::string_view text) {
  std::vector<std::uint8_t> bytes;
  std::size_t line = 0;
  while (!text.empty() || line == 0) {
    std::size_t end = text.find('\n');
    std::string_view part = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (auto status = append_hex_bytes(part, ++line, bytes); !status) return status.error();
  }
  return bytes;
}

std::string format_hex_bytes(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 3);
  for (std::uint8_t byte : bytes) {
    if (!text.empty()) text += ' ';
    text += digits[byte >> 4];
    text += digits[byte & 15];
  }
  return text;
}

}  // namespace bpfvm
