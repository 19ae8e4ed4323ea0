// The x86-64 code generator: one eBPF instruction at a time, through asmjit's Assembler
// (encoding, labels, fix-ups). The driver (emitter.cpp) emits the prologue, dispatches each
// instruction to its family's emitter (emit_*.cpp) and finally the out-of-line stubs.
//
// Frame of generated code (System V):
//   entry(JitRunState* state /*rdi*/, u64 r1 /*rsi*/, u64 r2 /*rdx*/, u64 r10 /*rcx*/)
//   pushes the six callee-saved registers, aligns rsp, records it in state->saved_rsp and
//   calls the first instruction. `exit` is `ret` at every depth: the program's body is
//   called by the prologue, and local calls are native calls. Every early stop (an error, a
//   helper ending the run, LD_ABS out of bounds) restores saved_rsp and leaves through the
//   epilogue. Inside the body rsp is 8 mod 16 at every instruction boundary: local calls push
//   five registers and a return address (48 bytes), so alignment does not depend on depth.
#pragma once

#include "jit/jit_state.hpp"
#include "jit/register_map.hpp"
#include "vm/code.hpp"

#include <bpfvm/result.hpp>

#include <asmjit/x86.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace bpfvm::jit {

struct EmitOptions {
  bool checked = true;              // inline bounds checks (MemoryMode::checked)
  bool count_instructions = false;  // decrement and test the budget before every instruction
  bool blind_constants = false;     // no program-chosen immediate in the code (docs/jit.md)
  std::uint64_t blinding_seed = 0;  // keys for blinding; 0 draws them from std::random_device
};

// The C++ functions JIT code calls (trampoline.cpp), by address.
struct Bridges {
  std::uint64_t call_helper = 0;  // u64 (JitRunState*, r1, ..., r5)
  std::uint64_t callx = 0;        // u64 (JitRunState*, r1, ..., r5)
  std::uint64_t access_slow = 0;  // u32 (JitRunState*)
  std::uint64_t map_lookup = 0;   // u64 (JitRunState*, r1 = a Map* from lddw, r2, ..., r5)
  // u64 (JitRunState*, r1 = a Map* from lddw with a pinned_lookup(), r2): unchecked code only.
  std::uint64_t pinned_lookup = 0;
};
Bridges default_bridges();

// Where each instruction's code lies in the emitted section, for the dump and for tests.
struct EmitLayout {
  static constexpr std::uint32_t none = 0xffffffffu;
  std::vector<std::uint32_t> insn_begin;  // per slot; `none` for lddw's second slot
  std::uint32_t body_begin = 0;           // the first instruction
  std::uint32_t body_end = 0;             // where the out-of-line stubs begin
  // Offsets into the logger's text (when one is attached), per slot and for the stubs.
  std::vector<std::size_t> log_begin;
  std::size_t log_body_end = 0;
};

class Emitter {
 public:
  Emitter(const detail::Code& code, const EmitOptions& options, x86::Assembler& assembler,
          const Bridges& bridges, const asmjit::String* log = nullptr);

  // Emits the whole program. Fails when the program holds something the JIT does not
  // compile (nothing, today) or when asmjit reports an error.
  Status emit();

  const EmitLayout& layout() const { return layout_; }

 private:
  enum class StubKind : std::uint8_t { access, misaligned, budget, call_depth, helper_stop };
  struct Stub {
    StubKind kind;
    std::uint32_t index;
    asmjit::Label entry;
    asmjit::Label resume;
  };

  // Driver (emitter.cpp).
  void emit_prologue();
  Status emit_insn(std::size_t index);
  void mark_jump_targets();
  bool fuse_address_arithmetic(std::size_t index);
  void emit_shared_routines();
  bool referenced(asmjit::Label label) const;
  void emit_stub(const Stub& stub);
  asmjit::Label add_stub(StubKind kind, std::size_t index, asmjit::Label resume = {});

