// Classic BPF to eBPF. Registers: A in w0, X in w7, the context in r6, data and data_end in r8
// and r9, r2 and r3 scratch, r5 the backward jumps left; M[0..15] are 32-bit words at
// r10-64 ... r10-4. All arithmetic is 32-bit, so r0 and r7 always hold A and X zero-extended
// and `exit` returns A as is. A shared block at the end returns 0 (reject).
#include <bpfvm/classic.hpp>

#include "classic/code.hpp"
#include "classic/ebpf_builder.hpp"
#include "classic/opcode_table.hpp"
#include "classic/proven_length.hpp"

#include <cstddef>
#include <limits>

namespace bpfvm::classic {
namespace {

using E = bpfvm::Op;
using detail::EbpfBuilder;

constexpr std::uint8_t rA = 0, rX = 7, rCtx = 6, rData = 8, rEnd = 9, rT = 2, rT2 = 3, rBack = 5,
                       rFp = 10;
constexpr std::int16_t ctx_data = offsetof(TranslatedContext, data);
constexpr std::int16_t ctx_end = offsetof(TranslatedContext, data_end);
constexpr std::int16_t ctx_wire_length = offsetof(TranslatedContext, wire_length);
constexpr std::int16_t ctx_ancillary = offsetof(TranslatedContext, ancillary);
constexpr std::int16_t ctx_has_ancillary = offsetof(TranslatedContext, has_ancillary);
constexpr std::int32_t int32_max = std::numeric_limits<std::int32_t>::max();

std::int16_t scratch_offset(std::uint32_t k) {
  return static_cast<std::int16_t>(-4 * static_cast<int>(scratch_words) + 4 * static_cast<int>(k));
}

E load_op(int size) { return size == 4 ? E::LDXW : size == 2 ? E::LDXH : E::LDXB; }

class Translator {
 public:
  Translator(const Program& program, const TranslateOptions& options)
      : program_(program),
        options_(options),
        out_(program.size()),
        proven_(detail::proven_lengths(program.insns(), program.code().steps)) {}

  Result<std::vector<bpfvm::Insn>> run() && {
    prologue();
    std::span<const Insn> insns = program_.insns();
    for (std::size_t i = 0; i < insns.size(); ++i) {
      out_.bind(static_cast<std::uint32_t>(i));
      instruction(i, insns[i], program_.code().steps[i]);
    }
    out_.bind(out_.reject());
    out_.emit(E::MOV32_IMM, rA, 0, 0, 0);
    out_.emit(E::EXIT);
    return std::move(out_).finish();
  }

 private:
  void prologue() {
    out_.emit(E::MOV64_REG, rCtx, 1);
    out_.emit(E::LDXDW, rData, rCtx, ctx_data);
    out_.emit(E::LDXDW, rEnd, rCtx, ctx_end);
    out_.emit(E::MOV32_IMM, rA, 0, 0, 0);
    out_.emit(E::MOV32_IMM, rX, 0, 0, 0);
    // M[] starts at zero; only words the program reads need it.
    bool zeroed[scratch_words] = {};
    bool backward = false;
    for (std::size_t i = 0; i < program_.size(); ++i) {
      const Insn& insn = program_.insns()[i];
      const OpInfo& row = *find_op(insn.code);
      if ((row.op == Op::LD_MEM || row.op == Op::LDX_MEM) && !zeroed[insn.k]) {
        zeroed[insn.k] = true;
        out_.emit(E::STW, rFp, 0, scratch_offset(insn.k), 0);
      }
      backward = backward || program_.code().steps[i].op == detail::Exec::JA_BACKWARD;
    }
    if (backward) {  // r5 = caplen + allowance
      out_.emit(E::MOV64_REG, rBack, rEnd);
      out_.emit(E::SUB64_REG, rBack, rData);
      out_.emit(E::ADD64_IMM, rBack, 0, 0,
                static_cast<std::int32_t>(detail::backward_jump_allowance));
    }
  }

  // r2 = data + end; reject unless r2 <= data_end. `end` is an offset into the packet.
  void check_end(std::uint64_t end) {
    if (end <= static_cast<std::uint64_t>(int32_max)) {
      out_.emit(E::MOV64_REG, rT, rData);
      out_.emit(E::ADD64_IMM, rT, 0, 0, static_cast<std::int32_t>(end));
    } else {
      out_.emit_lddw(rT, end);
      out_.emit(E::ADD64_REG, rT, rData);
    }
    out_.emit_jump(E::JGT64_REG, out_.reject(), rT, rEnd);
  }

