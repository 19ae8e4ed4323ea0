// The branch-free compiler's analysis (branch_free_plan.hpp).
#include "classic/branch_free_plan.hpp"

#include "classic/branch_free.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <span>
#include <string_view>

namespace bpfvm::classic::detail {
namespace {

struct Effect {
  Values uses = 0;
  Values defines = 0;
};

Effect effect_of(const Step& step) {
  const Values m = value_m(step.k & 15);
  switch (step.op) {
    case Exec::LD_W_ABS:
    case Exec::LD_H_ABS:
    case Exec::LD_B_ABS:
    case Exec::LD_W_ABS_PROVEN:
    case Exec::LD_H_ABS_PROVEN:
    case Exec::LD_B_ABS_PROVEN:
    case Exec::LD_W_LEN:
    case Exec::LD_IMM:
    case Exec::LD_ANCILLARY: return {0, value_a};
    case Exec::LD_W_IND:
    case Exec::LD_H_IND:
    case Exec::LD_B_IND: return {value_x, value_a};
    case Exec::LDX_B_MSH:
    case Exec::LDX_B_MSH_PROVEN:
    case Exec::LDX_W_LEN:
    case Exec::LDX_IMM: return {0, value_x};
    case Exec::LD_MEM: return {m, value_a};
    case Exec::LDX_MEM: return {m, value_x};
    case Exec::ST: return {value_a, m};
    case Exec::STX: return {value_x, m};
    case Exec::ADD_K:
    case Exec::SUB_K:
    case Exec::MUL_K:
    case Exec::DIV_K:
    case Exec::MOD_K:
    case Exec::AND_K:
    case Exec::OR_K:
    case Exec::XOR_K:
    case Exec::LSH_K:
    case Exec::RSH_K:
    case Exec::NEG: return {value_a, value_a};
    case Exec::ADD_X:
    case Exec::SUB_X:
    case Exec::MUL_X:
    case Exec::DIV_X:
    case Exec::MOD_X:
    case Exec::AND_X:
    case Exec::OR_X:
    case Exec::XOR_X:
    case Exec::LSH_X:
    case Exec::RSH_X: return {value_a | value_x, value_a};
    case Exec::TAX: return {value_a, value_x};
    case Exec::TXA: return {value_x, value_a};
    case Exec::JEQ_K:
    case Exec::JGT_K:
    case Exec::JGE_K:
    case Exec::JSET_K:
    case Exec::RET_A: return {value_a, 0};
    case Exec::JEQ_X:
    case Exec::JGT_X:
    case Exec::JGE_X:
    case Exec::JSET_X: return {value_a | value_x, 0};
    case Exec::JA:
    case Exec::JA_BACKWARD:
    case Exec::RET_K: return {};
  }
  return {};
}

bool is_return(Exec op) { return op == Exec::RET_K || op == Exec::RET_A; }

// Where control can go after instruction i (forward only: the program has no backward jump).
std::vector<std::uint32_t> successors(const Step& step, std::size_t i) {
  if (is_return(step.op)) return {};
  if (step.op == Exec::JA) return {step.jt};
  if (is_conditional(step.op)) {
    if (step.jt == step.jf) return {step.jt};
    return {step.jt, step.jf};
  }
  return {static_cast<std::uint32_t>(i + 1)};
}

Error unsupported(std::size_t index, std::string_view why) {
  return make_error(Error::Kind::usage,
                    fmt::format("instruction {}: {}: not compiled branch-free", index, why));
}

}  // namespace

bool is_conditional(Exec op) {
  switch (op) {
    case Exec::JEQ_K:
    case Exec::JGT_K:
    case Exec::JGE_K:
    case Exec::JSET_K:
    case Exec::JEQ_X:
    case Exec::JGT_X:
    case Exec::JGE_X:
    case Exec::JSET_X: return true;
    default: return false;
  }
}

int absolute_size(Exec op) {
  switch (op) {
    case Exec::LD_W_ABS:
    case Exec::LD_W_ABS_PROVEN: return 4;
    case Exec::LD_H_ABS:
    case Exec::LD_H_ABS_PROVEN: return 2;
    case Exec::LD_B_ABS:
    case Exec::LD_B_ABS_PROVEN:
    case Exec::LDX_B_MSH:
    case Exec::LDX_B_MSH_PROVEN: return 1;
    default: return 0;
  }
}

Values defined_values(const Step& step) { return effect_of(step).defines; }
Values used_values(const Step& step) { return effect_of(step).uses; }

std::vector<int> packet_order_a(std::span<const Step> steps, const std::vector<Values>& live_in) {
  const std::size_t n = steps.size();
  std::vector<std::vector<std::uint32_t>> predecessors(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::uint32_t s : successors(steps[i], i))
      if (s < n) predecessors[s].push_back(static_cast<std::uint32_t>(i));
  std::vector<int> width(n, 0);
  std::vector<bool> carries(n);  // after instruction j, A is the load's value (still swapped)
  for (std::size_t i = 0; i < n; ++i) {
    const Exec op = steps[i].op;
    const int size = op == Exec::LD_W_ABS || op == Exec::LD_W_ABS_PROVEN || op == Exec::LD_W_IND ? 4
                     : op == Exec::LD_H_ABS || op == Exec::LD_H_ABS_PROVEN || op == Exec::LD_H_IND
                         ? 2
                         : 0;
    if (size == 0) continue;
    std::fill(carries.begin(), carries.end(), false);
    carries[i] = true;
    std::vector<std::size_t> readers;
    bool ok = true;
    for (std::size_t j = i + 1; j < n && ok; ++j) {
      bool any = false, all = true;
      for (std::uint32_t p : predecessors[j]) {
        if (carries[p])
          any = true;
        else
          all = false;
      }
      if (!any || (live_in[j] & value_a) == 0) continue;  // not this A, or A is dead here
      // Every way into j must bring this A: the code at j reads it in one byte order.
      if (!all) {
        ok = false;
        break;
      }
      const Effect effect = effect_of(steps[j]);
      if ((effect.uses & value_a) != 0) {
        // Operations that commute with a byte swap (the constant swapped with it).
        const Exec use = steps[j].op;
        if (use != Exec::JEQ_K && use != Exec::JSET_K && use != Exec::AND_K) ok = false;
        readers.push_back(j);
        carries[j] = true;
      } else {
        carries[j] = (effect.defines & value_a) == 0;
      }
    }
    if (!ok) continue;
    width[i] = size;
    for (std::size_t j : readers) width[j] = size;
  }
  return width;
}

namespace {

// The flags of jumps to a target are or-ed together from the first jump to the target itself:
// in memory that is a chain of read-modify-writes, each waiting for the last store. Registers
// hold them instead while there are free ones (linear scan over the intervals [first jump,
// target]).
void allocate_pending_registers(BranchFreePlan& plan, std::size_t n, std::size_t registers) {
  plan.first_jump.assign(n, n);
  for (const BranchFreeEdge& edge : plan.edges)
    plan.first_jump[edge.to] = std::min<std::size_t>(plan.first_jump[edge.to], edge.from);
  plan.pending_register.assign(n, -1);
  std::size_t busy_until[pending_register_count] = {};  // a register is free from there
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t t = i + 1; t < n; ++t) {
      if (plan.pending_slot[t] < 0 || plan.first_jump[t] != i) continue;
      for (std::size_t r = 0; r < registers; ++r) {
        if (busy_until[r] > i) continue;
        busy_until[r] = t;  // read when t is entered, before t's own jumps write
        plan.pending_register[t] = static_cast<int>(r);
        plan.used_registers |= 1u << r;
        break;
      }
    }
  }
}

}  // namespace

