// The pre-decoded form engines run: one entry per instruction slot, targets resolved,
// immediates widened, helpers bound. Built once at load and then trusted.
#pragma once

#include "isa/opcode_table.hpp"

#include <bpfvm/helper.hpp>
#include <bpfvm/insn.hpp>

#include <cstdint>
#include <vector>

namespace bpfvm::detail {

struct CodeInsn {
  Op op = Op::EXIT;
  std::uint8_t dst = 0;
  std::uint8_t src = 0;
  std::int16_t offset = 0;
  // Jumps and local calls: the slot they reach.
  std::uint32_t target = 0;
  // The immediate as the instruction uses it: sign-extended to 64 bits for 64-bit ALU and
  // jumps (RFC 9669 section 4), the whole value for lddw, raw for the rest.
  std::int64_t imm = 0;
  // `call` of a helper: bound at load.
  const Helper* helper = nullptr;
};

struct Code {
  std::vector<Insn> insns;      // the program as given
  std::vector<CodeInsn> slots;  // one per slot; lddw's second slot is never reached
  HelperRegistry helpers;       // a copy, so the program outlives the caller's registry
};

}  // namespace bpfvm::detail
