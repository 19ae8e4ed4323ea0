// Which registers and r10 stack slots hold the context pointer before each instruction: a
// forward dataflow pass over the control-flow graph, into bpf-to-bpf calls and back.
#pragma once

#include "isa/decoder.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace bpfvm::progtypes {

// What a register (or an 8-byte stack slot) holds, as far as context accesses care.
struct Value {
  enum class Kind : std::uint8_t {
    uninit,        // never written, or clobbered by a call (r1-r5): may not be dereferenced
    scalar,        // anything that is not derived from the context
    ctx,           // exactly the context pointer
    ctx_modified,  // the context pointer after arithmetic: may not be dereferenced
    stack,         // r10 + stack_offset of the current frame
    mixed,         // the context on some paths, something else on others
  };
  Kind kind = Kind::uninit;
  std::int32_t stack_offset = 0;

  bool is_ctx_derived() const { return kind == Kind::ctx || kind == Kind::ctx_modified; }
  friend bool operator==(const Value&, const Value&) = default;
};

Value join(const Value& a, const Value& b);

struct FlowState {
  Value regs[11];
  // 8-byte slots of the current frame by offset from r10; absent slots are scalars.
  std::map<std::int32_t, Value> slots;

  friend bool operator==(const FlowState&, const FlowState&) = default;
};

// The state before each slot; nullopt for slots no path reaches (and lddw's second slots).
// Subprograms reached only as callbacks (lddw of a function) start with scalar arguments.
std::vector<std::optional<FlowState>> context_dataflow(std::span<const DecodedInsn> insns);

}  // namespace bpfvm::progtypes