Result<BranchFreePlan> plan_branch_free(const Program& program, std::size_t registers) {
  std::span<const Insn> insns = program.insns();
  std::span<const Step> steps = program.code().steps;
  const std::size_t n = steps.size();
  if (n > max_branch_free_insns)
    return make_error(Error::Kind::usage,
                      fmt::format("{} instructions, more than the {} compiled branch-free", n,
                                  max_branch_free_insns));
  BranchFreePlan plan;
  for (std::size_t i = 0; i < n; ++i) {
    const Step& step = steps[i];
    if (step.op == Exec::JA_BACKWARD) return unsupported(i, "a backward jump");
    plan.reads_ancillary = plan.reads_ancillary || step.op == Exec::LD_ANCILLARY;
    plan.reads_wire_length =
        plan.reads_wire_length || step.op == Exec::LD_W_LEN || step.op == Exec::LDX_W_LEN;
    if (int size = absolute_size(step.op); size != 0) {
      std::uint64_t end = std::uint64_t{insns[i].k} + static_cast<std::uint64_t>(size);
      if (end > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
        return unsupported(i, "an absolute load beyond 2^31");
      plan.min_caplen = std::max(plan.min_caplen, end);
    }
  }
  // A `ret #0` needs no flag: it adds nothing to the result, so jumps to it are dropped.
  plan.rejects.assign(n, false);
  for (std::size_t i = 0; i < n; ++i)
    plan.rejects[i] = steps[i].op == Exec::RET_K && insns[i].k == 0;
  // Liveness, backwards (every edge goes forwards).
  plan.live_in.assign(n, 0);
  for (std::size_t i = n; i-- > 0;) {
    Values out = 0;
    for (std::uint32_t s : successors(steps[i], i)) out |= plan.live_in[s];
    Effect effect = effect_of(steps[i]);
    plan.live_in[i] = effect.uses | (out & ~effect.defines);
  }
  // A as a known absolute load, forwards: -2 not reached yet, -1 unknown.
  plan.a_load.assign(n, -2);
  plan.a_load[0] = -1;  // A starts at 0
  for (std::size_t i = 0; i < n; ++i) {
    if (plan.a_load[i] == -2) plan.a_load[i] = -1;  // unreachable
    std::int64_t out = plan.a_load[i];
    if ((effect_of(steps[i]).defines & value_a) != 0) {
      int size = absolute_size(steps[i].op);
      out = size != 0 && steps[i].op != Exec::LDX_B_MSH && steps[i].op != Exec::LDX_B_MSH_PROVEN
                ? static_cast<std::int64_t>(insns[i].k) * 8 + size
                : -1;
    }
    for (std::uint32_t s : successors(steps[i], i))
      plan.a_load[s] = plan.a_load[s] == -2 || plan.a_load[s] == out ? out : -1;
  }
  // Jumps, what they must merge, and their slots.
  std::int32_t next_slot = first_free_slot;
  plan.pending_slot.assign(n, -1);
  plan.incoming.assign(n, {});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::uint32_t t : successors(steps[i], i)) {
      if (t == i + 1 || plan.rejects[t]) continue;
      BranchFreeEdge edge;
      edge.from = static_cast<std::uint32_t>(i);
      edge.to = t;
      Values skipped = 0;
      for (std::size_t s = i + 1; s < t; ++s) skipped |= effect_of(steps[s]).defines;
      edge.merged = plan.live_in[t] & skipped;
      if (plan.a_load[t] >= 0) edge.merged &= ~value_a;  // read again at t
      if (edge.merged != 0) {
        edge.flag = next_slot;
        next_slot += 4;
        for (int bit = 0; bit < 2 + static_cast<int>(scratch_words); ++bit) {
          if ((edge.merged & (1u << bit)) == 0) continue;
          edge.saved[bit] = next_slot;
          next_slot += 4;
        }
      }
      if (plan.pending_slot[t] < 0) {
        plan.pending_slot[t] = next_slot;
        next_slot += 4;
      }
      plan.edge_of[{static_cast<std::uint32_t>(i), t}] = plan.edges.size();
      plan.incoming[t].push_back(plan.edges.size());
      plan.edges.push_back(edge);
    }
  }
  plan.frame = (next_slot + 15) & ~15;
  if (plan.frame > max_branch_free_frame)
    return make_error(Error::Kind::usage,
                      fmt::format("a stack frame of {} bytes (jumps that restore {} values), more "
                                  "than the {} compiled branch-free",
                                  plan.frame, plan.edges.size(), max_branch_free_frame));
  allocate_pending_registers(plan, n, std::min(registers, pending_register_count));
  return plan;
}

}  // namespace bpfvm::classic::detail
