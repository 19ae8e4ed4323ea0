// LD_ABS and LD_IND (RFC 9669 section 5.5, with Linux's semantics): a big-endian load of 1,
// 2 or 4 bytes from the packet into r0 at offset imm (or src + imm, computed in 32 bits and
// then sign-extended, as Linux's bpf_gen_ld_abs does). Outside the packet the program ends
// and returns 0. The packet's bounds are per run: state.packet_starts[size] counts the valid
// start offsets, so one unsigned comparison also refuses negative offsets.
#include "jit/emitter.hpp"

namespace bpfvm::jit {

using detail::CodeInsn;

void Emitter::emit_packet_load(const CodeInsn& insn) {
  const int size = access_size(info(insn.op));
  const x86::Mem starts = state_field(BPFVM_JIT_FIELD(packet_starts) + size_index(size) * 8);
  const auto imm = static_cast<std::int32_t>(insn.imm);
  x86::Gp packet = scratch_a();
  x86::Mem source;

  if (info(insn.op).shape == Shape::LdAbs && !blinding()) {
    if (imm < 0) {
      a_.jmp(packet_out_of_bounds_);
      return;
    }
    a_.cmp(starts, imm);
    a_.jbe(packet_out_of_bounds_);
    a_.mov(packet, state_field(BPFVM_JIT_FIELD(packet_data)));
    source = x86::ptr(packet, imm, static_cast<std::uint32_t>(size));
  } else {
    x86::Gp offset = scratch_b();
    if (info(insn.op).shape == Shape::LdAbs) {
      blinded(imm, offset);
    } else {
      a_.mov(offset.r32(), reg32(insn.src));
      if (blinding())
        a_.add(offset.r32(), blinded(imm, scratch_a()).r32());
      else
        a_.add(offset.r32(), imm);
      a_.movsxd(offset, offset.r32());
    }
    a_.cmp(offset, starts);
    a_.jae(packet_out_of_bounds_);
    a_.mov(packet, state_field(BPFVM_JIT_FIELD(packet_data)));
    source = x86::ptr(packet, offset, 0, 0, static_cast<std::uint32_t>(size));
  }

  switch (size) {
    case 1: a_.movzx(x86::eax, source); return;
    case 2:
      a_.movzx(x86::eax, source);
      a_.rol(x86::ax, 8);
      return;
    default:
      a_.mov(x86::eax, source);
      a_.bswap(x86::eax);
      return;
  }
}

}  // namespace bpfvm::jit