  void swap(std::uint8_t reg, int size) {
    if (size == 4) out_.emit(E::BE32, reg, 0, 0, 32);
    if (size == 2) out_.emit(E::BE16, reg, 0, 0, 16);
  }

  // dst = the big-endian value of `size` bytes at packet offset k, rejecting out of bounds.
  void absolute_load(std::size_t i, std::uint8_t dst, std::uint32_t k, int size) {
    std::uint64_t end = std::uint64_t{k} + static_cast<std::uint64_t>(size);
    if (end > proven_[i]) check_end(end);
    if (k <= static_cast<std::uint32_t>(std::numeric_limits<std::int16_t>::max())) {
      out_.emit(load_op(size), dst, rData, static_cast<std::int16_t>(k));
    } else {
      // Only reached when the check above passed, so k < 2^31 here... unless proven says so,
      // which needs a check that passed: either way k + size fits, and so does k.
      if (k <= static_cast<std::uint32_t>(int32_max)) {
        out_.emit(E::MOV64_REG, rT, rData);
        out_.emit(E::ADD64_IMM, rT, 0, 0, static_cast<std::int32_t>(k));
      } else {
        out_.emit_lddw(rT, k);
        out_.emit(E::ADD64_REG, rT, rData);
      }
      out_.emit(load_op(size), dst, rT, 0);
    }
    swap(dst, size);
  }

  // A = the value at packet offset X + k: r2 = X + k + size + data, checked, loaded at -size.
  void indirect_load(std::uint32_t k, int size) {
    std::uint64_t add = std::uint64_t{k} + static_cast<std::uint64_t>(size);
    out_.emit(E::MOV64_REG, rT, rX);
    if (add <= static_cast<std::uint64_t>(int32_max)) {
      out_.emit(E::ADD64_IMM, rT, 0, 0, static_cast<std::int32_t>(add));
    } else {
      out_.emit_lddw(rT2, add);
      out_.emit(E::ADD64_REG, rT, rT2);
    }
    out_.emit(E::ADD64_REG, rT, rData);
    out_.emit_jump(E::JGT64_REG, out_.reject(), rT, rEnd);
    out_.emit(load_op(size), rA, rT, static_cast<std::int16_t>(-size));
    swap(rA, size);
  }

  void ancillary_load(std::size_t i, const Insn& insn, int size) {
    if (!options_.ancillary) return absolute_load(i, rA, insn.k, size);
    std::uint32_t offset = insn.k - ancillary_base;
    out_.emit(E::LDXW, rT, rCtx, ctx_has_ancillary);
    out_.emit_jump(E::JEQ32_IMM, out_.reject(), rT, 0, 0);
    if (offset == skf_ad::alu_xor_x) {
      out_.emit(E::XOR32_REG, rA, rX);
    } else if (Ancillary{}.value(offset).has_value()) {
      out_.emit(E::LDXW, rA, rCtx, static_cast<std::int16_t>(ctx_ancillary + offset));
    } else {
      out_.emit_jump(E::JA, out_.reject());
    }
  }

  // Shifts by X: X >= 32 gives 0, as libpcap.
  void shift_by_x(E op) {
    out_.emit(E::JLT32_IMM, rX, 0, 2, 32);  // if X < 32 skip the next two
    out_.emit(E::MOV32_IMM, rA, 0, 0, 0);
    out_.emit(E::JA, 0, 0, 1);
    out_.emit(op, rA, rX);
  }

  void conditional(std::size_t i, const detail::Step& step, E taken, E inverse, bool has_inverse,
                   bool x_source, std::uint32_t k) {
    auto next = static_cast<std::uint32_t>(i + 1);
    std::uint8_t src = x_source ? rX : 0;
    auto imm = static_cast<std::int32_t>(k);
    if (step.jt == step.jf) {
      if (step.jt != next) out_.emit_jump(E::JA, step.jt);
    } else if (step.jf == next) {
      out_.emit_jump(taken, step.jt, rA, src, imm);
    } else if (step.jt == next && has_inverse) {
      out_.emit_jump(inverse, step.jf, rA, src, imm);
    } else if (step.jt == next) {  // jset has no inverse: skip the ja when the bit is set
      out_.emit(taken, rA, src, 1, imm);
      out_.emit_jump(E::JA, step.jf);
    } else {
      out_.emit_jump(taken, step.jt, rA, src, imm);
      out_.emit_jump(E::JA, step.jf);
    }
  }

