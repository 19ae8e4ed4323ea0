// Jumps, helper calls, callx, local calls and exit.
//
// Local calls are native calls: the caller pushes r6-r9 and r10, moves r10 down one frame and
// calls the target; `exit` is `ret` everywhere (the prologue calls the body too), and the
// caller then pops what it pushed. The depth limit is checked on r10 itself: a new frame
// beginning below the stack area would be one frame too many.
#include "jit/emitter.hpp"

namespace bpfvm::jit {

using detail::CodeInsn;

namespace {

// The jump condition of a conditional jump opcode (RFC 9669 section 4.3, table 6), after
// `cmp dst, src` (or `test dst, src` for jset).
x86::CondCode condition(std::uint8_t opcode) {
  switch (opcode & 0xf0) {
    case 0x10: return x86::CondCode::kE;   // jeq
    case 0x20: return x86::CondCode::kA;   // jgt
    case 0x30: return x86::CondCode::kAE;  // jge
    case 0x40: return x86::CondCode::kNE;  // jset: test is nonzero
    case 0x50: return x86::CondCode::kNE;  // jne
    case 0x60: return x86::CondCode::kG;   // jsgt
    case 0x70: return x86::CondCode::kGE;  // jsge
    case 0xa0: return x86::CondCode::kB;   // jlt
    case 0xb0: return x86::CondCode::kBE;  // jle
    case 0xc0: return x86::CondCode::kL;   // jslt
    default: return x86::CondCode::kLE;    // jsle (0xd0)
  }
}

}  // namespace

void Emitter::emit_jump(const CodeInsn& insn, std::size_t index) {
  // A jump to the next instruction does nothing (comparisons have no side effects).
  if (insn.target == index + 1) return;
  if (insn.op == Op::JA || insn.op == Op::JA32) {
    a_.jmp(labels_[insn.target]);
    return;
  }
  const OpcodeInfo& row = info(insn.op);
  const bool is64 = insn_class(row.opcode) == cls::jmp;
  const bool is_set = (row.opcode & 0xf0) == 0x40;
  x86::Gp dst = is64 ? reg64(insn.dst) : reg32(insn.dst);
  if (row.shape == Shape::JmpReg) {
    x86::Gp src = is64 ? reg64(insn.src) : reg32(insn.src);
    if (is_set)
      a_.test(dst, src);
    else
      a_.cmp(dst, src);
  } else {
    std::int64_t imm = is64 ? insn.imm : static_cast<std::int32_t>(insn.imm);
    if (blinding()) {
      x86::Gp value = blinded(imm, scratch_a());
      value = width(value, is64);
      if (is_set)
        a_.test(dst, value);
      else
        a_.cmp(dst, value);
    } else if (imm == 0 && !is_set) {
      a_.test(dst, dst);  // the same flags as cmp dst, 0
    } else if (is_set) {
      a_.test(dst, imm);
    } else {
      a_.cmp(dst, imm);
    }
  }
  a_.j(condition(row.opcode), labels_[insn.target]);
}

void Emitter::emit_call_helper(const CodeInsn& insn, std::size_t index) {
  if (emit_map_lookup(insn, index)) return;
  a_.mov(scratch_a(), reinterpret_cast<std::uint64_t>(insn.helper));
  a_.mov(state_field(BPFVM_JIT_FIELD(helper)), scratch_a());
  a_.mov(state_field(BPFVM_JIT_FIELD(frame_pointer)), reg64(frame_pointer));
  a_.call(helper_routine_);
  a_.cmp(state_field(BPFVM_JIT_FIELD(stop), 1), 0);
  a_.jne(add_stub(StubKind::helper_stop, index));
}

void Emitter::emit_callx(const CodeInsn& insn, std::size_t index) {
  a_.mov(state_field(BPFVM_JIT_FIELD(callx_id)), reg64(insn.dst));
  a_.mov(state_field(BPFVM_JIT_FIELD(frame_pointer)), reg64(frame_pointer));
  a_.call(callx_routine_);
  a_.cmp(state_field(BPFVM_JIT_FIELD(stop), 1), 0);
  a_.jne(add_stub(StubKind::helper_stop, index));
}

void Emitter::emit_call_local(const CodeInsn& insn, std::size_t index) {
  constexpr int frame = static_cast<int>(stack_frame_size);
  a_.lea(scratch_a(), x86::ptr(reg64(frame_pointer), -2 * frame));
  a_.cmp(scratch_a(), state_field(BPFVM_JIT_FIELD(stack_floor)));
  a_.jb(add_stub(StubKind::call_depth, index));
  for (int r : {6, 7, 8, 9, 10}) a_.push(reg64(r));
  a_.sub(reg64(frame_pointer), frame);
  a_.call(labels_[insn.target]);
  for (int r : {10, 9, 8, 7, 6}) a_.pop(reg64(r));
}

void Emitter::emit_exit() { a_.ret(); }

}  // namespace bpfvm::jit
