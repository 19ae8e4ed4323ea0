#include "verifier/unset_registers.hpp"

#include <algorithm>

namespace bpfvm::verifier {

namespace {
constexpr std::int32_t trace_printk_id = 6;  // BPF_FUNC_trace_printk
constexpr std::uint8_t call_opcode = 0x85;   // BPF_JMP | BPF_CALL
}  // namespace

bool tracks_stale_registers(std::span<const Insn> insns) {
  // src 0: a helper by id (src 1 is a local call, 2 a kfunc).
  return std::any_of(insns.begin(), insns.end(), [](const Insn& insn) {
    return insn.opcode == call_opcode && insn.src == 0 && insn.imm == trace_printk_id;
  });
}

bool unset_argument_allowed(std::int32_t id, int arg, const RegValue& v) {
  // r3-r5 of bpf_trace_printk (ARG_DONTCARE in Linux), when they can only hold a number.
  return id == trace_printk_id && arg >= 2 && v.kind == RegKind::uninit && v.stale_scalar;
}

std::string_view unset_argument_note(std::int32_t id, int arg) {
  if (id == trace_printk_id && arg >= 2)
    return " (unset here, it may still hold a pointer bpf_trace_printk would print)";
  return {};
}

RegValue clobbered(const RegValue& before) {
  RegValue r = RegValue::uninit();
  r.stale_scalar = before.is_scalar() || (before.kind == RegKind::uninit && before.stale_scalar);
  return r;
}

}  // namespace bpfvm::verifier
