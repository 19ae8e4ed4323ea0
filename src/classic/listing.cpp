// The listings, byte for byte as libpcap 1.10's bpf_image() and bpf_dump() print them: the
// output of tcpdump -d, -dd and -ddd.
#include <bpfvm/classic.hpp>

#include "classic/opcode_table.hpp"

#include <fmt/format.h>

namespace bpfvm::classic {
namespace {

// The names bpf_image() gives absolute loads at exactly SKF_AD_OFF + SKF_AD_x.
std::string_view ancillary_name(std::uint32_t k) {
  if (k < ancillary_base || (k - ancillary_base) % 4 != 0) return {};
  static constexpr std::string_view names[] = {
      "proto",  "type", "ifidx", "nla",      "nlan",  "mark", "queue",  "hatype",
      "rxhash", "cpu",  "xor_x", "vlan_tci", "vlanp", "poff", "random", "vlan_tpid"};
  std::uint32_t slot = (k - ancillary_base) / 4;
  return slot < std::size(names) ? names[slot] : std::string_view{};
}

std::string operand_text(const OpInfo& row, const Insn& insn, std::size_t index) {
  auto k_signed = static_cast<std::int32_t>(insn.k);
  switch (row.operand) {
    case Operand::Abs: {
      std::string_view name = ancillary_name(insn.k);
      return name.empty() ? fmt::format("[{}]", k_signed) : fmt::format("[{}]", name);
    }
    case Operand::Ind: return fmt::format("[x + {}]", k_signed);
    case Operand::Len: return "#pktlen";
    case Operand::ImmHex:
    case Operand::JumpK: return fmt::format("#0x{:x}", insn.k);
    case Operand::ImmDec:
    case Operand::RetK: return fmt::format("#{}", k_signed);
    case Operand::Mem: return fmt::format("M[{}]", k_signed);
    case Operand::Msh: return fmt::format("4*([{}]&0xf)", k_signed);
    case Operand::X:
    case Operand::JumpX: return "x";
    case Operand::None: return "";
    case Operand::Ja:
      // bpf_image() computes n + 1 + k in int, so a backward ja prints its real target.
      return fmt::format("{}",
                         static_cast<std::int32_t>(static_cast<std::uint32_t>(index) + 1 + insn.k));
  }
  return "";
}

}  // namespace

std::string image(const Insn& insn, std::size_t index) {
  const OpInfo* row = find_op(insn.code);
  std::string_view mnemonic = "unimp";
  std::string operand;
  if (row != nullptr && row->listed) {
    mnemonic = row->mnemonic;
    operand = operand_text(*row, insn, index);
  } else {
    operand = fmt::format("0x{:x}", insn.code);
  }
  auto n = static_cast<int>(index);
  // The jump layout follows the opcode's class, whether or not the opcode is known.
  if (bpf_class(insn.code) == cls::jmp && bpf_op(insn.code) != 0x00)
    return fmt::format("({:03d}) {:<8} {:<16} jt {}\tjf {}", n, mnemonic, operand, n + 1 + insn.jt,
                       n + 1 + insn.jf);
  return fmt::format("({:03d}) {:<8} {}", n, mnemonic, operand);
}

std::string listing(std::span<const Insn> insns, Listing format) {
  std::string out;
  switch (format) {
    case Listing::text:
      for (std::size_t i = 0; i < insns.size(); ++i) {
        out += image(insns[i], i);
        out += '\n';
      }
      break;
    case Listing::c_array:
      for (const Insn& insn : insns)
        out +=
            fmt::format("{{ 0x{:x}, {}, {}, 0x{:08x} }},\n", insn.code, insn.jt, insn.jf, insn.k);
      break;
    case Listing::decimal:
      out += fmt::format("{}\n", insns.size());
      for (const Insn& insn : insns)
        out += fmt::format("{} {} {} {}\n", insn.code, insn.jt, insn.jf, insn.k);
      break;
  }
  return out;
}

}  // namespace bpfvm::classic
