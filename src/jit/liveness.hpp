// Which eBPF registers a program may still read after each instruction (backward liveness
// over the whole program, every path). The JIT uses it to skip saving r1-r5 around a call
// out of generated code when nothing reads them before they are written again: bpfvm keeps
// r1-r5 across helper calls (the interpreter does), Linux's verifier marks them unreadable
// (check_helper_call: "caller saved registers ... mark as not init"), so compiled programs
// reload them anyway and the pushes are pure cost.
//
// The analysis only ever errs towards "live": calls use r1-r5 (bpf_map_lookup_elem, whose
// arguments are known, r1 and r2) and kill nothing but r0,
// local calls use r0-r5 and kill nothing (the callee's registers flow back), an exit of a
// subprogram or callback uses r0-r5, atomics use r0 and their operands.
#pragma once

#include "vm/code.hpp"

#include <cstdint>
#include <vector>

namespace bpfvm::jit {

// Bit r set in result[i]: register r may be read after slot i runs, before it is written.
// All bits set for every slot when the fixpoint takes unusually long (never wrong, only
// slower code).
std::vector<std::uint16_t> live_after(const detail::Code& code);

}  // namespace bpfvm::jit
