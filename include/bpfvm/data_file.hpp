// The bpf_conformance test file format: `-- asm`, `-- raw`, `-- mem`, `-- result`,
// `-- error` sections with `#` comments.
#pragma once

#include <bpfvm/insn.hpp>
#include <bpfvm/result.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm {

struct DataFile {
  std::optional<std::string> asm_text;   // `-- asm`: assembly source, comments kept
  std::optional<std::vector<Insn>> raw;  // `-- raw`: hex instruction words or bytes
  std::vector<std::uint8_t> memory;      // `-- mem`
  std::optional<std::uint64_t> result;   // `-- result`: hex with 0x, or decimal
  std::optional<std::string> error;      // `-- error`: expected error text (may be empty)

  // The program: assembled from asm_text, or raw.
  Result<std::vector<Insn>> program() const;
};

// Fails on an unknown `-- directive` or malformed hex, with the line.
Result<DataFile> parse_data_file(std::string_view text);

// Parses "aa bb 0c ..." (whitespace-separated hex bytes, optional 0x prefixes).
Result<std::vector<std::uint8_t>> parse_hex_bytes(std::string_view text);
// The inverse: "aa bb 0c", lowercase, one space between bytes.
std::string format_hex_bytes(std::span<const std::uint8_t> bytes);

}  // namespace bpfvm