  // ALU, byte order, sign extension, lddw (emit_alu.cpp); division (emit_div.cpp).
  void emit_alu(const detail::CodeInsn& insn);
  void emit_alu_imm(const detail::CodeInsn& insn, bool is64);
  void emit_alu_reg(const detail::CodeInsn& insn, bool is64);
  void emit_shift(const detail::CodeInsn& insn, bool is64, bool by_register);
  void emit_endian(const detail::CodeInsn& insn);
  void emit_movsx(const detail::CodeInsn& insn);
  void emit_lddw(const detail::CodeInsn& insn);
  void emit_divmod(const detail::CodeInsn& insn);
  void emit_divide(const detail::CodeInsn& insn, bool is64, bool is_signed, bool is_mod);
  void emit_mov_imm(const x86::Gp& dst64, std::int64_t value, bool is64);

  // Loads, stores, atomics (emit_memory.cpp); LD_ABS / LD_IND (emit_packet.cpp).
  void emit_load(const detail::CodeInsn& insn, std::size_t index);
  void emit_store(const detail::CodeInsn& insn, std::size_t index);
  void emit_atomic(const detail::CodeInsn& insn, std::size_t index);
  void emit_packet_load(const detail::CodeInsn& insn);

  // Checked mode (emit_checks.cpp).
  void check_access(const detail::CodeInsn& insn, std::size_t index, int base, int size,
                    bool write);
  void check_alignment(std::size_t index, int size);
  void emit_access_stub(const Stub& stub);

  // Jumps, calls, exit (emit_control.cpp).
  void emit_jump(const detail::CodeInsn& insn, std::size_t index);
  void emit_call_helper(const detail::CodeInsn& insn, std::size_t index);
  void emit_callx(const detail::CodeInsn& insn, std::size_t index);
  void emit_call_local(const detail::CodeInsn& insn, std::size_t index);
  void emit_exit();

  // bpf_map_lookup_elem with r1 a map from lddw (emit_map_lookup.cpp).
  void find_constant_maps();
  bool emit_map_lookup(const detail::CodeInsn& insn, std::size_t index);
  void emit_inline_array_lookup(const Map& map, std::size_t index, int grant_bit);
  void emit_pinned_lookup(std::size_t index);
  void emit_lookup_bridge_call(std::size_t index);

  // Constant blinding (emit_alu.cpp): `value` sign-extended to 64 bits in `scratch`, never
  // appearing in the code as such when blinding is on.
  x86::Gp blinded(std::int64_t value, x86::Gp scratch);
  bool blinding() const { return options_.blind_constants; }
  std::uint32_t next_key();

  const detail::Code& code_;
  EmitOptions options_;
  x86::Assembler& a_;
  Bridges bridges_;
  const asmjit::String* log_;
  std::uint64_t key_state_ = 0;  // splitmix64 state for blinding keys

  std::vector<asmjit::Label> labels_;  // one per slot
  std::vector<bool> jump_target_;      // slots a jump or local call may reach
  std::vector<Map*> r1_map_;           // per slot: the map r1 holds on entry, from lddw; or null
  std::vector<Map*> inlined_maps_;     // arrays whose lookups are inline: grant bit = position
  std::vector<std::uint16_t> live_after_;  // liveness.hpp; computed at the first lookup call
  std::vector<Stub> stubs_;
  // Code for rare paths, emitted after the body with the stubs so that the common path falls
  // through without a taken jump (the inline array lookup's miss and first-grant paths).
  std::vector<std::function<void()>> cold_paths_;
  asmjit::Label epilogue_, error_exit_, packet_out_of_bounds_;
  asmjit::Label fail_[6];  // by StopReason: set state->status and leave through error_exit_
  asmjit::Label helper_routine_, callx_routine_, access_slow_routine_, map_lookup_routine_;
  EmitLayout layout_;
};

// State fields as memory operands: [r12 + offsetof(field) + extra].
x86::Mem state_field(std::int32_t offset, std::uint32_t size = 8);

}  // namespace bpfvm::jit
