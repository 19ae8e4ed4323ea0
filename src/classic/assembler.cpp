// Reading programs back: the `-d` syntax instruction by instruction (driven by the opcode
// table: each row's mnemonic and operand shape), and whole `-d`, `-dd` and `-ddd` listings.
#include <bpfvm/classic.hpp>

#include "classic/opcode_table.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <optional>
#include <sstream>

namespace bpfvm::classic {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

bool consume(std::string_view& text, std::string_view prefix) {
  text = trim(text);
  if (text.substr(0, prefix.size()) != prefix) return false;
  text.remove_prefix(prefix.size());
  return true;
}

// A 32-bit number: decimal (possibly negative) or 0x hex. Takes as many characters as form it.
std::optional<std::uint32_t> number(std::string_view& text) {
  text = trim(text);
  bool negative = !text.empty() && text.front() == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (error != std::errc{} || value > 0xffffffffull) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return static_cast<std::uint32_t>(negative ? 0 - value : value);
}

std::optional<std::uint32_t> ancillary_offset(std::string_view name) {
  static constexpr std::string_view names[] = {
      "proto",  "type", "ifidx", "nla",      "nlan",  "mark", "queue",  "hatype",
      "rxhash", "cpu",  "xor_x", "vlan_tci", "vlanp", "poff", "random", "vlan_tpid"};
  for (std::size_t i = 0; i < std::size(names); ++i)
    if (names[i] == name) return ancillary_base + static_cast<std::uint32_t>(4 * i);
  return std::nullopt;
}

// An absolute jump target written in the listing, turned back into an offset from `index`.
std::optional<std::uint32_t> target(std::string_view& text, std::size_t index) {
  auto value = number(text);
  if (!value) return std::nullopt;
  return *value - static_cast<std::uint32_t>(index) - 1;
}

// Parses the operand of `row` from `text` into `insn`; false when it has another shape.
bool parse_operand(const OpInfo& row, std::string_view text, std::size_t index, Insn& insn) {
  std::optional<std::uint32_t> k;
  switch (row.operand) {
    case Operand::Abs: {
      if (!consume(text, "[")) return false;
      auto close = text.find(']');
      if (close == std::string_view::npos) return false;
      std::string_view inside = trim(text.substr(0, close));
      k = ancillary_offset(inside);
      if (!k) {
        k = number(inside);
        if (!k || !trim(inside).empty()) return false;
      }
      text.remove_prefix(close + 1);
      break;
    }
    case Operand::Ind:
      if (!consume(text, "[") || !consume(text, "x") || !consume(text, "+")) return false;
      if (!(k = number(text)) || !consume(text, "]")) return false;
      break;
    case Operand::Len:
      if (!consume(text, "#pktlen")) return false;
      k = 0;
      break;
    case Operand::ImmHex:
    case Operand::ImmDec:
    case Operand::RetK:
      if (!consume(text, "#") || !(k = number(text))) return false;
      break;
    case Operand::Mem:
      if (!consume(text, "M[") || !(k = number(text)) || !consume(text, "]")) return false;
      break;
    case Operand::Msh:
      if (!consume(text, "4*([") || !(k = number(text)) || !consume(text, "]&0xf)")) return false;
      break;
    case Operand::X:
      if (!consume(text, "x")) return false;
      k = 0;
      break;
    case Operand::None:
      consume(text, "a");  // "ret a" reads as well as "ret"
      k = 0;
      break;
    case Operand::Ja:
      if (!(k = target(text, index))) return false;
      break;
    case Operand::JumpK:
    case Operand::JumpX: {
      if (row.operand == Operand::JumpK ? !(consume(text, "#") && (k = number(text)))
                                        : !consume(text, "x"))
        return false;
      if (row.operand == Operand::JumpX) k = 0;
      std::optional<std::uint32_t> jt, jf;
      if (!consume(text, "jt") || !(jt = target(text, index))) return false;
      if (!consume(text, "jf") || !(jf = target(text, index))) return false;
      if (*jt > 255 || *jf > 255) return false;
      insn.jt = static_cast<std::uint8_t>(*jt);
      insn.jf = static_cast<std::uint8_t>(*jf);
      break;
    }
  }
  if (!trim(text).empty()) return false;
  insn.code = row.code;
  insn.k = *k;
  return true;
}

Error line_error(std::size_t line, std::string message) {
  Error error = make_error(Error::Kind::parse, std::move(message));
  error.line = line;
  return error;
}

enum class Form { text, c_array, decimal };

Form detect(const std::vector<std::pair<std::size_t, std::string_view>>& lines) {
  if (lines.empty()) return Form::text;
  std::string_view first = lines.front().second;
  if (first.front() == '{') return Form::c_array;
  if (std::isdigit(static_cast<unsigned char>(first.front())) &&
      first.find_first_not_of("0123456789") == std::string_view::npos)
    return Form::decimal;
  return Form::text;
}

Result<Insn> c_array_insn(std::string_view text, std::size_t line) {
  // { 0x28, 0, 0, 0x0000000c },
  std::string_view rest = text;
  Insn insn;
  std::optional<std::uint32_t> code, jt, jf, k;
  if (!consume(rest, "{") || !(code = number(rest)) || !consume(rest, ",") ||
      !(jt = number(rest)) || !consume(rest, ",") || !(jf = number(rest)) || !consume(rest, ",") ||
      !(k = number(rest)) || !consume(rest, "}"))
    return line_error(line, fmt::format("expected {{ code, jt, jf, k }}, got '{}'", text));
  consume(rest, ",");
  if (!trim(rest).empty() || *code > 0xffff || *jt > 255 || *jf > 255)
    return line_error(line, fmt::format("malformed instruction '{}'", text));
  insn.code = static_cast<std::uint16_t>(*code);
  insn.jt = static_cast<std::uint8_t>(*jt);
  insn.jf = static_cast<std::uint8_t>(*jf);
  insn.k = *k;
  return insn;
}

Result<Insn> decimal_insn(std::string_view text, std::size_t line) {
  std::istringstream in{std::string(text)};
  std::uint64_t code, jt, jf, k;
  std::string extra;
  if (!(in >> code >> jt >> jf >> k) || (in >> extra) || code > 0xffff || jt > 255 || jf > 255 ||
      k > 0xffffffffull)
    return line_error(line, fmt::format("expected 'code jt jf k' in decimal, got '{}'", text));
  return Insn{static_cast<std::uint16_t>(code), static_cast<std::uint8_t>(jt),
              static_cast<std::uint8_t>(jf), static_cast<std::uint32_t>(k)};
}

}  // namespace

