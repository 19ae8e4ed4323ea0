// Tokens of one line of bpf_conformance assembly, and the number rules shared by the
// assembler and the data-file parser. Header-only: both live in src/isa and nothing else needs it.
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace bpfvm::text {

enum class TokenKind {
  identifier,  // mnemonics, labels, `local`, `.8byte`: [A-Za-z_.][A-Za-z0-9_.]*
  reg,         // `%r3`: text holds what follows `%`, checked by the parser
  number,      // an unsigned literal, `12` or `0x1f`; a sign is a separate punct token
  punct,       // one of , [ ] + - :
  bad,         // a character that starts no token
};

struct Token {
  TokenKind kind;
  std::string_view text;
  std::size_t column;  // 1-based

  bool is(char c) const { return kind == TokenKind::punct && text.size() == 1 && text[0] == c; }
};

inline bool is_identifier_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.';
}

inline bool is_identifier_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.';
}

// The line without its `#` comment.
inline std::string_view strip_comment(std::string_view line) {
  return line.substr(0, line.find('#'));
}

// Splits a line (comment already stripped) into tokens. Never fails: a stray character becomes
// a `bad` token so that the parser can report it with its column.
inline std::vector<Token> tokenize_line(std::string_view line) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  auto take_while = [&](auto predicate) {
    while (i < line.size() && predicate(line[i])) ++i;
  };
  while (i < line.size()) {
    char c = line[i];
    std::size_t start = i;
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++i;
      continue;
    }
    TokenKind kind = TokenKind::bad;
    if (is_identifier_start(c)) {
      take_while(is_identifier_char);
      kind = TokenKind::identifier;
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      // Take letters too, so that `0x1g` or `12ab` is one malformed number, not two tokens.
      take_while(is_identifier_char);
      kind = TokenKind::number;
    } else if (c == '%') {
      ++i;
      take_while(is_identifier_char);
      kind = TokenKind::reg;
    } else {
      ++i;
      if (std::string_view(",[]+-:").find(c) != std::string_view::npos) kind = TokenKind::punct;
    }
    std::string_view text = line.substr(start, i - start);
    if (kind == TokenKind::reg) text.remove_prefix(1);
    tokens.push_back({kind, text, start + 1});
  }
  return tokens;
}

// An integer literal with its sign, as written: the base matters for range checks.
struct Number {
  std::uint64_t magnitude = 0;
  bool negative = false;
  bool hex = false;
};

// Whether text is spelled like `123` or `0x7b`, whatever its size.
inline bool is_well_formed_literal(std::string_view text) {
  bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  if (hex) text.remove_prefix(2);
  if (text.empty()) return false;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (hex ? std::isxdigit(u) == 0 : std::isdigit(u) == 0) return false;
  }
  return true;
}

// Parses `123` or `0x7b` (no sign). Empty on malformed text or overflow of 64 bits.
inline std::optional<Number> parse_unsigned(std::string_view text) {
  Number number;
  unsigned base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    number.hex = true;
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return std::nullopt;
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  for (char c : text) {
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (base == 16 && std::isxdigit(static_cast<unsigned char>(c)) != 0) {
      digit = static_cast<unsigned>(std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    } else {
      return std::nullopt;
    }
    if (number.magnitude > (max - digit) / base) return std::nullopt;
    number.magnitude = number.magnitude * base + digit;
  }
  return number;
}

// Range rules for immediates. A decimal literal is read as a signed value of the field's width;
// a hex literal may also spell the field's full unsigned bit pattern. So `-1` and `0xffffffff`
// both give imm -1, while `2147483648` and `0x100000000` are rejected (bpf_conformance's
// negative/invalid_imm32_{dec,hex}_range.data).
template <class Signed>
std::optional<Signed> fit_signed_field(const Number& number) {
  using Unsigned = std::make_unsigned_t<Signed>;
  constexpr std::uint64_t max_positive =
      static_cast<std::uint64_t>(std::numeric_limits<Signed>::max());
  constexpr std::uint64_t max_negative = max_positive + 1;
  constexpr std::uint64_t max_pattern = std::numeric_limits<Unsigned>::max();
  if (number.negative) {
    if (number.magnitude > max_negative) return std::nullopt;
    return static_cast<Signed>(static_cast<Unsigned>(-static_cast<Unsigned>(number.magnitude)));
  }
  if (number.magnitude > (number.hex ? max_pattern : max_positive)) return std::nullopt;
  return static_cast<Signed>(static_cast<Unsigned>(number.magnitude));
}

inline std::optional<std::int32_t> fit_imm32(const Number& number) {
  return fit_signed_field<std::int32_t>(number);
}

inline std::optional<std::int64_t> fit_imm64(const Number& number) {
  return fit_signed_field<std::int64_t>(number);
}

// Offsets are written with an explicit sign (`[%r10-8]`, `ja -2`), so they are plain signed
// 16-bit values whatever the base (RFC 9669 section 3.1: offset is a signed 16-bit field).
inline std::optional<std::int16_t> fit_offset16(const Number& number) {
  if (number.magnitude > (number.negative ? 32768u : 32767u)) return std::nullopt;
  std::int32_t value = static_cast<std::int32_t>(number.magnitude);
  return static_cast<std::int16_t>(number.negative ? -value : value);
}

// A signed pc-relative displacement held in imm (ja32, call local): plain signed 32 bits.
inline std::optional<std::int32_t> fit_displacement32(const Number& number) {
  if (number.magnitude > (number.negative ? 0x80000000u : 0x7fffffffu)) return std::nullopt;
  std::int64_t value = static_cast<std::int64_t>(number.magnitude);
  return static_cast<std::int32_t>(number.negative ? -value : value);
}

}  // namespace bpfvm::text
