// ALU of both widths, shifts, byte order, sign extension, lddw, and constant blinding.
//
// Every 32-bit x86 operation zero-extends its result into the full register, which is what
// RFC 9669 section 4.1 asks of ALU32 (tested for shifts by zero, too, which x86 also
// zero-extends). Immediates of 64-bit operations are sign-extended imm32 in both ISAs.
#include "jit/emitter.hpp"

namespace bpfvm::jit {

using detail::CodeInsn;

namespace {

// The operation bits of an ALU opcode (RFC 9669 section 4.1, table 5).
enum AluCode : std::uint8_t {
  alu_add = 0x00,
  alu_sub = 0x10,
  alu_mul = 0x20,
  alu_or = 0x40,
  alu_and = 0x50,
  alu_lsh = 0x60,
  alu_rsh = 0x70,
  alu_neg = 0x80,
  alu_xor = 0xa0,
  alu_mov = 0xb0,
  alu_arsh = 0xc0,
};

std::uint8_t alu_code(const CodeInsn& insn) { return info(insn.op).opcode & 0xf0; }
bool is_alu64(const CodeInsn& insn) { return insn_class(info(insn.op).opcode) == cls::alu64; }

}  // namespace

x86::Gp Emitter::blinded(std::int64_t value, x86::Gp scratch) {
  if (!blinding()) {
    emit_mov_imm(scratch.r64(), value, true);
    return scratch;
  }
  // value and key are both sign-extended 32-bit numbers, and so is their XOR: both
  // instructions take a (sign-extended) imm32, and neither holds the program's bits.
  auto key = static_cast<std::int64_t>(static_cast<std::int32_t>(next_key()));
  a_.mov(scratch, value ^ key);
  a_.xor_(scratch, key);
  return scratch;
}

void Emitter::emit_alu(const CodeInsn& insn) {
  bool is64 = is_alu64(insn);
  switch (info(insn.op).shape) {
    case Shape::AluImm: return emit_alu_imm(insn, is64);
    case Shape::AluReg: return emit_alu_reg(insn, is64);
    default:  // AluUnary: neg
      a_.neg(is64 ? reg64(insn.dst) : reg32(insn.dst));
      return;
  }
}

void Emitter::emit_alu_imm(const CodeInsn& insn, bool is64) {
  const std::uint8_t code = alu_code(insn);
  if (code == alu_lsh || code == alu_rsh || code == alu_arsh) return emit_shift(insn, is64, false);
  x86::Gp dst = is64 ? reg64(insn.dst) : reg32(insn.dst);
  // 32-bit operations use the low half of the immediate; as a sign-extended imm32 it encodes
  // the same bits.
  std::int64_t imm = is64 ? insn.imm : static_cast<std::int32_t>(insn.imm);

  if (code == alu_mov) {
    if (!blinding()) {
      emit_mov_imm(reg64(insn.dst), imm, is64);
    } else {
      auto key = static_cast<std::int64_t>(static_cast<std::int32_t>(next_key()));
      a_.mov(dst, imm ^ key);
      a_.xor_(dst, key);
    }
    return;
  }
  if (blinding()) {
    x86::Gp value = blinded(imm, scratch_a());
    x86::Gp src = width(value, is64);
    switch (code) {
      case alu_add: a_.add(dst, src); return;
      case alu_sub: a_.sub(dst, src); return;
      case alu_mul: a_.imul(dst, src); return;
      case alu_or: a_.or_(dst, src); return;
      case alu_and: a_.and_(dst, src); return;
      case alu_xor: a_.xor_(dst, src); return;
    }
    return;
  }
  switch (code) {
    case alu_add: a_.add(dst, imm); return;
    case alu_sub: a_.sub(dst, imm); return;
    case alu_mul: a_.imul(dst, dst, imm); return;
    case alu_or: a_.or_(dst, imm); return;
    case alu_and: a_.and_(dst, imm); return;
    case alu_xor: a_.xor_(dst, imm); return;
  }
}

void Emitter::emit_alu_reg(const CodeInsn& insn, bool is64) {
  const std::uint8_t code = alu_code(insn);
  if (code == alu_lsh || code == alu_rsh || code == alu_arsh) return emit_shift(insn, is64, true);
  x86::Gp dst = is64 ? reg64(insn.dst) : reg32(insn.dst);
  x86::Gp src = is64 ? reg64(insn.src) : reg32(insn.src);
  switch (code) {
    case alu_add: a_.add(dst, src); return;
    case alu_sub: a_.sub(dst, src); return;
    case alu_mul: a_.imul(dst, src); return;
    case alu_or: a_.or_(dst, src); return;
    case alu_and: a_.and_(dst, src); return;
    case alu_xor: a_.xor_(dst, src); return;
    case alu_mov:
      // A 64-bit move onto itself does nothing; a 32-bit one still zero-extends.
      if (!is64 || insn.dst != insn.src) a_.mov(dst, src);
      return;
  }
}

void Emitter::emit_shift(const CodeInsn& insn, bool is64, bool by_register) {
  const std::uint8_t code = alu_code(insn);
  auto shift = [&](const x86::Gp& target, const auto& count) {
    if (code == alu_lsh)
      a_.shl(target, count);
    else if (code == alu_rsh)
      a_.shr(target, count);
    else
      a_.sar(target, count);
  };
  x86::Gp dst = is64 ? reg64(insn.dst) : reg32(insn.dst);
  if (!by_register) {
    // The count is masked to the width (RFC 9669 section 4.1). Its 5 or 6 bits are not
    // blinded: they cannot spell an instruction.
    int count = static_cast<int>(insn.imm & (is64 ? 63 : 31));
    if (count != 0)
      shift(dst, count);
    else if (!is64)
      a_.mov(dst, dst);  // still zero-extends
    return;
  }
  // x86 shifts by cl and masks the count like eBPF does. r3 lives in rcx.
  constexpr int rcx_holder = 3;
  if (insn.src == rcx_holder) {
    shift(dst, x86::cl);
    return;
  }
  x86::Gp saved = scratch_a();
  a_.mov(saved, x86::rcx);
  a_.mov(x86::ecx, reg32(insn.src));
  if (insn.dst == rcx_holder) {
    // The value to shift is r3 itself, now in the scratch register.
    shift(width(saved, is64), x86::cl);
    a_.mov(x86::rcx, saved);
  } else {
    shift(dst, x86::cl);
    a_.mov(x86::rcx, saved);
  }
}

void Emitter::emit_endian(const CodeInsn& insn) {
  x86::Gp dst = reg64(insn.dst);
  switch (insn.op) {
    // The host is little-endian: `le` only truncates (RFC 9669 section 4.2).
    case Op::LE16: a_.movzx(dst.r32(), dst.r16()); return;
    case Op::LE32: a_.mov(dst.r32(), dst.r32()); return;
    case Op::LE64: return;
    case Op::BE16:
    case Op::BSWAP16:
      a_.rol(dst.r16(), 8);
      a_.movzx(dst.r32(), dst.r16());
      return;
    case Op::BE32:
    case Op::BSWAP32: a_.bswap(dst.r32()); return;
    default:  // BE64, BSWAP64
      a_.bswap(dst);
      return;
  }
}

void Emitter::emit_movsx(const CodeInsn& insn) {
  x86::Gp dst = reg64(insn.dst);
  switch (insn.op) {
    case Op::MOVSX8_64: a_.movsx(dst, reg8(insn.src)); return;
    case Op::MOVSX16_64: a_.movsx(dst, reg16(insn.src)); return;
    case Op::MOVSX32_64: a_.movsxd(dst, reg32(insn.src)); return;
    case Op::MOVSX8_32: a_.movsx(dst.r32(), reg8(insn.src)); return;
    default:  // MOVSX16_32
      a_.movsx(dst.r32(), reg16(insn.src));
      return;
  }
}

// The shortest move of a constant: xor for 0, a 32-bit move (which zero-extends) for values
// that fit unsigned 32 bits, a sign-extended imm32, else movabs. The flags it may clobber are
// never live across eBPF instructions.
void Emitter::emit_mov_imm(const x86::Gp& dst64, std::int64_t value, bool is64) {
  auto bits = is64 ? static_cast<std::uint64_t>(value) : static_cast<std::uint32_t>(value);
  if (bits == 0)
    a_.xor_(dst64.r32(), dst64.r32());
  else if (bits <= 0xffffffffu)
    a_.mov(dst64.r32(), bits);
  else
    a_.mov(dst64, value);
}

void Emitter::emit_lddw(const CodeInsn& insn) {
  x86::Gp dst = reg64(insn.dst);
  if (!blinding()) {
    emit_mov_imm(dst, insn.imm, true);
    return;
  }
  auto key = static_cast<std::int64_t>((static_cast<std::uint64_t>(next_key()) << 32) | next_key());
  a_.mov(dst, insn.imm ^ key);
  a_.mov(scratch_a(), key);
  a_.xor_(dst, scratch_a());
}

}  // namespace bpfvm::jit
