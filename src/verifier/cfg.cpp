#include "verifier/cfg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace bpfvm::verifier {

std::size_t Cfg::subprogram_of(std::size_t index) const {
  auto it = std::upper_bound(subprograms.begin(), subprograms.end(), index,
                             [](std::size_t i, const Subprogram& s) { return i < s.start; });
  return static_cast<std::size_t>(it - subprograms.begin()) - 1;
}

namespace {

bool is_conditional(Shape s) { return s == Shape::JmpImm || s == Shape::JmpReg; }

// The instruction an lddw src 4 at `i` loads the address of (imm relative to the next slot,
// as a local call's).
std::optional<std::size_t> func_target(const std::vector<DecodedInsn>& program, std::size_t i) {
  const DecodedInsn& d = program[i];
  if (d.row == nullptr || d.row->shape != Shape::Lddw || d.insn.src != lddw_src::func) return {};
  const std::int64_t t = static_cast<std::int64_t>(i) + 1 + d.insn.imm;
  return t < 0 ? program.size() : static_cast<std::size_t>(t);
}

}  // namespace

CfgResult build_cfg(const std::vector<DecodedInsn>& program) {
  CfgResult out;
  const std::size_t n = program.size();
  if (n == 0) {
    out.errors.push_back({0, "the program is empty"});
    return out;
  }
  // Subprogram starts: 0 and every local call's target (Linux: add_subprog).
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 0; i < n; ++i)
    if (program[i].row != nullptr && program[i].row->shape == Shape::CallLocal)
      starts.push_back(program[i].target);
  // ... and every function an lddw src 4 (BPF_PSEUDO_FUNC) loads, a callback.
  for (std::size_t i = 0; i < n; ++i) {
    if (auto t = func_target(program, i)) {
      if (*t >= n || program[*t].row == nullptr) {
        out.errors.push_back({i, fmt::format("invalid func target {} of lddw at insn {}", *t, i)});
        return out;
      }
      starts.push_back(*t);
    }
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  for (std::size_t k = 0; k < starts.size(); ++k)
    out.cfg.subprograms.push_back({starts[k], k + 1 < starts.size() ? starts[k + 1] : n});

  // Jumps stay inside their subprogram; each subprogram ends in exit or ja.
  for (const Subprogram& sp : out.cfg.subprograms) {
    for (std::size_t i = sp.start; i < sp.end; ++i) {
      const OpcodeInfo* row = program[i].row;
      if (row == nullptr || !is_jump(row->shape)) continue;
      if (program[i].target < sp.start || program[i].target >= sp.end)
        out.errors.push_back(
            {i, fmt::format("jump out of range from insn {} to {}", i, program[i].target)});
    }
    std::size_t last = sp.end - 1;
    if (program[last].row == nullptr && last > sp.start) --last;  // lddw's second slot
    const OpcodeInfo* row = program[last].row;
    if (row == nullptr ||
        !(row->shape == Shape::Exit || row->shape == Shape::Ja || row->shape == Shape::Ja32))
      out.errors.push_back({last, "last insn is not an exit or jmp"});
  }
  if (!out.errors.empty()) return out;

  // Reachability: depth-first over every edge, as check_cfg's walk (but iterative).
  out.cfg.prune_point.assign(n, false);
  std::vector<bool> seen(n, false);
  std::vector<std::size_t> todo{0};
  seen[0] = true;
  auto visit = [&](std::size_t to) {
    if (!seen[to]) {
      seen[to] = true;
      todo.push_back(to);
    }
  };
  while (!todo.empty()) {
    const std::size_t i = todo.back();
    todo.pop_back();
    const OpcodeInfo* row = program[i].row;
    const Shape shape = row->shape;
    const std::size_t next = i + (shape == Shape::Lddw ? 2 : 1);
    if (shape == Shape::Lddw) seen[i + 1] = true;
    if (is_jump(shape)) {
      out.cfg.prune_point[program[i].target] = true;
      visit(program[i].target);
    }
    if (shape == Shape::CallLocal) {
      out.cfg.prune_point[program[i].target] = true;
      visit(program[i].target);
    }
    if (auto t = func_target(program, i)) {
      out.cfg.prune_point[*t] = true;
      visit(*t);
    }
    // A helper call may take a callback and come back to itself (callbacks.hpp).
    if (shape == Shape::CallHelper) out.cfg.prune_point[i] = true;
    if (!ends_flow(shape)) {
      // Subprogram ends were checked above, so `next` is in range.
      if (is_conditional(shape) || shape == Shape::CallLocal || shape == Shape::CallHelper)
        out.cfg.prune_point[next] = true;
      visit(next);
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!seen[i]) out.errors.push_back({i, fmt::format("unreachable insn {}", i)});
  return out;
}

}  // namespace bpfvm::verifier
