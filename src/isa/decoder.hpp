// Decoding with RFC 9669's field checks: the gate every program passes through at load.
#pragma once

#include "isa/opcode_table.hpp"

#include <bpfvm/insn.hpp>
#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace bpfvm {

struct DecodedInsn {
  const OpcodeInfo* row = nullptr;  // null for the second slot of lddw
  Insn insn;
  std::uint64_t imm64 = 0;   // lddw: the whole 64-bit immediate
  std::size_t target = 0;    // jumps and local calls: the absolute slot index they reach
};

struct DecodeOptions {
  std::size_t max_insns = max_program_insns;
};

// One entry per slot. Fails on the first slot that breaks a rule, naming its index and field.
Result<std::vector<DecodedInsn>> decode(std::span<const Insn> insns,
                                        const DecodeOptions& options = {});

}  // namespace bpfvm
