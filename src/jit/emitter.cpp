// The driver of code generation: prologue, one instruction at a time through the dispatch
// table below (a `switch` over every row of the opcode table: a row without a case is a
// compile error, which is the JIT's coverage check), then the out-of-line stubs.
#include "jit/emitter.hpp"

#include <fmt/format.h>

namespace bpfvm::jit {

using asmjit::Label;
using detail::CodeInsn;

x86::Mem state_field(std::int32_t offset, std::uint32_t size) {
  return x86::ptr(state_reg(), offset, size);
}

Emitter::Emitter(const detail::Code& code, const EmitOptions& options, x86::Assembler& assembler,
                 const Bridges& bridges, const asmjit::String* log)
    : code_(code), options_(options), a_(assembler), bridges_(bridges), log_(log) {
  // Seeded from the system's entropy, and only when blinding.
  if (!options.blind_constants) return;
  key_state_ = options.blinding_seed;
  if (key_state_ == 0) {
    std::random_device device;
    key_state_ = (static_cast<std::uint64_t>(device()) << 32) | device();
  }
}

std::uint32_t Emitter::next_key() {
  // Keys with every byte nonzero and varied, so no immediate byte survives the XOR.
  for (;;) {
    // splitmix64: keys need to be unpredictable per compilation, not cryptographic.
    std::uint64_t z = (key_state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    auto key = static_cast<std::uint32_t>(z ^ (z >> 31));
    if ((key & 0xff) && (key & 0xff00) && (key & 0xff0000) && (key & 0xff000000)) return key;
  }
}

Label Emitter::add_stub(StubKind kind, std::size_t index, Label resume) {
  Label entry = a_.newLabel();
  stubs_.push_back(Stub{kind, static_cast<std::uint32_t>(index), entry, resume});
  return entry;
}

void Emitter::emit_prologue() {
  // entry(state, r1, r2, r10): save what System V wants kept, then call the body.
  a_.push(x86::rbp);
  a_.push(x86::rbx);
  a_.push(x86::r12);
  a_.push(x86::r13);
  a_.push(x86::r14);
  a_.push(x86::r15);
  a_.sub(x86::rsp, 8);  // 8 (return address) + 48 + 8: rsp is 16-byte aligned
  a_.mov(state_reg(), x86::rdi);
  a_.mov(reg64(frame_pointer), x86::rcx);
  // r1 (rsi) and r2 (rdx) arrive in place; the other registers start at zero, as in the
  // interpreter.
  for (int r : {0, 3, 4, 5, 6, 7, 8, 9}) a_.xor_(reg32(r), reg32(r));
  if (options_.checked) a_.mov(context_bias(), state_field(BPFVM_JIT_FIELD(context_bias)));
  a_.mov(state_field(BPFVM_JIT_FIELD(saved_rsp)), x86::rsp);
  a_.call(labels_[0]);
  a_.bind(epilogue_);
  a_.add(x86::rsp, 8);
  a_.pop(x86::r15);
  a_.pop(x86::r14);
  a_.pop(x86::r13);
  a_.pop(x86::r12);
  a_.pop(x86::rbx);
  a_.pop(x86::rbp);
  a_.ret();
}

Status Emitter::emit() {
  const std::size_t count = code_.slots.size();
  labels_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) labels_.push_back(a_.newLabel());
  epilogue_ = a_.newLabel();
  error_exit_ = a_.newLabel();
  packet_out_of_bounds_ = a_.newLabel();
  for (Label& label : fail_) label = a_.newLabel();
  helper_routine_ = a_.newLabel();
  callx_routine_ = a_.newLabel();
  access_slow_routine_ = a_.newLabel();
  map_lookup_routine_ = a_.newLabel();

  layout_.insn_begin.assign(count, EmitLayout::none);
  layout_.log_begin.assign(count, 0);
  emit_prologue();
  layout_.body_begin = static_cast<std::uint32_t>(a_.offset());

  mark_jump_targets();
  find_constant_maps();
  for (std::size_t i = 0; i < count; ++i) {
    layout_.insn_begin[i] = static_cast<std::uint32_t>(a_.offset());
    a_.bind(labels_[i]);
    if (log_ != nullptr) layout_.log_begin[i] = log_->size();
    if (fuse_address_arithmetic(i)) {
      // The second instruction's code is the first's: it begins (empty) where that ends.
      ++i;
      layout_.insn_begin[i] = static_cast<std::uint32_t>(a_.offset());
      a_.bind(labels_[i]);
      if (log_ != nullptr) layout_.log_begin[i] = log_->size();
      continue;
    }
    if (Status emitted = emit_insn(i); !emitted) return emitted;
    // lddw's second slot is never reached: the decoder refuses jumps into it.
    if (code_.slots[i].op == Op::LDDW) ++i;
  }
  layout_.body_end = static_cast<std::uint32_t>(a_.offset());
  if (log_ != nullptr) layout_.log_body_end = log_->size();

  // Cold paths first: they may add stubs.
  for (const auto& emit_cold : cold_paths_) emit_cold();
  for (std::size_t i = 0; i < stubs_.size(); ++i) emit_stub(stubs_[i]);
  emit_shared_routines();
  return Ok{};
}

void Emitter::mark_jump_targets() {
  jump_target_.assign(code_.slots.size(), false);
  for (std::size_t i = 0; i < code_.slots.size(); ++i) {
    const detail::CodeInsn& insn = code_.slots[i];
    if (is_jump(info(insn.op).shape) || insn.op == Op::CALL_LOCAL) jump_target_[insn.target] = true;
    if (insn.op == Op::LDDW) ++i;
  }
}

// `mov rA, rB` then `add rA, rC` (or `add rA, imm`) is how compilers form addresses: one lea
// does both. Only when nothing jumps to the add, nothing counts instructions between them,
// and (for the immediate) no constant is blinded.
bool Emitter::fuse_address_arithmetic(std::size_t index) {
  const std::size_t count = code_.slots.size();
  if (options_.count_instructions || index + 1 >= count || jump_target_[index + 1]) return false;
  const CodeInsn& mov = code_.slots[index];
  const CodeInsn& add = code_.slots[index + 1];
  if (mov.op != Op::MOV64_REG || mov.dst == mov.src || add.dst != mov.dst) return false;
  x86::Gp dst = reg64(mov.dst);
  x86::Gp base = reg64(mov.src);
  if (add.op == Op::ADD64_REG) {
    // After the mov rA holds rB, so `add rA, rA` doubles rB.
    x86::Gp index_reg = add.src == mov.dst ? base : reg64(add.src);
    a_.lea(dst, x86::ptr(base, index_reg));
    return true;
  }
  if (add.op == Op::ADD64_IMM && !blinding()) {
    a_.lea(dst, x86::ptr(base, static_cast<std::int32_t>(add.imm)));
    return true;
  }
  return false;
}

Status Emitter::emit_insn(std::size_t index) {
  const CodeInsn& insn = code_.slots[index];
  if (options_.count_instructions) {
    // The interpreter's BUDGET_STEP: stop before an instruction when the budget is 0.
    a_.sub(state_field(BPFVM_JIT_FIELD(budget)), 1);
    a_.jb(add_stub(StubKind::budget, index));
  }

  // clang-format off
  switch (insn.op) {
    case Op::ADD64_IMM: case Op::ADD64_REG: case Op::SUB64_IMM: case Op::SUB64_REG:
    case Op::MUL64_IMM: case Op::MUL64_REG: case Op::OR64_IMM: case Op::OR64_REG:
    case Op::AND64_IMM: case Op::AND64_REG: case Op::LSH64_IMM: case Op::LSH64_REG:
    case Op::RSH64_IMM: case Op::RSH64_REG: case Op::XOR64_IMM: case Op::XOR64_REG:
    case Op::MOV64_IMM: case Op::MOV64_REG: case Op::ARSH64_IMM: case Op::ARSH64_REG:
    case Op::NEG64:
    case Op::ADD32_IMM: case Op::ADD32_REG: case Op::SUB32_IMM: case Op::SUB32_REG:
    case Op::MUL32_IMM: case Op::MUL32_REG: case Op::OR32_IMM: case Op::OR32_REG:
    case Op::AND32_IMM: case Op::AND32_REG: case Op::LSH32_IMM: case Op::LSH32_REG:
    case Op::RSH32_IMM: case Op::RSH32_REG: case Op::XOR32_IMM: case Op::XOR32_REG:
    case Op::MOV32_IMM: case Op::MOV32_REG: case Op::ARSH32_IMM: case Op::ARSH32_REG:
    case Op::NEG32:
      emit_alu(insn); break;

    case Op::DIV64_IMM: case Op::DIV64_REG: case Op::SDIV64_IMM: case Op::SDIV64_REG:
    case Op::MOD64_IMM: case Op::MOD64_REG: case Op::SMOD64_IMM: case Op::SMOD64_REG:
    case Op::DIV32_IMM: case Op::DIV32_REG: case Op::SDIV32_IMM: case Op::SDIV32_REG:
    case Op::MOD32_IMM: case Op::MOD32_REG: case Op::SMOD32_IMM: case Op::SMOD32_REG:
      emit_divmod(insn); break;

    case Op::MOVSX8_64: case Op::MOVSX16_64: case Op::MOVSX32_64:
    case Op::MOVSX8_32: case Op::MOVSX16_32:
      emit_movsx(insn); break;

    case Op::LE16: case Op::LE32: case Op::LE64: case Op::BE16: case Op::BE32: case Op::BE64:
    case Op::BSWAP16: case Op::BSWAP32: case Op::BSWAP64:
      emit_endian(insn); break;

    case Op::LDDW: emit_lddw(insn); break;

    case Op::LDXW: case Op::LDXH: case Op::LDXB: case Op::LDXDW:
    case Op::LDXSW: case Op::LDXSH: case Op::LDXSB:
      emit_load(insn, index); break;

    case Op::STW: case Op::STH: case Op::STB: case Op::STDW:
    case Op::STXW: case Op::STXH: case Op::STXB: case Op::STXDW:
      emit_store(insn, index); break;

    case Op::ATOMIC32_ADD: case Op::ATOMIC32_FETCH_ADD: case Op::ATOMIC32_OR:
    case Op::ATOMIC32_FETCH_OR: case Op::ATOMIC32_AND: case Op::ATOMIC32_FETCH_AND:
    case Op::ATOMIC32_XOR: case Op::ATOMIC32_FETCH_XOR: case Op::ATOMIC32_XCHG:
    case Op::ATOMIC32_CMPXCHG:
    case Op::ATOMIC64_ADD: case Op::ATOMIC64_FETCH_ADD: case Op::ATOMIC64_OR:
    case Op::ATOMIC64_FETCH_OR: case Op::ATOMIC64_AND: case Op::ATOMIC64_FETCH_AND:
    case Op::ATOMIC64_XOR: case Op::ATOMIC64_FETCH_XOR: case Op::ATOMIC64_XCHG:
    case Op::ATOMIC64_CMPXCHG:
      emit_atomic(insn, index); break;

    case Op::LDABSW: case Op::LDABSH: case Op::LDABSB:
    case Op::LDINDW: case Op::LDINDH: case Op::LDINDB:
      emit_packet_load(insn); break;

    case Op::JA: case Op::JA32:
    case Op::JEQ64_IMM: case Op::JEQ64_REG: case Op::JGT64_IMM: case Op::JGT64_REG:
    case Op::JGE64_IMM: case Op::JGE64_REG: case Op::JSET64_IMM: case Op::JSET64_REG:
    case Op::JNE64_IMM: case Op::JNE64_REG: case Op::JSGT64_IMM: case Op::JSGT64_REG:
    case Op::JSGE64_IMM: case Op::JSGE64_REG: case Op::JLT64_IMM: case Op::JLT64_REG:
    case Op::JLE64_IMM: case Op::JLE64_REG: case Op::JSLT64_IMM: case Op::JSLT64_REG:
    case Op::JSLE64_IMM: case Op::JSLE64_REG:
    case Op::JEQ32_IMM: case Op::JEQ32_REG: case Op::JGT32_IMM: case Op::JGT32_REG:
    case Op::JGE32_IMM: case Op::JGE32_REG: case Op::JSET32_IMM: case Op::JSET32_REG:
    case Op::JNE32_IMM: case Op::JNE32_REG: case Op::JSGT32_IMM: case Op::JSGT32_REG:
    case Op::JSGE32_IMM: case Op::JSGE32_REG: case Op::JLT32_IMM: case Op::JLT32_REG:
    case Op::JLE32_IMM: case Op::JLE32_REG: case Op::JSLT32_IMM: case Op::JSLT32_REG:
    case Op::JSLE32_IMM: case Op::JSLE32_REG:
      emit_jump(insn, index); break;

    case Op::CALL_HELPER: emit_call_helper(insn, index); break;
    case Op::CALLX: emit_callx(insn, index); break;
    case Op::CALL_LOCAL: emit_call_local(insn, index); break;
    case Op::CALL_BTF:
      // Program::load refuses unresolved BTF calls; a Code holding one is not ours to run.
      return insn_error(Error::Kind::invalid_program, index, "call btf is not resolved");
    case Op::EXIT: emit_exit(); break;
  }
  // clang-format on
  return Ok{};
}

void Emitter::emit_stub(const Stub& stub) {
  a_.bind(stub.entry);
  switch (stub.kind) {
    case StubKind::access: emit_access_stub(stub); return;
    case StubKind::misaligned:
      a_.mov(state_field(BPFVM_JIT_FIELD(error_address)), scratch_a());
      break;
    case StubKind::helper_stop: {
      // stop 2: a tail call from a subprogram ran its target (trampoline.cpp); rax holds its
      // r0 and the subprogram returns it. Stubs are jumped to at the body's stack depth, so
      // this `ret` is the subprogram's exit.
      asmjit::Label stop = a_.newLabel();
      a_.cmp(state_field(BPFVM_JIT_FIELD(stop), 1), 2);
      a_.jne(stop);
      a_.mov(state_field(BPFVM_JIT_FIELD(stop), 1), 0);
      a_.ret();
      a_.bind(stop);
      break;
    }
    case StubKind::budget:
    case StubKind::call_depth: break;
  }
  a_.mov(state_field(BPFVM_JIT_FIELD(error_index), 4), stub.index);
  StopReason status = stub.kind == StubKind::misaligned   ? StopReason::misaligned_atomic
                      : stub.kind == StubKind::budget     ? StopReason::budget_exhausted
                      : stub.kind == StubKind::call_depth ? StopReason::call_depth
                                                          : StopReason::helper_stop;
  a_.jmp(fail_[static_cast<int>(status)]);
}

bool Emitter::referenced(asmjit::Label label) const {
  const asmjit::LabelEntry* entry = a_.code()->labelEntry(label);
  return entry != nullptr && entry->links() != nullptr;
}

// Only what the body refers to is emitted: most programs need none of the calls out and few
// of the exits, and emitting them all would cost more than compiling a small program.
void Emitter::emit_shared_routines() {
  // Calls out to C++: entered by `call` from the body (rsp 8 mod 16), so rsp is 16-byte
  // aligned at entry; five pushes and 8 bytes keep it aligned for the bridge. r1-r5 are
  // restored after, as the interpreter keeps them.
  for (auto [label, bridge] :
       {std::pair{helper_routine_, bridges_.call_helper}, std::pair{callx_routine_, bridges_.callx},
        std::pair{map_lookup_routine_, bridges_.map_lookup}}) {
    if (!referenced(label)) continue;
    a_.bind(label);
    for (int r : caller_saved_ebpf) a_.push(reg64(r));
    a_.sub(x86::rsp, 8);
    a_.mov(x86::rdi, state_reg());
    a_.mov(scratch_a(), bridge);
    a_.call(scratch_a());
    a_.add(x86::rsp, 8);
    for (int i = std::size(caller_saved_ebpf) - 1; i >= 0; --i) a_.pop(reg64(caller_saved_ebpf[i]));
    if (options_.checked) a_.mov(context_bias(), state_field(BPFVM_JIT_FIELD(context_bias)));
    a_.ret();
  }

  // The checked-mode slow path: does any region admit the access? ZF clear when it does.
  // Every caller-saved eBPF register (r0-r5) is kept.
  if (referenced(access_slow_routine_)) {
    a_.bind(access_slow_routine_);
    a_.push(reg64(0));
    for (int r : caller_saved_ebpf) a_.push(reg64(r));
    a_.mov(x86::rdi, state_reg());
    a_.mov(scratch_a(), bridges_.access_slow);
    a_.call(scratch_a());
    a_.mov(x86::r10d, x86::eax);
    for (int i = std::size(caller_saved_ebpf) - 1; i >= 0; --i) a_.pop(reg64(caller_saved_ebpf[i]));
    a_.pop(reg64(0));
    a_.mov(context_bias(), state_field(BPFVM_JIT_FIELD(context_bias)));
    a_.test(x86::r10d, x86::r10d);
    a_.ret();
  }

  // fail_[s]: record the status and unwind. rax (r0) is kept: after a helper that ended the
  // run, it is the program's result.
  for (int s = 1; s < 6; ++s) {
    if (!referenced(fail_[s])) continue;
    a_.bind(fail_[s]);
    a_.mov(state_field(BPFVM_JIT_FIELD(status), 1), s);
    a_.jmp(error_exit_);
  }
  // LD_ABS / LD_IND out of the packet: the program ends and returns 0 (Linux semantics).
  const bool packet_exit = referenced(packet_out_of_bounds_);
  if (packet_exit) {
    a_.bind(packet_out_of_bounds_);
    a_.xor_(x86::eax, x86::eax);
  }
  if (packet_exit || referenced(error_exit_)) {
    a_.bind(error_exit_);
    a_.mov(x86::rsp, state_field(BPFVM_JIT_FIELD(saved_rsp)));
    a_.jmp(epilogue_);
  }
}

}  // namespace bpfvm::jit
