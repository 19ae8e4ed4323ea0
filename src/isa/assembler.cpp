// The bpf_conformance assembler, driven by the opcode table: a mnemonic names rows of
// opcodes.def, and each row's Shape says which operands it takes and which fields they fill.
#include <bpfvm/assembler.hpp>

#include "isa/asm_operands.hpp"
#include "isa/opcode_table.hpp"
#include "isa/text_lexer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bpfvm {
namespace {

using text::Number;
using text::Operand;
using text::parse_error;
using text::Token;

// Spellings that name the same rows as a table mnemonic. `call %r2` is the conformance
// suite's spelling of callx (tests/callx.data); swapN is an older name of bswapN.
constexpr std::pair<std::string_view, std::string_view> mnemonic_aliases[] = {
    {"swap16", "bswap16"}, {"swap32", "bswap32"}, {"swap64", "bswap64"}, {"call", "callx"}};

// Mnemonic -> rows, built once from the table. Atomic rows live apart because they reuse ALU
// names (`lock add` vs `add`); they are reached through the `lock` prefix.
struct MnemonicIndex {
  using Rows = std::vector<const OpcodeInfo*>;
  std::unordered_map<std::string_view, Rows> plain;
  std::unordered_map<std::string_view, Rows> atomic;

  MnemonicIndex() {
    for (const OpcodeInfo& row : opcode_rows)
      (row.shape == Shape::Atomic ? atomic : plain)[row.mnemonic].push_back(&row);
    for (auto [alias, name] : mnemonic_aliases) {
      const Rows& rows = plain.at(name);
      Rows& target = plain[alias];
      target.insert(target.end(), rows.begin(), rows.end());
    }
  }
};

const MnemonicIndex& mnemonic_index() {
  static const MnemonicIndex index;
  return index;
}

// What each operand position of a shape accepts. `target` is a label or a signed count of
// instructions, relative to the next one (RFC 9669 section 4.3).
enum class Slot { reg, imm, memory, target };

std::span<const Slot> operand_slots(Shape shape) {
  using enum Slot;
  static constexpr Slot reg_imm[] = {reg, imm}, reg_reg[] = {reg, reg}, one_reg[] = {reg},
                        reg_mem[] = {reg, memory}, mem_imm[] = {memory, imm},
                        mem_reg[] = {memory, reg}, one_imm[] = {imm}, one_target[] = {target},
                        reg_imm_target[] = {reg, imm, target},
                        reg_reg_target[] = {reg, reg, target};
  switch (shape) {
    case Shape::AluImm:
    case Shape::Lddw:
    case Shape::LdInd: return reg_imm;
    case Shape::AluReg:
    case Shape::MovSx: return reg_reg;
    case Shape::AluUnary:
    case Shape::Endian:
    case Shape::Callx: return one_reg;
    case Shape::Load: return reg_mem;
    case Shape::StoreImm: return mem_imm;
    case Shape::StoreReg:
    case Shape::Atomic: return mem_reg;
    case Shape::LdAbs:
    case Shape::CallHelper:
    case Shape::CallBtf: return one_imm;
    case Shape::Ja:
    case Shape::Ja32:
    case Shape::CallLocal: return one_target;
    case Shape::JmpImm: return reg_imm_target;
    case Shape::JmpReg: return reg_reg_target;
    case Shape::Exit: return {};
  }
  return {};
}

bool accepts(Slot slot, Operand::Kind kind) {
  switch (slot) {
    case Slot::reg: return kind == Operand::Kind::reg;
    case Slot::imm: return kind == Operand::Kind::number;
    case Slot::memory: return kind == Operand::Kind::memory;
    case Slot::target: return kind == Operand::Kind::number || kind == Operand::Kind::name;
  }
  return false;
}

std::string_view slot_description(Slot slot) {
  switch (slot) {
    case Slot::reg: return "a register";
    case Slot::imm: return "an immediate";
    case Slot::memory: return "a memory operand like [%r1+2]";
    case Slot::target: return "a label or a +N/-N offset";
  }
  return "?";
}

// A label use waiting for the label's address.
struct Fixup {
  std::size_t slot;
  std::string_view label;
  std::size_t line, column;
  bool in_imm;  // ja32 and call local keep the displacement in imm, other jumps in offset
};

struct Label {
  std::size_t slot;
  std::size_t line;
};

class Assembler {
 public:
  Result<std::vector<Insn>> run(std::string_view source) {
    std::size_t line_number = 0;
    while (!source.empty()) {
      std::size_t end = source.find('\n');
      std::string_view line = source.substr(0, end);
      source.remove_prefix(end == std::string_view::npos ? source.size() : end + 1);
      if (auto status = assemble_line(line, ++line_number); !status) return status.error();
    }
    if (auto status = resolve_fixups(); !status) return status.error();
    return std::move(insns_);
  }

