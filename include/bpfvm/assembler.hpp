// Text assembly in the bpf_conformance syntax (`mov32 %r0, 1`, `ldxh %r0, [%r1+2]`,
// `lock fetch add [%r10-8], %r1`, `jne %r1, 0, label`, `call local name`, `lddw`).
#pragma once

#include <bpfvm/insn.hpp>
#include <bpfvm/result.hpp>

#include <string_view>
#include <vector>

namespace bpfvm {

// Assembles a whole source text. Errors carry line and column.
Result<std::vector<Insn>> assemble(std::string_view source);

}  // namespace bpfvm
