// The two validators: libpcap 1.10's bpf_validate() and the FreeBSD kernel's bpf_validate()
// plus its BIOCSETF length limit. Each failure names the instruction and the rule.
#include <bpfvm/classic.hpp>

#include "classic/opcode_table.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace bpfvm::classic {
namespace {

Error rule_error(std::size_t index, Rules rules, std::string_view rule, std::string what) {
  return insn_error(Error::Kind::invalid_program, index,
                    fmt::format("{} [{}: {}]", what, rules_name(rules), rule));
}

Error program_error(Rules rules, std::string_view rule, std::string what) {
  return make_error(Error::Kind::invalid_program,
                    fmt::format("{} [{}: {}]", what, rules_name(rules), rule));
}

Status scratch_index(const Insn& insn, std::size_t i, Rules rules) {
  if (insn.k < scratch_words) return Ok{};
  return rule_error(i, rules, "scratch index under 16",
                    fmt::format("scratch word M[{}] does not exist (there are 16)", insn.k));
}

Status constant_divisor(const Insn& insn, std::size_t i, Rules rules, std::string_view op) {
  if (insn.k != 0) return Ok{};
  return rule_error(i, rules, "no division by constant zero",
                    fmt::format("{} by the constant 0", op));
}

std::string target_text(std::int64_t target, std::size_t length) {
  return fmt::format("jump target {} is past the end of the program ({} instructions)", target,
                     length);
}

// libpcap: classes and modes are checked, not whole opcodes (bpf_filter() aborts on the rest,
// which is why Program::load also requires a known opcode).
Status libpcap_insn(std::span<const Insn> insns, std::size_t i) {
  const Insn& insn = insns[i];
  const Rules rules = Rules::libpcap;
  const std::uint16_t code = insn.code;
  switch (bpf_class(code)) {
    case cls::ld:
    case cls::ldx:
      switch (bpf_mode(code)) {
        case 0x00:
        case 0x20:
        case 0x40:
        case 0x80:
        case 0xa0: return Ok{};                           // IMM ABS IND LEN MSH
        case 0x60: return scratch_index(insn, i, rules);  // MEM
        default:
          return rule_error(
              i, rules, "load mode known",
              fmt::format("opcode 0x{:x} has unknown load mode 0x{:x}", code, bpf_mode(code)));
      }
    case cls::st:
    case cls::stx: return scratch_index(insn, i, rules);
    case cls::alu:
      switch (bpf_op(code)) {
        case 0x00:
        case 0x10:
        case 0x20:
        case 0x40:
        case 0x50:
        case 0x60:
        case 0x70:
        case 0x80:
        case 0xa0: return Ok{};  // ADD SUB MUL OR AND LSH RSH NEG XOR
        case 0x30:
        case 0x90:  // DIV MOD
          if (bpf_src(code) == 0)
            return constant_divisor(insn, i, rules, bpf_op(code) == 0x30 ? "division" : "modulo");
          return Ok{};
        default:
          return rule_error(
              i, rules, "ALU operation known",
              fmt::format("opcode 0x{:x} has unknown ALU operation 0x{:x}", code, bpf_op(code)));
      }
    case cls::jmp: {
      // libpcap allows backward `ja` (protochain); the sum wraps in 32 bits as in libpcap, so a
      // backward target must still land inside the program.
      std::uint32_t from = static_cast<std::uint32_t>(i) + 1;
      std::uint32_t length = static_cast<std::uint32_t>(insns.size());
      switch (bpf_op(code)) {
        case 0x00:
          if (from + insn.k >= length)
            return rule_error(
                i, rules, "jumps in range",
                target_text(static_cast<std::int64_t>(from) + static_cast<std::int32_t>(insn.k),
                            insns.size()));
          return Ok{};
        case 0x10:
        case 0x20:
        case 0x30:
        case 0x40: {
          std::uint32_t far = from + std::max(insn.jt, insn.jf);
          if (far >= length)
            return rule_error(i, rules, "jumps in range", target_text(far, insns.size()));
          return Ok{};
        }
        default:
          return rule_error(
              i, rules, "jump operation known",
              fmt::format("opcode 0x{:x} has unknown jump operation 0x{:x}", code, bpf_op(code)));
      }
    }
    default: return Ok{};  // RET, MISC: any
  }
}

Status freebsd_insn(std::span<const Insn> insns, std::size_t i) {
  const Insn& insn = insns[i];
  const Rules rules = Rules::freebsd;
  const OpInfo* row = find_op(insn.code);
  if (row == nullptr || !row->freebsd)
    return rule_error(i, rules, "opcode whitelist",
                      fmt::format("opcode 0x{:x}{} is not on the kernel's whitelist", insn.code,
                                  row ? fmt::format(" ({})", row->mnemonic) : std::string()));
  if (bpf_class(insn.code) == cls::jmp) {
    // Forward only: `ja` takes k unsigned, so a "negative" k is a huge forward jump.
    std::uint64_t offset = row->op == Op::JA ? insn.k : std::max(insn.jt, insn.jf);
    std::uint64_t remaining = insns.size() - i - 1;
    if (offset >= remaining)
      return rule_error(i, rules, "forward jumps in range",
                        row->op == Op::JA && static_cast<std::int32_t>(insn.k) < 0
                            ? fmt::format("ja {:+}: backward jumps are not allowed",
                                          static_cast<std::int32_t>(insn.k))
                            : target_text(static_cast<std::int64_t>(i + 1 + offset), insns.size()));
    return Ok{};
  }
  switch (row->op) {
    case Op::ST:
    case Op::STX:
    case Op::LD_MEM:
    case Op::LDX_MEM: return scratch_index(insn, i, rules);
    case Op::DIV_K: return constant_divisor(insn, i, rules, "division");
    default: return Ok{};
  }
}

Status last_is_ret(std::span<const Insn> insns, Rules rules) {
  std::size_t last = insns.size() - 1;
  if (bpf_class(insns[last].code) == cls::ret) return Ok{};
  return rule_error(
      last, rules, "last instruction is RET",
      fmt::format("the last instruction (opcode 0x{:x}) is not a ret", insns[last].code));
}

Status validate_libpcap(std::span<const Insn> insns) {
  if (insns.empty())
    return program_error(Rules::libpcap, "program not empty", "the program is empty");
  for (std::size_t i = 0; i < insns.size(); ++i)
    if (auto ok = libpcap_insn(insns, i); !ok) return ok;
  return last_is_ret(insns, Rules::libpcap);
}

Status validate_freebsd(std::span<const Insn> insns) {
  if (insns.empty())
    return program_error(Rules::freebsd, "program not empty", "the program is empty");
  if (insns.size() > freebsd_max_insns)
    return program_error(Rules::freebsd, "at most 512 instructions",
                         fmt::format("the program has {} instructions", insns.size()));
  for (std::size_t i = 0; i < insns.size(); ++i)
    if (auto ok = freebsd_insn(insns, i); !ok) return ok;
  return last_is_ret(insns, Rules::freebsd);
}

}  // namespace

std::string_view rules_name(Rules rules) {
  switch (rules) {
    case Rules::libpcap: return "libpcap";
    case Rules::freebsd: return "freebsd";
  }
  return "?";
}

Status validate(std::span<const Insn> insns, Rules rules) {
  return rules == Rules::freebsd ? validate_freebsd(insns) : validate_libpcap(insns);
}

bool libpcap_accepts(std::span<const Insn> insns) { return validate_libpcap(insns).ok(); }

}  // namespace bpfvm::classic