 private:
  // One line: any number of `label:` prefixes, then at most one instruction.
  Status assemble_line(std::string_view line, std::size_t line_number) {
    line = text::strip_comment(line);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line_ = line_number;
    end_column_ = line.size() + 1;
    std::vector<Token> tokens = text::tokenize_line(line);
    std::span<const Token> rest = tokens;
    while (rest.size() >= 2 && rest[0].kind == text::TokenKind::identifier && rest[1].is(':')) {
      if (auto status = define_label(rest[0]); !status) return status;
      rest = rest.subspan(2);
    }
    if (rest.empty()) return Ok{};
    return assemble_insn(rest);
  }

  Status define_label(const Token& name) {
    auto [it, inserted] = labels_.try_emplace(name.text, Label{insns_.size(), line_});
    if (!inserted)
      return parse_error(line_, name.column,
                         fmt::format("Duplicate label '{}' (first defined on line {})", name.text,
                                     it->second.line));
    return Ok{};
  }

  Status assemble_insn(std::span<const Token> tokens) {
    const Token& first = tokens[0];
    if (first.kind != text::TokenKind::identifier)
      return parse_error(line_, first.column,
                         fmt::format("Expected a mnemonic or a label, found '{}'", first.text));
    if (first.text == ".8byte") return assemble_raw_word(tokens);
    auto mnemonic = read_mnemonic(tokens);
    if (!mnemonic) return mnemonic.error();
    text::OperandReader reader(tokens.subspan(mnemonic->tokens), line_, end_column_);
    auto operands = reader.read_all();
    if (!operands) return operands.error();
    auto row = choose_row(*mnemonic->rows, *operands, mnemonic->name, mnemonic->column);
    if (!row) return row.error();
    return encode(**row, *operands);
  }

  struct Mnemonic {
    const MnemonicIndex::Rows* rows;
    std::string name;    // as written, for messages: `lock fetch add`
    std::size_t tokens;  // how many tokens it took: `lock`, then one or two words
    std::size_t column;
  };

  // `exit`, `call local`, `lock add`, `lock fetch add32`: the rows the mnemonic names.
  Result<Mnemonic> read_mnemonic(std::span<const Token> tokens) const {
    bool locked = tokens[0].text == "lock";
    std::size_t skipped = locked ? 1 : 0;
    tokens = tokens.subspan(skipped);
    if (locked && (tokens.empty() || tokens[0].kind != text::TokenKind::identifier))
      return parse_error(line_, tokens.empty() ? end_column_ : tokens[0].column,
                         "Invalid number of operands for lock: expected an operation, a memory "
                         "operand and a register, as in `lock add [%r10-8], %r1`");
    const auto& map = locked ? mnemonic_index().atomic : mnemonic_index().plain;
    // Two-word mnemonics first: `call local`, `call btf`, `fetch add`.
    if (tokens.size() >= 2 && tokens[1].kind == text::TokenKind::identifier) {
      std::string two_words = fmt::format("{} {}", tokens[0].text, tokens[1].text);
      if (auto found = map.find(two_words); found != map.end())
        return Mnemonic{&found->second, fmt::format("{}{}", locked ? "lock " : "", two_words),
                        skipped + 2, tokens[0].column};
    }
    if (auto found = map.find(tokens[0].text); found != map.end())
      return Mnemonic{&found->second, fmt::format("{}{}", locked ? "lock " : "", tokens[0].text),
                      skipped + 1, tokens[0].column};
    return parse_error(line_, tokens[0].column,
                       locked ? fmt::format("Unknown atomic operation 'lock {}'", tokens[0].text)
                              : fmt::format("Unknown mnemonic '{}'", tokens[0].text));
  }

  // `.8byte 0x...`: one raw slot, so that disassembly of undecodable slots assembles back.
  Status assemble_raw_word(std::span<const Token> tokens) {
    text::OperandReader reader(tokens.subspan(1), line_, end_column_);
    auto operands = reader.read_all();
    if (!operands) return operands.error();
    if (operands->size() != 1 || (*operands)[0].kind != Operand::Kind::number)
      return parse_error(line_, tokens[0].column, ".8byte takes one 64-bit number");
    auto word = text::fit_imm64((*operands)[0].number);
    if (!word) return range_error((*operands)[0], "64-bit word");
    auto bits = static_cast<std::uint64_t>(*word);
    Insn insn;
    insn.opcode = static_cast<std::uint8_t>(bits);
    insn.dst = static_cast<std::uint8_t>((bits >> 8) & 0x0f);
    insn.src = static_cast<std::uint8_t>((bits >> 12) & 0x0f);
    insn.offset = static_cast<std::int16_t>(bits >> 16);
    insn.imm = static_cast<std::int32_t>(bits >> 32);
    insns_.push_back(insn);
    return Ok{};
  }