  void instruction(std::size_t i, const Insn& insn, const detail::Step& step) {
    auto k = static_cast<std::int32_t>(insn.k);
    switch (step.op) {
      // clang-format off
      case detail::Exec::LD_W_ABS:  return absolute_load(i, rA, insn.k, 4);
      case detail::Exec::LD_H_ABS:  return absolute_load(i, rA, insn.k, 2);
      case detail::Exec::LD_B_ABS:  return absolute_load(i, rA, insn.k, 1);
      case detail::Exec::LD_W_ABS_PROVEN: return absolute_load(i, rA, insn.k, 4);
      case detail::Exec::LD_H_ABS_PROVEN: return absolute_load(i, rA, insn.k, 2);
      case detail::Exec::LD_B_ABS_PROVEN: return absolute_load(i, rA, insn.k, 1);
      case detail::Exec::LD_ANCILLARY: return ancillary_load(i, insn, step.size);
      case detail::Exec::LD_W_IND:  return indirect_load(insn.k, 4);
      case detail::Exec::LD_H_IND:  return indirect_load(insn.k, 2);
      case detail::Exec::LD_B_IND:  return indirect_load(insn.k, 1);
      case detail::Exec::LD_W_LEN:  return out_.emit(E::LDXW, rA, rCtx, ctx_wire_length);
      case detail::Exec::LDX_W_LEN: return out_.emit(E::LDXW, rX, rCtx, ctx_wire_length);
      case detail::Exec::LD_IMM:    return out_.emit(E::MOV32_IMM, rA, 0, 0, k);
      case detail::Exec::LDX_IMM:   return out_.emit(E::MOV32_IMM, rX, 0, 0, k);
      case detail::Exec::LD_MEM:    return out_.emit(E::LDXW, rA, rFp, scratch_offset(insn.k));
      case detail::Exec::LDX_MEM:   return out_.emit(E::LDXW, rX, rFp, scratch_offset(insn.k));
      case detail::Exec::ST:        return out_.emit(E::STXW, rFp, rA, scratch_offset(insn.k));
      case detail::Exec::STX:       return out_.emit(E::STXW, rFp, rX, scratch_offset(insn.k));
      case detail::Exec::LDX_B_MSH:
      case detail::Exec::LDX_B_MSH_PROVEN:
        absolute_load(i, rX, insn.k, 1);
        out_.emit(E::AND32_IMM, rX, 0, 0, 0xf);
        return out_.emit(E::LSH32_IMM, rX, 0, 0, 2);
      case detail::Exec::ADD_K:     return out_.emit(E::ADD32_IMM, rA, 0, 0, k);
      case detail::Exec::SUB_K:     return out_.emit(E::SUB32_IMM, rA, 0, 0, k);
      case detail::Exec::MUL_K:     return out_.emit(E::MUL32_IMM, rA, 0, 0, k);
      case detail::Exec::DIV_K:     return out_.emit(E::DIV32_IMM, rA, 0, 0, k);
      case detail::Exec::MOD_K:     return out_.emit(E::MOD32_IMM, rA, 0, 0, k);
      case detail::Exec::AND_K:     return out_.emit(E::AND32_IMM, rA, 0, 0, k);
      case detail::Exec::OR_K:      return out_.emit(E::OR32_IMM, rA, 0, 0, k);
      case detail::Exec::XOR_K:     return out_.emit(E::XOR32_IMM, rA, 0, 0, k);
      case detail::Exec::LSH_K:     return out_.emit(E::LSH32_IMM, rA, 0, 0, static_cast<std::int32_t>(step.k));
      case detail::Exec::RSH_K:     return out_.emit(E::RSH32_IMM, rA, 0, 0, static_cast<std::int32_t>(step.k));
      case detail::Exec::ADD_X:     return out_.emit(E::ADD32_REG, rA, rX);
      case detail::Exec::SUB_X:     return out_.emit(E::SUB32_REG, rA, rX);
      case detail::Exec::MUL_X:     return out_.emit(E::MUL32_REG, rA, rX);
      case detail::Exec::AND_X:     return out_.emit(E::AND32_REG, rA, rX);
      case detail::Exec::OR_X:      return out_.emit(E::OR32_REG, rA, rX);
      case detail::Exec::XOR_X:     return out_.emit(E::XOR32_REG, rA, rX);
      case detail::Exec::DIV_X:
        out_.emit_jump(E::JEQ32_IMM, out_.reject(), rX, 0, 0);
        return out_.emit(E::DIV32_REG, rA, rX);
      case detail::Exec::MOD_X:
        out_.emit_jump(E::JEQ32_IMM, out_.reject(), rX, 0, 0);
        return out_.emit(E::MOD32_REG, rA, rX);
      case detail::Exec::LSH_X:     return shift_by_x(E::LSH32_REG);
      case detail::Exec::RSH_X:     return shift_by_x(E::RSH32_REG);
      case detail::Exec::NEG:       return out_.emit(E::NEG32, rA);
      case detail::Exec::TAX:       return out_.emit(E::MOV32_REG, rX, rA);
      case detail::Exec::TXA:       return out_.emit(E::MOV32_REG, rA, rX);
      case detail::Exec::RET_K:
        out_.emit(E::MOV32_IMM, rA, 0, 0, k);
        return out_.emit(E::EXIT);
      case detail::Exec::RET_A:     return out_.emit(E::EXIT);
      case detail::Exec::JA:
        if (step.jt != i + 1) out_.emit_jump(E::JA, step.jt);
        return;
      case detail::Exec::JA_BACKWARD:
        if (step.jt == i) return out_.emit_jump(E::JA, out_.reject());
        out_.emit_jump(E::JEQ64_IMM, out_.reject(), rBack, 0, 0);
        out_.emit(E::SUB64_IMM, rBack, 0, 0, 1);
        return out_.emit_jump(E::JA, step.jt);
      case detail::Exec::JEQ_K:  return conditional(i, step, E::JEQ32_IMM, E::JNE32_IMM, true, false, insn.k);
      case detail::Exec::JGT_K:  return conditional(i, step, E::JGT32_IMM, E::JLE32_IMM, true, false, insn.k);
      case detail::Exec::JGE_K:  return conditional(i, step, E::JGE32_IMM, E::JLT32_IMM, true, false, insn.k);
      case detail::Exec::JSET_K: return conditional(i, step, E::JSET32_IMM, E::JSET32_IMM, false, false, insn.k);
      case detail::Exec::JEQ_X:  return conditional(i, step, E::JEQ32_REG, E::JNE32_REG, true, true, 0);
      case detail::Exec::JGT_X:  return conditional(i, step, E::JGT32_REG, E::JLE32_REG, true, true, 0);
      case detail::Exec::JGE_X:  return conditional(i, step, E::JGE32_REG, E::JLT32_REG, true, true, 0);
      case detail::Exec::JSET_X: return conditional(i, step, E::JSET32_REG, E::JSET32_REG, false, true, 0);
        // clang-format on
    }
  }

