// Division and modulo, unsigned and signed, of both widths (RFC 9669 section 4.1):
// x / 0 = 0, x % 0 = x, and the signed forms of INT_MIN / -1 wrap (quotient INT_MIN,
// remainder 0) instead of raising #DE as idiv would. Divisors known at compile time pick
// their case statically; a register divisor is tested at run time.
//
// x86 divides rdx:rax, where r0 and r2 live: r0 is pushed and r2 parked in r10 around the
// division, the divisor in r11.
#include "jit/emitter.hpp"

namespace bpfvm::jit {

using asmjit::Label;
using detail::CodeInsn;

namespace {

struct DivKind {
  bool is64;
  bool is_signed;
  bool is_mod;
  bool by_register;
};

DivKind div_kind(const CodeInsn& insn) {
  const OpcodeInfo& row = info(insn.op);
  DivKind kind{};
  kind.is64 = insn_class(row.opcode) == cls::alu64;
  kind.is_mod = (row.opcode & 0xf0) == 0x90;
  kind.is_signed = row.variant_value == 1;  // offset 1: sdiv / smod
  kind.by_register = row.shape == Shape::AluReg;
  return kind;
}

}  // namespace

void Emitter::emit_divmod(const CodeInsn& insn) {
  const DivKind kind = div_kind(insn);
  x86::Gp dst = kind.is64 ? reg64(insn.dst) : reg32(insn.dst);
  x86::Gp divisor = width(scratch_a(), kind.is64);

  // The two special divisors, as code: zero, and (signed only) minus one.
  auto by_zero = [&] {
    if (!kind.is_mod)
      a_.xor_(dst.r32(), dst.r32());  // quotient 0
    else if (!kind.is64)
      a_.mov(dst, dst);  // dst unchanged, zero-extended
  };
  auto by_minus_one = [&] {
    if (!kind.is_mod)
      a_.neg(dst);  // wraps: INT_MIN stays INT_MIN
    else
      a_.xor_(dst.r32(), dst.r32());  // remainder 0
  };

  if (!kind.by_register) {
    // The immediate as the operation sees it: 32-bit forms use its low half.
    std::int64_t value = kind.is64 ? insn.imm : static_cast<std::int32_t>(insn.imm);
    std::uint64_t bits =
        kind.is64 ? static_cast<std::uint64_t>(value) : static_cast<std::uint32_t>(value);
    if (bits == 0) return by_zero();
    if (kind.is_signed && value == -1) return by_minus_one();
    blinded(value, scratch_a());
    emit_divide(insn, kind.is64, kind.is_signed, kind.is_mod);
    return;
  }

  // A register divisor: the division falls through; the special cases sit after it.
  Label zero = a_.newLabel(), minus_one = a_.newLabel(), done = a_.newLabel();
  a_.mov(divisor, kind.is64 ? reg64(insn.src) : reg32(insn.src));
  a_.test(divisor, divisor);
  a_.short_().jz(zero);
  if (kind.is_signed) {
    a_.cmp(divisor, -1);
    a_.short_().je(minus_one);
  }
  emit_divide(insn, kind.is64, kind.is_signed, kind.is_mod);
  a_.short_().jmp(done);
  a_.bind(zero);
  by_zero();
  if (kind.is_signed) {
    a_.short_().jmp(done);
    a_.bind(minus_one);
    by_minus_one();
  }
  a_.bind(done);
}

void Emitter::emit_divide(const CodeInsn& insn, bool is64, bool is_signed, bool is_mod) {
  // rdx:rax / r11. r0 is kept on the stack and r2 in r10; the result goes through r11 so
  // that restoring them cannot overwrite it when dst is r0 or r2.
  x86::Gp divisor = width(scratch_a(), is64);
  x86::Gp rax = width(x86::rax, is64);
  x86::Gp rdx = width(x86::rdx, is64);
  a_.push(x86::rax);
  a_.mov(scratch_b(), x86::rdx);
  if (insn.dst != 0) a_.mov(rax, is64 ? reg64(insn.dst) : reg32(insn.dst));
  if (is_signed) {
    if (is64)
      a_.cqo();
    else
      a_.cdq();
    a_.idiv(divisor);
  } else {
    a_.xor_(x86::edx, x86::edx);
    a_.div(divisor);
  }
  a_.mov(divisor, is_mod ? rdx : rax);
  a_.pop(x86::rax);
  a_.mov(x86::rdx, scratch_b());
  a_.mov(is64 ? reg64(insn.dst) : reg32(insn.dst), divisor);
}

}  // namespace bpfvm::jit
