// The pre-decoded form engines run: one entry per instruction slot, targets resolved,
// immediates widened, helpers bound. Built once at load and then trusted.
#pragma once

#include "isa/opcode_table.hpp"

#include "vm/run_state.hpp"

#include <bpfvm/helper.hpp>
#include <bpfvm/insn.hpp>
#include <bpfvm/map.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
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

  // LoadOptions::maps, kept alive as long as the code: `lddw` src 1/5 put their addresses in
  // registers, and helpers accept only these (or maps a lookup handed out) as map pointers.
  std::vector<std::shared_ptr<Map>> maps;
  // Global data reached by `lddw` src 2/6 (map values): admitted in checked mode on every
  // run, read-only for maps with BPF_F_RDONLY_PROG. One entry per distinct map.
  std::vector<Region> global_regions;
  // Slots `lddw` src 4 (BPF_PSEUDO_FUNC) names: the callbacks helpers may call. Sorted.
  std::vector<std::uint32_t> functions;
  // `call N` of ids the registry lacks, bound to a helper that fails the run if the call is
  // ever made (program.cpp, unknown_helper_trap). One per such call; kept apart from `helpers`
  // so that callx still finds no helper there.
  std::vector<std::unique_ptr<Helper>> unknown_helpers;

  bool uses_maps() const { return !maps.empty(); }
  // Whether a run must hold a MapReadGuard (an epoch pin): some map the code names by `lddw`
  // may free values a lookup returned (hash, LRU, LPM maps; maps of maps, whose inner maps
  // may be any of these). Arrays never free theirs, and a run that names only arrays (or no
  // map) skips the pin, whose atomic exchange costs more than a small program's run.
  bool needs_read_guard = false;
  // The map whose address is `value`, or nullptr.
  Map* map_at(std::uint64_t value) const {
    for (const auto& map : maps)
      if (reinterpret_cast<std::uint64_t>(map.get()) == value) return map.get();
    return nullptr;
  }
  // A BPF_PSEUDO_FUNC value is the address of the callback's first slot; the slot index, or
  // -1 when `value` names no function of this program.
  std::int64_t function_at(std::uint64_t value) const {
    auto first = reinterpret_cast<std::uint64_t>(slots.data());
    if (value < first || (value - first) % sizeof(CodeInsn) != 0) return -1;
    std::uint64_t index = (value - first) / sizeof(CodeInsn);
    if (!std::binary_search(functions.begin(), functions.end(), index)) return -1;
    return static_cast<std::int64_t>(index);
  }
};

}  // namespace bpfvm::detail
