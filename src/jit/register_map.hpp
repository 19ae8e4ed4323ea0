// The fixed mapping of eBPF registers to x86-64 registers (System V ABI), in one table.
#pragma once

#include <bpfvm/insn.hpp>

#include <asmjit/x86.h>

#include <cstdint>

namespace bpfvm::jit {

namespace x86 = asmjit::x86;

struct RegisterAssignment {
  std::uint32_t x86_id;  // asmjit's register id (x86::Gp::kIdAx, ...)
  const char* why;
};

// clang-format off
inline constexpr RegisterAssignment register_map[register_count] = {
  // r0: helpers return in rax; div/idiv and cmpxchg work on rax anyway.
  {x86::Gp::kIdAx,  "return value: helpers return in rax, div and cmpxchg use it"},
  // r1-r5 sit where the helper bridge jit_call_helper(state, r1, ..., r5) takes its 2nd to
  // 6th arguments (rdi carries the run state), so a call moves no argument. They are
  // caller-saved in System V, so every call from JIT code pushes and pops them: the
  // interpreter keeps r1-r5 across helper calls, and so must we.
  {x86::Gp::kIdSi,  "1st helper argument: 2nd System V argument register"},
  {x86::Gp::kIdDx,  "2nd helper argument: 3rd System V argument register"},
  {x86::Gp::kIdCx,  "3rd helper argument: 4th System V argument register (also the shift count cl)"},
  {x86::Gp::kIdR8,  "4th helper argument: 5th System V argument register"},
  {x86::Gp::kIdR9,  "5th helper argument: 6th System V argument register"},
  // r6-r9 are callee-saved in eBPF: System V's callee-saved registers keep them across
  // helper calls for free.
  {x86::Gp::kIdBx,  "callee-saved: survives helper calls (System V callee-saved)"},
  {x86::Gp::kIdR13, "callee-saved: survives helper calls (System V callee-saved)"},
  {x86::Gp::kIdR14, "callee-saved: survives helper calls (System V callee-saved)"},
  {x86::Gp::kIdR15, "callee-saved: survives helper calls (System V callee-saved)"},
  // r10 is read-only; [rbp + disp] addresses the stack, and rbp survives calls.
  {x86::Gp::kIdBp,  "frame pointer: read-only, callee-saved, moves 512 bytes per local call"},
};
// clang-format on

// Registers the JIT keeps for itself.
// r12 holds the per-run JitRunState (callee-saved, so helpers and bridges keep it).
inline constexpr std::uint32_t state_register_id = x86::Gp::kIdR12;
// rdi holds minus the context's address in checked code, so that the inline bounds check is
// one lea (base + rdi + offset) and one compare; it is caller-saved, so every call out of
// JIT code reloads it (and passes the run state in it meanwhile).
// r10 and r11 are scratch: they never hold an eBPF value across instructions.
inline constexpr std::uint32_t context_bias_id = x86::Gp::kIdDi;
inline constexpr std::uint32_t scratch_a_id = x86::Gp::kIdR11;
inline constexpr std::uint32_t scratch_b_id = x86::Gp::kIdR10;

inline x86::Gp reg64(int ebpf) { return x86::gpq(register_map[ebpf].x86_id); }
inline x86::Gp reg32(int ebpf) { return x86::gpd(register_map[ebpf].x86_id); }
inline x86::Gp reg16(int ebpf) { return x86::gpw(register_map[ebpf].x86_id); }
inline x86::Gp reg8(int ebpf) { return x86::gpb(register_map[ebpf].x86_id); }

// The 64-bit or the 32-bit view of a register.
inline x86::Gp width(const x86::Gp& reg, bool is64) {
  return is64 ? x86::Gp(reg.r64()) : x86::Gp(reg.r32());
}

inline x86::Gp state_reg() { return x86::gpq(state_register_id); }
inline x86::Gp scratch_a() { return x86::gpq(scratch_a_id); }
inline x86::Gp scratch_b() { return x86::gpq(scratch_b_id); }
inline x86::Gp context_bias() { return x86::gpq(context_bias_id); }

// The eBPF registers the System V ABI lets a callee clobber: saved around every call out of
// JIT code (helpers and checked-mode slow paths).
inline constexpr int caller_saved_ebpf[] = {1, 2, 3, 4, 5};

}  // namespace bpfvm::jit