  // The row whose operand slots match what was written; rows sharing a mnemonic differ in
  // shape (`add %r0, 1` vs `add %r0, %r1`, `call 5` vs `call %r2`).
  Result<const OpcodeInfo*> choose_row(const std::vector<const OpcodeInfo*>& rows,
                                       const std::vector<Operand>& operands, std::string_view name,
                                       std::size_t column) {
    std::size_t best_match = 0;
    const OpcodeInfo* counted = nullptr;
    for (const OpcodeInfo* row : rows) {
      auto slots = operand_slots(row->shape);
      if (slots.size() != operands.size()) continue;
      counted = row;
      std::size_t matched = 0;
      while (matched < slots.size() && accepts(slots[matched], operands[matched].kind)) ++matched;
      if (matched == slots.size()) return row;
      best_match = std::max(best_match, matched);
    }
    if (counted == nullptr) return operand_count_error(rows, operands.size(), name, column);
    // Name every kind the rows accept at the first position no row could take.
    std::vector<std::string_view> expected;
    for (const OpcodeInfo* row : rows) {
      auto slots = operand_slots(row->shape);
      if (slots.size() != operands.size()) continue;
      std::string_view description = slot_description(slots[best_match]);
      if (std::find(expected.begin(), expected.end(), description) == expected.end())
        expected.push_back(description);
    }
    const Operand& bad = operands[best_match];
    return parse_error(line_, bad.column,
                       fmt::format("Operand {} of {} must be {}", best_match + 1, name,
                                   fmt::join(expected, " or ")));
  }

  Error operand_count_error(const std::vector<const OpcodeInfo*>& rows, std::size_t given,
                            std::string_view name, std::size_t column) const {
    std::vector<std::size_t> counts;
    for (const OpcodeInfo* row : rows) {
      std::size_t count = operand_slots(row->shape).size();
      if (std::find(counts.begin(), counts.end(), count) == counts.end()) counts.push_back(count);
    }
    std::sort(counts.begin(), counts.end());
    return parse_error(line_, column,
                       fmt::format("Invalid number of operands for {}: expected {}, got {}", name,
                                   fmt::join(counts, " or "), given));
  }

  Error range_error(const Operand& operand, std::string_view field) const {
    return parse_error(
        line_, operand.number_column,
        fmt::format("{}{}{} is out of range for a {}", operand.number.negative ? "-" : "",
                    operand.number.hex ? "0x" : "",
                    operand.number.hex ? fmt::format("{:x}", operand.number.magnitude)
                                       : fmt::format("{}", operand.number.magnitude),
                    field));
  }

  Result<std::int32_t> imm32(const Operand& operand) const {
    if (auto value = text::fit_imm32(operand.number)) return *value;
    return range_error(operand,
                       "32-bit immediate (decimal -2147483648 to 2147483647, or hex up "
                       "to 0xffffffff)");
  }

  Result<std::int16_t> offset16(const Operand& operand) const {
    if (auto value = text::fit_offset16(operand.number)) return *value;
    return range_error(operand, "16-bit offset (-32768 to 32767)");
  }

  // A jump or call target: a number now, or a label resolved once every label is known.
  Status set_target(Insn& insn, const Operand& operand, bool in_imm) {
    if (operand.kind == Operand::Kind::name) {
      fixups_.push_back({insns_.size(), operand.name, line_, operand.column, in_imm});
      return Ok{};
    }
    if (!in_imm) {
      auto offset = offset16(operand);
      if (!offset) return offset.error();
      insn.offset = *offset;
      return Ok{};
    }
    auto displacement = text::fit_displacement32(operand.number);
    if (!displacement) return range_error(operand, "32-bit displacement");
    insn.imm = *displacement;
    return Ok{};
  }

  Status encode(const OpcodeInfo& row, const std::vector<Operand>& ops) {
    Insn insn;
    insn.opcode = row.opcode;
    switch (row.variant) {
      case Variant::None: break;
      case Variant::Off: insn.offset = static_cast<std::int16_t>(row.variant_value); break;
      case Variant::Imm: insn.imm = row.variant_value; break;
      case Variant::Src: insn.src = static_cast<std::uint8_t>(row.variant_value); break;
    }
    if (row.shape == Shape::Lddw) return encode_lddw(insn, ops);
    if (auto status = fill_fields(insn, row.shape, ops); !status) return status;
    insns_.push_back(insn);
    return Ok{};
  }

