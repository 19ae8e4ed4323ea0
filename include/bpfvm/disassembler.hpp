// Disassembly into the bpf_conformance syntax or the LLVM/kernel syntax.
#pragma once

#include <bpfvm/insn.hpp>

#include <cstddef>
#include <span>
#include <string>

namespace bpfvm {

enum class Syntax {
  conformance,  // mov32 %r0, 1    ldxh %r0, [%r1+2]    jne %r1, 0, +3
  llvm,         // w0 = 1          r0 = *(u16 *)(r1 + 2) if r1 != 0 goto +3
};

// One instruction (index points at its first slot; lddw reads the next one too).
// Undecodable slots print as a `.quad`-style raw word rather than failing.
std::string disassemble_insn(std::span<const Insn> insns, std::size_t index, Syntax syntax);

// One line per instruction, lddw's second slot skipped. The conformance syntax output
// assembles back to the same bytes.
std::string disassemble(std::span<const Insn> insns, Syntax syntax);

}  // namespace bpfvm