  const Program& program_;
  TranslateOptions options_;
  EbpfBuilder out_;
  std::vector<std::uint64_t> proven_;
};

}  // namespace

Result<std::vector<bpfvm::Insn>> translate_insns(const Program& program,
                                                 const TranslateOptions& options) {
  return Translator(program, options).run();
}

Result<bpfvm::Program> translate(const Program& program, const TranslateOptions& options) {
  auto insns = translate_insns(program, options);
  if (!insns) return insns.error();
  return bpfvm::Program::load(*insns);
}

void TranslatedContext::set(const Packet& packet) {
  data = reinterpret_cast<std::uint64_t>(packet.data.data());
  data_end = data + packet.data.size();
  wire_length = packet.wire_length;
  has_ancillary = packet.ancillary != nullptr;
  if (packet.ancillary != nullptr) {
    for (std::uint32_t slot = 0; slot < skf_ad::max / 4; ++slot)
      ancillary[slot] = packet.ancillary->value(slot * 4).value_or(0);
  }
}

RunInput translated_input(TranslatedContext& context, const Packet& packet) {
  context.set(packet);
  RunInput input;
  input.context = &context;
  input.context_size = sizeof context;
  input.context_writable = false;
  input.packet = packet.data;
  return input;
}

}  // namespace bpfvm::classic
