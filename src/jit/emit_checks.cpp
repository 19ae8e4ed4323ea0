// Checked mode: every load, store and atomic is checked against the regions the run admits
// (the interpreter's RunState::admits), cheaply:
//
//   1. statically, when the base is r10 and [r10 + off, r10 + off + size) lies inside the
//      current 512-byte frame: no code at all;
//   2. inline, against the context, the usual target of pointers in registers:
//        lea r10, [base + rdi + off]        ; rdi = -context_begin: r10 = address - begin
//        cmp r10, [state.context_starts[write][size]]; jae <stub>
//      (one unsigned comparison: the count of valid start addresses is 0 when the context is
//      smaller than the access or, for a store, read-only);
//   3. out of line, against the active stack frames [r10 - 512, stack_top);
//   4. out of line, against the recent region: the last one that admitted an access in
//      step 5 or that a map lookup granted (JitRunState::recent_begin);
//   5. out of line, in C++ (jit_access_slow), against every region of the run: the packet,
//      RunOptions::regions and the regions helpers granted during the run.
// Only when all of these refuse does the run stop, with the interpreter's error.
#include "jit/emitter.hpp"

namespace bpfvm::jit {

using asmjit::Label;
using detail::CodeInsn;

namespace {

std::int32_t context_starts_field(bool write, int size) {
  return BPFVM_JIT_FIELD(context_starts) +
         static_cast<std::int32_t>((write ? 4 : 0) + size_index(size)) * 8;
}

std::int32_t recent_starts_field(bool write, int size) {
  return BPFVM_JIT_FIELD(recent_starts) +
         static_cast<std::int32_t>((write ? 4 : 0) + size_index(size)) * 8;
}

std::int32_t stack_last_field(int size) {
  return BPFVM_JIT_FIELD(stack_last_start) + size_index(size) * 8;
}

struct AccessShape {
  int base;
  int size;
  bool write;
};

AccessShape access_shape(const CodeInsn& insn) {
  const OpcodeInfo& row = info(insn.op);
  bool is_load = row.shape == Shape::Load;
  return {is_load ? insn.src : insn.dst, access_size(row), !is_load};
}

}  // namespace

void Emitter::check_access(const CodeInsn& insn, std::size_t index, int base, int size,
                           bool write) {
  if (!options_.checked) return;
  const int offset = insn.offset;
  if (base == frame_pointer && offset >= -static_cast<int>(stack_frame_size) && offset + size <= 0)
    return;
  Label resume = a_.newLabel();
  a_.lea(scratch_b(), x86::ptr(reg64(base), context_bias(), 0, offset));
  a_.cmp(scratch_b(), state_field(context_starts_field(write, size)));
  a_.jae(add_stub(StubKind::access, index, resume));
  a_.bind(resume);
}

void Emitter::check_alignment(std::size_t index, int size) {
  // The address is in r11 (emit_atomic); bounds were checked first, as the interpreter does.
  a_.test(scratch_a().r8(), size - 1);
  a_.jnz(add_stub(StubKind::misaligned, index));
}

void Emitter::emit_access_stub(const Stub& stub) {
  const AccessShape shape = access_shape(code_.slots[stub.index]);
  const int offset = code_.slots[stub.index].offset;
  Label slow = a_.newLabel();
  x86::Gp address = scratch_a();
  a_.lea(address, x86::ptr(reg64(shape.base), offset));
  // The active stack frames: r10 - 512 <= address <= stack_top - size.
  a_.lea(scratch_b(), x86::ptr(reg64(frame_pointer), -static_cast<int>(stack_frame_size)));
  a_.cmp(address, scratch_b());
  a_.jb(slow);
  a_.cmp(address, state_field(stack_last_field(shape.size)));
  a_.jbe(stub.resume);
  // The recent region: address - recent_begin < recent_starts[write][size], unsigned.
  a_.bind(slow);
  a_.mov(scratch_b(), address);
  a_.sub(scratch_b(), state_field(BPFVM_JIT_FIELD(recent_begin)));
  a_.cmp(scratch_b(), state_field(recent_starts_field(shape.write, shape.size)));
  a_.jb(stub.resume);
  // Every other region, in C++.
  a_.mov(state_field(BPFVM_JIT_FIELD(error_address)), address);
  a_.mov(state_field(BPFVM_JIT_FIELD(frame_pointer)), reg64(frame_pointer));
  a_.mov(state_field(BPFVM_JIT_FIELD(error_index), 4), stub.index);
  a_.call(access_slow_routine_);
  a_.jnz(stub.resume);
  a_.jmp(fail_[static_cast<int>(StopReason::out_of_bounds)]);
}

}  // namespace bpfvm::jit