Result<Insn> assemble_insn(std::string_view text, std::size_t index) {
  std::string_view rest = trim(text);
  // The listing's "(nnn) " prefix.
  if (!rest.empty() && rest.front() == '(') {
    auto close = rest.find(')');
    if (close == std::string_view::npos) return make_error(Error::Kind::parse, "unclosed '('");
    rest = trim(rest.substr(close + 1));
  }
  auto space = rest.find_first_of(" \t");
  std::string_view mnemonic = rest.substr(0, space);
  std::string_view operand = space == std::string_view::npos ? "" : rest.substr(space);
  if (mnemonic == "unimp") {
    auto code = number(operand);
    if (!code || *code > 0xffff) return make_error(Error::Kind::parse, "unimp needs an opcode");
    return Insn{static_cast<std::uint16_t>(*code), 0, 0, 0};
  }
  bool known = false;
  for (const OpInfo& row : op_rows) {
    if (row.mnemonic != mnemonic) continue;
    known = true;
    Insn insn;
    if (parse_operand(row, operand, index, insn)) return insn;
  }
  return make_error(Error::Kind::parse,
                    known ? fmt::format("'{}' takes no operand like '{}'", mnemonic, trim(operand))
                          : fmt::format("unknown mnemonic '{}'", mnemonic));
}

Result<std::vector<Insn>> parse_program(std::string_view text) {
  std::vector<std::pair<std::size_t, std::string_view>> lines;
  std::size_t number_of_line = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number_of_line;
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    lines.emplace_back(number_of_line, line);
  }
  std::vector<Insn> insns;
  Form form = detect(lines);
  std::size_t first = 0;
  if (form == Form::decimal) {
    auto count = std::stoull(std::string(lines.front().second));
    if (count != lines.size() - 1)
      return line_error(
          lines.front().first,
          fmt::format("the count says {} instructions, {} follow", count, lines.size() - 1));
    first = 1;
  }
  for (std::size_t i = first; i < lines.size(); ++i) {
    auto [line, content] = lines[i];
    Result<Insn> insn = form == Form::c_array   ? c_array_insn(content, line)
                        : form == Form::decimal ? decimal_insn(content, line)
                                                : assemble_insn(content, insns.size());
    if (!insn) {
      Error error = insn.error();
      error.line = line;
      return error;
    }
    insns.push_back(*insn);
  }
  return insns;
}

}  // namespace bpfvm::classic
