#include "classic/proven_length.hpp"

#include "classic/code.hpp"
#include "classic/opcode_table.hpp"

#include <algorithm>
#include <limits>

namespace bpfvm::classic::detail {

std::uint64_t proven_after(const Insn& insn, std::uint64_t before) {
  const OpInfo* row = find_op(insn.code);
  if (row == nullptr) return before;
  switch (row->op) {
    case Op::LD_W_ABS:
    case Op::LD_H_ABS:
    case Op::LD_B_ABS:
      if (insn.k >= ancillary_base) return before;  // may be an ancillary value instead
      [[fallthrough]];
    case Op::LDX_B_MSH:
      return std::max<std::uint64_t>(before, std::uint64_t{insn.k} + load_size(row->op));
    default: return before;
  }
}

std::vector<std::uint64_t> proven_lengths(std::span<const Insn> insns,
                                          std::span<const Step> steps) {
  constexpr std::uint64_t unreached = std::numeric_limits<std::uint64_t>::max();
  std::vector<std::uint64_t> proven(insns.size(), unreached);
  if (insns.empty()) return proven;
  proven[0] = 0;
  for (const Step& step : steps)
    if (step.op == Exec::JA_BACKWARD) proven[step.jt] = 0;  // a loop head: assume nothing
  auto flow = [&](std::uint32_t target, std::uint64_t value) {
    proven[target] = std::min(proven[target], value);
  };
  for (std::size_t i = 0; i < insns.size(); ++i) {
    if (proven[i] == unreached) proven[i] = 0;  // unreachable: assume nothing
    std::uint64_t out = proven_after(insns[i], proven[i]);
    const Step& step = steps[i];
    const OpInfo& row = *find_op(insns[i].code);
    if (row.op == Op::RET_K || row.op == Op::RET_A) continue;
    if (step.op == Exec::JA_BACKWARD) continue;
    if (row.op == Op::JA) {
      flow(step.jt, out);
    } else if (is_conditional_jump(row.operand)) {
      flow(step.jt, out);
      flow(step.jf, out);
    } else if (i + 1 < insns.size()) {
      flow(static_cast<std::uint32_t>(i + 1), out);
    }
  }
  return proven;
}

}  // namespace bpfvm::classic::detail
