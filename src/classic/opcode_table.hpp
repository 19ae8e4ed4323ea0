// The classic opcode table as C++ data, generated from classic/opcodes.def.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace bpfvm::classic {

enum class Op : std::uint8_t {
#define BPFVM_CLASSIC_OPCODE(id, code, mnemonic, operand, listed, freebsd) id,
#include "classic/opcodes.def"
#undef BPFVM_CLASSIC_OPCODE
};

// How an instruction uses k, jt and jf, and how the listing writes its operand.
enum class Operand : std::uint8_t {
  Abs,     // [k]            ancillary offsets by name: [proto], [type], ...
  Ind,     // [x + k]        k signed
  Len,     // #pktlen
  ImmHex,  // #0x%x
  ImmDec,  // #%d            k signed
  Mem,     // M[k]
  Msh,     // 4*([k]&0xf)
  X,       // x
  None,    // nothing (the listing keeps the padding: "tax      ")
  Ja,      // absolute target index + 1 + k, signed
  JumpK,   // #0x%x, then jt and jf as absolute targets
  JumpX,   // x, then jt and jf
  RetK,    // #%d            k signed
};

struct OpInfo {
  Op op;
  std::uint16_t code;
  std::string_view mnemonic;
  Operand operand;
  bool listed;   // bpf_image() names it
  bool freebsd;  // on FreeBSD's kernel whitelist
};

inline constexpr OpInfo op_rows[] = {
#define BPFVM_CLASSIC_OPCODE(id, code, mnemonic, operand, listed, freebsd) \
  {Op::id, code, mnemonic, Operand::operand, listed != 0, freebsd != 0},
#include "classic/opcodes.def"
#undef BPFVM_CLASSIC_OPCODE
};

inline constexpr std::size_t op_count = std::size(op_rows);

inline constexpr const OpInfo& info(Op op) { return op_rows[static_cast<std::size_t>(op)]; }

// The row for a 16-bit opcode, or null when bpf_filter() does not execute it.
const OpInfo* find_op(std::uint16_t code);

// Field helpers, as <pcap/bpf.h> names them.
inline constexpr std::uint16_t bpf_class(std::uint16_t code) { return code & 0x07; }
inline constexpr std::uint16_t bpf_size(std::uint16_t code) { return code & 0x18; }
inline constexpr std::uint16_t bpf_mode(std::uint16_t code) { return code & 0xe0; }
inline constexpr std::uint16_t bpf_op(std::uint16_t code) { return code & 0xf0; }
inline constexpr std::uint16_t bpf_src(std::uint16_t code) { return code & 0x08; }

namespace cls {
inline constexpr std::uint16_t ld = 0x00, ldx = 0x01, st = 0x02, stx = 0x03, alu = 0x04, jmp = 0x05,
                               ret = 0x06, misc = 0x07;
}

inline constexpr bool is_conditional_jump(Operand operand) {
  return operand == Operand::JumpK || operand == Operand::JumpX;
}

// Bytes a packet load reads (ld/ldh/ldb with ABS or IND, ldxb MSH); 0 for the rest.
int load_size(Op op);

}  // namespace bpfvm::classic
