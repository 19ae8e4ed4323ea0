// Loads, stores and atomics (RFC 9669 sections 5.1-5.3). In checked mode each access is
// preceded by its bounds check (emit_checks.cpp); the access itself is one instruction.
#include "jit/emitter.hpp"

namespace bpfvm::jit {

using asmjit::Label;
using detail::CodeInsn;

namespace {

x86::Gp sized(const x86::Gp& reg, int size) {
  switch (size) {
    case 1: return x86::gpb(reg.id());
    case 2: return reg.r16();
    case 4: return reg.r32();
    default: return reg.r64();
  }
}

x86::Mem operand(int base, std::int16_t offset, int size) {
  return x86::ptr(reg64(base), offset, static_cast<std::uint32_t>(size));
}

// Atomic operation codes (RFC 9669 section 5.3), without the fetch bit.
constexpr std::int64_t atomic_add = 0x00, atomic_or = 0x40, atomic_and = 0x50, atomic_xor = 0xa0,
                       atomic_xchg = 0xe1, atomic_cmpxchg = 0xf1, atomic_fetch = 0x01;

}  // namespace

void Emitter::emit_load(const CodeInsn& insn, std::size_t index) {
  const int size = access_size(info(insn.op));
  check_access(insn, index, insn.src, size, false);
  x86::Mem source = operand(insn.src, insn.offset, size);
  x86::Gp dst = reg64(insn.dst);
  switch (insn.op) {
    case Op::LDXB:
    case Op::LDXH: a_.movzx(dst.r32(), source); return;
    case Op::LDXW: a_.mov(dst.r32(), source); return;
    case Op::LDXDW: a_.mov(dst, source); return;
    case Op::LDXSB:
    case Op::LDXSH: a_.movsx(dst, source); return;
    default:  // LDXSW
      a_.movsxd(dst, source);
      return;
  }
}

void Emitter::emit_store(const CodeInsn& insn, std::size_t index) {
  const int size = access_size(info(insn.op));
  check_access(insn, index, insn.dst, size, true);
  x86::Mem target = operand(insn.dst, insn.offset, size);
  if (info(insn.op).shape == Shape::StoreReg) {
    a_.mov(target, sized(reg64(insn.src), size));
    return;
  }
  if (blinding()) {
    a_.mov(target, sized(blinded(insn.imm, scratch_a()), size));
    return;
  }
  // The low `size` bytes of the immediate; a doubleword store sign-extends its imm32, as
  // x86's `mov qword, imm32` does.
  switch (size) {
    case 1: a_.mov(target, static_cast<std::int8_t>(insn.imm)); return;
    case 2: a_.mov(target, static_cast<std::int16_t>(insn.imm)); return;
    default: a_.mov(target, static_cast<std::int32_t>(insn.imm)); return;
  }
}

void Emitter::emit_atomic(const CodeInsn& insn, std::size_t index) {
  const int size = access_size(info(insn.op));
  check_access(insn, index, insn.dst, size, true);
  // The address goes to r11 first: the sequences below may reuse rax, which can be the base.
  a_.lea(scratch_a(), x86::ptr(reg64(insn.dst), insn.offset));
  if (options_.checked) check_alignment(index, size);
  x86::Mem target = x86::ptr(scratch_a(), 0, static_cast<std::uint32_t>(size));
  x86::Gp src = sized(reg64(insn.src), size);
  x86::Gp r0 = sized(x86::rax, size);

  switch (insn.imm) {
    case atomic_add: a_.lock().add(target, src); return;
    case atomic_or: a_.lock().or_(target, src); return;
    case atomic_and: a_.lock().and_(target, src); return;
    case atomic_xor: a_.lock().xor_(target, src); return;
    case atomic_add | atomic_fetch: a_.lock().xadd(target, src); return;  // src = old
    case atomic_xchg: a_.xchg(target, src); return;  // locked by definition; src = old
    case atomic_cmpxchg:
      // Compares with r0 and leaves the old value in r0 whether it stored or not; a 32-bit
      // cmpxchg that succeeds does not write eax, so zero-extend explicitly.
      a_.lock().cmpxchg(target, src, r0);
      if (size == 4) a_.mov(x86::eax, x86::eax);
      return;
    default: break;
  }

  // fetch or / and / xor: a compare-exchange loop on rax, with r0 pushed. When src is r0
  // itself, its value is the pushed one.
  x86::Gp next = sized(scratch_b(), size);
  a_.push(x86::rax);
  a_.mov(r0, target);
  Label retry = a_.newLabel();
  a_.bind(retry);
  a_.mov(next, r0);
  auto combine = [&](const auto& operand) {
    switch (insn.imm & ~atomic_fetch) {
      case atomic_or: a_.or_(next, operand); break;
      case atomic_and: a_.and_(next, operand); break;
      default: a_.xor_(next, operand); break;
    }
  };
  if (insn.src == 0)
    combine(x86::ptr(x86::rsp, 0, static_cast<std::uint32_t>(size)));
  else
    combine(src);
  a_.lock().cmpxchg(target, next, r0);
  a_.jne(retry);
  // rax holds the old value (zero-extended when 32-bit: every write of eax above is).
  if (insn.src != 0) {
    a_.mov(src, r0);
    a_.pop(x86::rax);
  } else {
    a_.add(x86::rsp, 8);  // r0 keeps the old value
  }
}

}  // namespace bpfvm::jit