  // Sets the fields a shape uses from its operands (slots already checked by choose_row).
  Status fill_fields(Insn& insn, Shape shape, const std::vector<Operand>& ops) {
    auto reg = [](const Operand& op) { return static_cast<std::uint8_t>(op.reg); };
    auto set_imm = [&](const Operand& op) -> Status {
      auto value = imm32(op);
      if (!value) return value.error();
      insn.imm = *value;
      return Ok{};
    };
    auto set_offset = [&](const Operand& op) -> Status {
      auto value = offset16(op);
      if (!value) return value.error();
      insn.offset = *value;
      return Ok{};
    };
    switch (shape) {
      case Shape::AluImm: insn.dst = reg(ops[0]); return set_imm(ops[1]);
      case Shape::AluReg:
      case Shape::MovSx:
        insn.dst = reg(ops[0]);
        insn.src = reg(ops[1]);
        return Ok{};
      case Shape::AluUnary:
      case Shape::Endian:
      case Shape::Callx: insn.dst = reg(ops[0]); return Ok{};
      case Shape::Load:
        insn.dst = reg(ops[0]);
        insn.src = reg(ops[1]);
        return set_offset(ops[1]);
      case Shape::StoreImm:
        insn.dst = reg(ops[0]);
        if (auto status = set_offset(ops[0]); !status) return status;
        return set_imm(ops[1]);
      case Shape::StoreReg:
      case Shape::Atomic:
        insn.dst = reg(ops[0]);
        insn.src = reg(ops[1]);
        return set_offset(ops[0]);
      case Shape::LdAbs:
      case Shape::CallHelper:
      case Shape::CallBtf: return set_imm(ops[0]);
      case Shape::LdInd: insn.src = reg(ops[0]); return set_imm(ops[1]);
      case Shape::Ja: return set_target(insn, ops[0], false);
      case Shape::Ja32:
      case Shape::CallLocal: return set_target(insn, ops[0], true);
      case Shape::JmpImm:
        insn.dst = reg(ops[0]);
        if (auto status = set_imm(ops[1]); !status) return status;
        return set_target(insn, ops[2], false);
      case Shape::JmpReg:
        insn.dst = reg(ops[0]);
        insn.src = reg(ops[1]);
        return set_target(insn, ops[2], false);
      case Shape::Lddw:
      case Shape::Exit: return Ok{};
    }
    return Ok{};
  }

  // lddw takes two slots: the low 32 bits in the first imm, the high 32 in the second
  // (RFC 9669 section 5.4).
  Status encode_lddw(Insn insn, const std::vector<Operand>& ops) {
    auto value = text::fit_imm64(ops[1].number);
    if (!value)
      return range_error(ops[1],
                         "64-bit immediate (decimal -2^63 to 2^63-1, or hex up to "
                         "0xffffffffffffffff)");
    auto bits = static_cast<std::uint64_t>(*value);
    insn.dst = static_cast<std::uint8_t>(ops[0].reg);
    insn.imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(bits));
    Insn high;
    high.imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(bits >> 32));
    insns_.push_back(insn);
    insns_.push_back(high);
    return Ok{};
  }

  Status resolve_fixups() {
    for (const Fixup& fixup : fixups_) {
      auto target = label_slot(fixup);
      if (!target) return target.error();
      std::int64_t displacement =
          static_cast<std::int64_t>(*target) - static_cast<std::int64_t>(fixup.slot) - 1;
      Insn& insn = insns_[fixup.slot];
      if (fixup.in_imm) {
        insn.imm = static_cast<std::int32_t>(displacement);  // programs are far below 2^31
        continue;
      }
      if (displacement < -32768 || displacement > 32767)
        return parse_error(fixup.line, fixup.column,
                           fmt::format("Label '{}' is {} instructions away, beyond the 16-bit "
                                       "jump offset (use ja32 for far jumps)",
                                       fixup.label, displacement));
      insn.offset = static_cast<std::int16_t>(displacement);
    }
    return Ok{};
  }

  // bpf_conformance programs jump to `exit` without defining it (tests/prime.data,
  // tests/jeq-reg.data); its programs.tsv encodes that as the program's first exit
  // instruction, backward or forward. A label of that name, when defined, wins.
  Result<std::size_t> label_slot(const Fixup& fixup) const {
    if (auto it = labels_.find(fixup.label); it != labels_.end()) return it->second.slot;
    if (fixup.label == "exit") {
      for (std::size_t slot = 0; slot < insns_.size(); ++slot)
        if (insns_[slot].opcode == info(Op::EXIT).opcode) return slot;
    }
    return parse_error(fixup.line, fixup.column, fmt::format("Undefined label '{}'", fixup.label));
  }

  std::vector<Insn> insns_;
  std::unordered_map<std::string_view, Label> labels_;
  std::vector<Fixup> fixups_;
  std::size_t line_ = 0;
  std::size_t end_column_ = 1;
};

}  // namespace

Result<std::vector<Insn>> assemble(std::string_view source) { return Assembler().run(source); }

}  // namespace bpfvm
