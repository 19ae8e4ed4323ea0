// Branchy dispatch in front of branch-free code (branch_free_dispatch.hpp).
#include "classic/branch_free_dispatch.hpp"

#include "classic/branch_free_plan.hpp"

#include "classic/code.hpp"

#include <algorithm>
#include <limits>

namespace bpfvm::classic::detail {
namespace {

// The bytes an absolute load into A reads (ldxb's MSH loads into X), 0 for others.
int load_size(Exec op) {
  return op == Exec::LDX_B_MSH || op == Exec::LDX_B_MSH_PROVEN ? 0 : absolute_size(op);
}

bool is_test_of_a(Exec op) {
  return op == Exec::JEQ_K || op == Exec::JGT_K || op == Exec::JGE_K || op == Exec::JSET_K;
}

bool holds(Exec op, std::uint32_t a, std::uint32_t k) {
  switch (op) {
    case Exec::JEQ_K: return a == k;
    case Exec::JGT_K: return a > k;
    case Exec::JGE_K: return a >= k;
    default: return (a & k) != 0;  // JSET_K
  }
}

}  // namespace

std::optional<BranchFreeDispatch> plan_dispatch(const Program& program) {
  std::span<const Step> steps = program.code().steps;
  const std::size_t n = steps.size();
  if (n < 3 || load_size(steps[0].op) == 0 || !is_test_of_a(steps[1].op)) return std::nullopt;
  // Predecessors of each instruction (the program is forward-only: plan_branch_free checked).
  std::vector<std::vector<std::uint32_t>> predecessors(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Step& s = steps[i];
    auto add = [&](std::uint32_t t) {
      if (t < n) predecessors[t].push_back(static_cast<std::uint32_t>(i));
    };
    if (is_test_of_a(s.op) || s.op == Exec::JEQ_X || s.op == Exec::JGT_X || s.op == Exec::JGE_X ||
        s.op == Exec::JSET_X) {
      add(s.jt);
      if (s.jf != s.jt) add(s.jf);
    } else if (s.op == Exec::JA) {
      add(s.jt);
    } else if (s.op != Exec::RET_K && s.op != Exec::RET_A) {
      add(static_cast<std::uint32_t>(i + 1));
    }
  }
  BranchFreeDispatch dispatch;
  dispatch.load_k = program.insns()[0].k;
  dispatch.load_size = load_size(steps[0].op);
  dispatch.in_prefix.assign(n, false);
  dispatch.in_prefix[0] = dispatch.in_prefix[1] = true;
  dispatch.tests.push_back(1);
  // Tests of the same A reached only from the dispatch join it, in index order (every edge
  // goes forwards, so a test's predecessors are settled before it is looked at).
  for (std::size_t i = 2; i < n && dispatch.tests.size() < max_dispatch_tests; ++i) {
    if (!is_test_of_a(steps[i].op) || predecessors[i].empty()) continue;
    bool only_from_dispatch =
        std::all_of(predecessors[i].begin(), predecessors[i].end(),
                    [&](std::uint32_t p) { return dispatch.in_prefix[p] && p != 0; });
    if (!only_from_dispatch) continue;
    dispatch.in_prefix[i] = true;
    dispatch.tests.push_back(static_cast<std::uint32_t>(i));
  }
  for (std::uint32_t t : dispatch.tests)
    for (std::uint32_t target : {steps[t].jt, steps[t].jf})
      if (!dispatch.in_prefix[target]) dispatch.exits.push_back(target);
  std::sort(dispatch.exits.begin(), dispatch.exits.end());
  dispatch.exits.erase(std::unique(dispatch.exits.begin(), dispatch.exits.end()),
                       dispatch.exits.end());
  if (dispatch.exits.size() < 2) return std::nullopt;  // nothing to choose between
  return dispatch;
}

std::size_t exit_of(const Program& program, const BranchFreeDispatch& dispatch,
                    const std::uint8_t* data) {
  std::uint32_t a = 0;
  for (int b = 0; b < dispatch.load_size; ++b) a = (a << 8) | data[dispatch.load_k + b];
  std::span<const Step> steps = program.code().steps;
  std::span<const Insn> insns = program.insns();
  std::uint32_t i = 1;
  for (;;) {
    std::uint32_t t = holds(steps[i].op, a, insns[i].k) ? steps[i].jt : steps[i].jf;
    if (!dispatch.in_prefix[t]) {
      auto at = std::lower_bound(dispatch.exits.begin(), dispatch.exits.end(), t);
      return static_cast<std::size_t>(at - dispatch.exits.begin());
    }
    i = t;
  }
}

double dispatch_cost(std::span<const std::uint32_t> histogram,
                     std::span<const std::size_t> exit_bytes) {
  double total = 0, most = 0, expected = 0;
  for (std::size_t e = 0; e < histogram.size(); ++e) {
    total += histogram[e];
    most = std::max<double>(most, histogram[e]);
    expected += static_cast<double>(histogram[e]) * static_cast<double>(exit_bytes[e]);
  }
  if (total == 0) return std::numeric_limits<double>::infinity();
  return (expected + (total - most) * mispredict_bytes) / total;
}

}  // namespace bpfvm::classic::detail
