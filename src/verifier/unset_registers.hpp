// Registers the program has not set (or a call has clobbered) that a helper may still read:
// bpf_trace_printk(fmt, fmt_size, ...) is declared by Linux with only its first two
// arguments (kernel/trace/bpf_trace.c, bpf_trace_printk_proto: arg3-arg5 are ARG_DONTCARE),
// so check_func_arg never asks r3-r5 to be initialised, and programs built from
// `bpf_printk("x\n")` leave them unset. The helper reads them as numbers to format only if
// the format asks for them.
//
// bpfvm's engines pass the registers' actual contents: zero since the entry (the interpreter
// and the JIT start r0 and r2-r9 at zero, r2 at the context's length for raw programs), or
// whatever the register last held, since neither engine changes r1-r5 at a helper call. A
// register unset for the verifier may thus hold a stale pointer, which printing would leak
// to the host (bpfvm refuses pointers in ARG_ANYTHING arguments: "leaks addr into helper
// function"). So the verifier tracks, for unset registers, whether the stale contents are a
// number (RegValue::stale_scalar), and trace_printk may read an unset r3-r5 only then.
#pragma once

#include "verifier/reg_value.hpp"

#include <bpfvm/insn.hpp>

#include <cstdint>
#include <span>
#include <string_view>

namespace bpfvm::verifier {

// Whether the program calls a helper that may read unset registers (bpf_trace_printk, 6):
// the tracking is done only then, so that other programs prune exactly as before.
bool tracks_stale_registers(std::span<const Insn> insns);

// Whether argument `arg` (0-based: r1 is 0) of helper `id` may be an unset register `v`.
bool unset_argument_allowed(std::int32_t id, int arg, const RegValue& v);

// What an unset argument `arg` of helper `id` is missing, appended to "RN !read_ok": for
// trace_printk, that the register may hold a stale pointer; otherwise nothing.
std::string_view unset_argument_note(std::int32_t id, int arg);

// The register after a call clobbered it for the program: unset, and a stale number if
// `before` was a number (set or stale).
RegValue clobbered(const RegValue& before);

}  // namespace bpfvm::verifier
