// Operands of one bpf_conformance assembly line, read from its tokens: registers `%r3`,
// numbers `-8` / `0x1f`, memory `[%r10-8]`, and names (labels, `local` targets).
#pragma once

#include "isa/text_lexer.hpp"

#include <bpfvm/insn.hpp>
#include <bpfvm/result.hpp>

#include <fmt/format.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm::text {

struct Operand {
  enum class Kind { reg, number, memory, name };
  Kind kind = Kind::number;
  std::size_t column = 0;
  int reg = 0;                    // reg; base register of memory
  Number number;                  // number; offset of memory (zero when omitted)
  std::size_t number_column = 0;  // where the number (or the offset) starts
  std::string_view name;          // name
};

inline Error parse_error(std::size_t line, std::size_t column, std::string message) {
  Error error = make_error(Error::Kind::parse, std::move(message));
  error.line = line;
  error.column = column;
  return error;
}

// Reads the comma-separated operands that follow a mnemonic.
class OperandReader {
 public:
  OperandReader(std::span<const Token> tokens, std::size_t line, std::size_t end_column)
      : tokens_(tokens), line_(line), end_column_(end_column) {}

  Result<std::vector<Operand>> read_all() {
    std::vector<Operand> operands;
    if (at_end()) return operands;
    while (true) {
      auto operand = read_operand();
      if (!operand) return operand.error();
      operands.push_back(*operand);
      if (at_end()) return operands;
      if (!peek().is(',')) return unexpected("',' between operands");
      ++pos_;
      if (at_end()) return error_here("Expected an operand after ','");
    }
  }

 private:
  bool at_end() const { return pos_ >= tokens_.size(); }
  const Token& peek() const { return tokens_[pos_]; }
  std::size_t column() const { return at_end() ? end_column_ : peek().column; }

  Error error_here(std::string message) const {
    return parse_error(line_, column(), std::move(message));
  }

  Error unexpected(std::string_view expected) const {
    if (at_end()) return error_here(fmt::format("Expected {} at the end of the line", expected));
    return error_here(fmt::format("Expected {}, found '{}'", expected, peek().text));
  }

  Operand make_operand(Operand::Kind kind) const {
    Operand operand;
    operand.kind = kind;
    operand.column = peek().column;
    return operand;
  }

  Result<Operand> read_operand() {
    const Token& token = peek();
    switch (token.kind) {
      case TokenKind::reg: return read_register_operand();
      case TokenKind::identifier: {
        Operand operand = make_operand(Operand::Kind::name);
        operand.name = token.text;
        ++pos_;
        return operand;
      }
      case TokenKind::number: return read_number_operand();
      case TokenKind::punct:
        if (token.is('[')) return read_memory_operand();
        if (token.is('+') || token.is('-')) return read_number_operand();
        break;
      case TokenKind::bad: break;
    }
    return unexpected("an operand");
  }

  Result<Operand> read_register_operand() {
    Operand operand = make_operand(Operand::Kind::reg);
    auto reg = read_register();
    if (!reg) return reg.error();
    operand.reg = *reg;
    return operand;
  }

  Result<Operand> read_number_operand() {
    Operand operand = make_operand(Operand::Kind::number);
    auto number = read_signed_number();
    if (!number) return number.error();
    operand.number = *number;
    operand.number_column = operand.column;
    return operand;
  }

  // `[%rN]`, `[%rN+off]` or `[%rN-off]`.
  Result<Operand> read_memory_operand() {
    Operand operand = make_operand(Operand::Kind::memory);
    ++pos_;
    if (at_end() || peek().kind != TokenKind::reg) return unexpected("a base register after '['");
    auto reg = read_register();
    if (!reg) return reg.error();
    operand.reg = *reg;
    operand.number_column = column();
    if (!at_end() && (peek().is('+') || peek().is('-'))) {
      auto offset = read_signed_number();
      if (!offset) return offset.error();
      operand.number = *offset;
    }
    if (at_end() || !peek().is(']')) return unexpected("']' to close the memory operand");
    ++pos_;
    return operand;
  }

  // `%r0` to `%r10` (RFC 9669 section 3.1: register numbers 0 to 10).
  Result<int> read_register() {
    const Token& token = peek();
    std::string_view digits = token.text;
    bool valid = digits.size() >= 2 && digits.size() <= 3 && digits[0] == 'r';
    int reg = 0;
    for (std::size_t i = 1; valid && i < digits.size(); ++i) {
      valid = digits[i] >= '0' && digits[i] <= '9';
      reg = reg * 10 + (digits[i] - '0');
    }
    if (!valid || reg >= register_count)
      return error_here(
          fmt::format("Invalid register %{} (registers are %r0 to %r10)", token.text));
    ++pos_;
    return reg;
  }

  // An optional `+` or `-`, then a decimal or 0x-hex literal.
  Result<Number> read_signed_number() {
    bool negative = false;
    if (peek().is('+') || peek().is('-')) {
      negative = peek().is('-');
      ++pos_;
    }
    if (at_end() || peek().kind != TokenKind::number) return unexpected("a number");
    const Token& token = peek();
    auto number = parse_unsigned(token.text);
    if (!number) {
      return error_here(is_well_formed_literal(token.text)
                            ? fmt::format("Number {} does not fit in 64 bits", token.text)
                            : fmt::format("Invalid number '{}'", token.text));
    }
    number->negative = negative && number->magnitude != 0;
    ++pos_;
    return *number;
  }

  std::span<const Token> tokens_;
  std::size_t line_;
  std::size_t end_column_;
  std::size_t pos_ = 0;
};

}  // namespace bpfvm::text
