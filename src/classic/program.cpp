// Loading: validate under the chosen rules, require opcodes bpf_filter() executes, pre-decode.
#include <bpfvm/classic.hpp>

#include "classic/code.hpp"
#include "classic/opcode_table.hpp"
#include "classic/proven_length.hpp"

#include <fmt/format.h>

namespace bpfvm::classic {
namespace {

detail::Step decode_step(const Insn& insn, const OpInfo& row, std::size_t index) {
  detail::Step step;
  step.op = detail::exec_of(row.op);
  step.k = insn.k;
  std::uint32_t next = static_cast<std::uint32_t>(index) + 1;
  switch (row.op) {
    case Op::LSH_K:
    case Op::RSH_K: step.k = insn.k & 31; break;  // what libpcap 1.10's `A <<= k` does on x86-64
    case Op::LD_W_ABS:
    case Op::LD_H_ABS:
    case Op::LD_B_ABS:
      if (insn.k >= ancillary_base) {
        step.op = detail::Exec::LD_ANCILLARY;
        step.size = static_cast<std::uint8_t>(load_size(row.op));
      }
      break;
    case Op::JA:
      step.jt = next + insn.k;  // wraps to an earlier index for a "negative" k
      if (step.jt <= index) step.op = detail::Exec::JA_BACKWARD;
      break;
    default:
      if (is_conditional_jump(row.operand)) {
        step.jt = next + insn.jt;
        step.jf = next + insn.jf;
      }
      break;
  }
  return step;
}

// Loads every path has already proven in bounds skip their check.
void mark_proven_loads(detail::Code& code) {
  std::vector<std::uint64_t> proven = detail::proven_lengths(code.insns, code.steps);
  for (std::size_t i = 0; i < code.steps.size(); ++i) {
    detail::Step& step = code.steps[i];
    auto fits = [&](int size) {
      return std::uint64_t{step.k} + static_cast<std::uint64_t>(size) <= proven[i];
    };
    switch (step.op) {
      case detail::Exec::LD_W_ABS:
        if (fits(4)) step.op = detail::Exec::LD_W_ABS_PROVEN;
        break;
      case detail::Exec::LD_H_ABS:
        if (fits(2)) step.op = detail::Exec::LD_H_ABS_PROVEN;
        break;
      case detail::Exec::LD_B_ABS:
        if (fits(1)) step.op = detail::Exec::LD_B_ABS_PROVEN;
        break;
      case detail::Exec::LDX_B_MSH:
        if (fits(1)) step.op = detail::Exec::LDX_B_MSH_PROVEN;
        break;
      default: break;
    }
  }
}

}  // namespace

Result<Program> Program::load(std::span<const Insn> insns, const LoadOptions& options) {
  if (auto ok = validate(insns, options.rules); !ok) return ok.error();
  auto code = std::make_shared<detail::Code>();
  code->insns.assign(insns.begin(), insns.end());
  code->rules = options.rules;
  code->steps.reserve(insns.size());
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const OpInfo* row = find_op(insns[i].code);
    if (row == nullptr)
      return insn_error(Error::Kind::invalid_program, i,
                        fmt::format("opcode 0x{:x} is not an instruction bpf_filter() executes "
                                    "[{}: opcode executable]",
                                    insns[i].code, rules_name(options.rules)));
    code->steps.push_back(decode_step(insns[i], *row, i));
  }
  mark_proven_loads(*code);
  return Program(std::move(code));
}

std::span<const Insn> Program::insns() const { return code_->insns; }

Rules Program::rules() const { return code_->rules; }

std::optional<std::uint32_t> Ancillary::value(std::uint32_t offset) const {
  switch (offset) {
    case skf_ad::protocol: return protocol;
    case skf_ad::pkttype: return pkt_type;
    case skf_ad::ifindex: return ifindex;
    case skf_ad::mark: return mark;
    case skf_ad::queue: return queue;
    case skf_ad::hatype: return hatype;
    case skf_ad::rxhash: return rxhash;
    case skf_ad::cpu: return cpu;
    case skf_ad::vlan_tag: return vlan_tci;
    case skf_ad::vlan_tag_present: return vlan_present;
    case skf_ad::pay_offset: return pay_offset;
    case skf_ad::random: return random;
    case skf_ad::vlan_tpid: return vlan_tpid;
    default: return std::nullopt;
  }
}

}  // namespace bpfvm::classic
