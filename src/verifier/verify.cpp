#include "verifier/verify.hpp"

#include "isa/decoder.hpp"
#include "verifier/cfg.hpp"
#include "verifier/step.hpp"

#include <bpfvm/disassembler.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace bpfvm::verifier {

std::string VerifyError::to_string() const {
  std::string out = fmt::format("insn {}", insn);
  if (!disassembly.empty()) out += fmt::format(" ({})", disassembly);
  out += ": " + reason;
  if (!registers.empty()) out += fmt::format(" [{}]", registers);
  return out;
}

namespace {

// A state cached at a prune point (Linux: struct bpf_verifier_state_list). `branches`
// counts the paths below it still being explored; only a state whose paths are all done
// (branches == 0) is proven safe and may prune. A state still in progress that equals a
// new one exactly is a loop that makes no progress.
struct CachedState {
  VerifierState state;
  int parent = -1;
  int branches = 1;
};

struct Path {
  std::size_t pc;
  VerifierState state;
  int anchor;  // nearest cached ancestor, -1 for none
};

VerifierState entry_state(const VerifyOptions& options) {
  VerifierState st;
  st.frames.emplace_back();
  auto& regs = st.frames[0].regs;
  regs[1] = RegValue::ctx_pointer();
  // Raw programs get the context's length in r2 (RunInput::raw).
  regs[2] = RegValue::scalar(options.context_size ? ScalarValue::constant(*options.context_size)
                                                  : ScalarValue::unknown());
  regs[frame_pointer] = RegValue::stack_pointer(0, 0);
  return st;
}

// Registers (and call sites) of every frame equal: a cheap first test before comparing
// whole states, whose stacks are large and usually equal. Innermost frame first: callers'
// frames are usually the same in every state cached inside a callee (a loop in a subprogram
// compared every caller register of up to 64 cached states at each iteration first, nine
// times the cost of the same loop in the main frame; found by fuzz/verifier_fuzz.cpp).
bool same_registers(const VerifierState& a, const VerifierState& b) {
  if (a.frames.size() != b.frames.size()) return false;
  for (std::size_t f = a.frames.size(); f-- > 0;)
    if (a.frames[f].regs != b.frames[f].regs || a.frames[f].callsite != b.frames[f].callsite)
      return false;
  return true;
}

class Explorer {
 public:
  Explorer(std::span<const Insn> insns, const std::vector<DecodedInsn>& program, const Cfg& cfg,
           const VerifyOptions& options, VerifyResult& result)
      : insns_(insns),
        program_(program),
        cfg_(cfg),
        options_(options),
        result_(result),
        cache_(program.size()) {}

  void run() {
    std::vector<Path> work;
    work.push_back({0, entry_state(options_), -1});
    while (!work.empty()) {
      result_.stats.peak_pending = std::max(result_.stats.peak_pending, work.size());
      Path path = std::move(work.back());
      work.pop_back();
      if (!follow(path, work)) return;
    }
  }

 private:
  // Ends a path: its anchor has one branch fewer, and a state with none left is complete,
  // so its own parent loses one (Linux: update_branch_counts).
  void finish(int anchor, const VerifierState& last) {
    // Stack bytes never become unwritten again, so a path's deepest use is at its end.
    for (const Frame& f : last.frames)
      result_.stats.max_stack_depth = std::max(result_.stats.max_stack_depth, f.stack.depth());
    while (anchor >= 0) {
      if (--nodes_[static_cast<std::size_t>(anchor)].branches > 0) return;
      anchor = nodes_[static_cast<std::size_t>(anchor)].parent;
    }
  }

  void fail(std::size_t pc, std::string reason, std::string registers) {
    result_.error = VerifyError{pc, disassemble_insn(insns_, pc, Syntax::llvm), std::move(reason),
                                std::move(registers)};
    if (options_.log) result_.log += result_.error->to_string() + "\n";
  }

  // Explores one path until it ends; pushes the other edge of every two-way branch.
  // False when the program is rejected.
  bool follow(Path& p, std::vector<Path>& work) {
    const StepContext ctx{program_, options_};
    for (;;) {
      if (cfg_.prune_point[p.pc]) {
        bool pruned = false;
        for (int id : cache_[p.pc]) {
          const CachedState& c = nodes_[static_cast<std::size_t>(id)];
          if (c.branches > 0) {
            if (same_registers(c.state, p.state) && c.state == p.state) {
              fail(p.pc, fmt::format("infinite loop detected at insn {}", p.pc), "");
              return false;
            }
            continue;
          }
          if (includes(c.state, p.state)) {
            pruned = true;
            break;
          }
        }
        if (pruned) {
          ++result_.stats.states_pruned;
          if (options_.log) result_.log += fmt::format("{}: safe\n", p.pc);
          finish(p.anchor, p.state);
          return true;
        }
        if (cache_[p.pc].size() < options_.max_states_per_insn &&
            nodes_.size() < options_.max_states) {
          nodes_.push_back({p.state, p.anchor, 1});
          p.anchor = static_cast<int>(nodes_.size() - 1);
          cache_[p.pc].push_back(p.anchor);
          result_.stats.states_kept = nodes_.size();
        }
      }
      if (++result_.stats.insns_processed > options_.budget) {
        fail(p.pc, fmt::format("BPF program is too large. Processed {} insn", options_.budget), "");
        return false;
      }
      const std::size_t at = p.pc;
      StepResult r = step(ctx, p.pc, p.state);
      result_.stats.max_stack_depth = std::max(result_.stats.max_stack_depth, r.ended_frame_depth);
      if (r.error) {
        fail(at, std::move(*r.error), std::move(r.registers));
        return false;
      }
      if (options_.log)
        result_.log += fmt::format("{}: {} ; {}\n", at, disassemble_insn(insns_, at, Syntax::llvm),
                                   to_string(p.state));
      if (r.finished) {
        finish(p.anchor, p.state);
        return true;
      }
      if (r.fork) {
        if (p.anchor >= 0) ++nodes_[static_cast<std::size_t>(p.anchor)].branches;
        work.push_back({r.fork->first, std::move(r.fork->second), p.anchor});
      }
    }
  }

  std::span<const Insn> insns_;
  const std::vector<DecodedInsn>& program_;
  const Cfg& cfg_;
  const VerifyOptions& options_;
  VerifyResult& result_;
  std::vector<CachedState> nodes_;
  std::vector<std::vector<int>> cache_;
};

}  // namespace

VerifyResult verify(std::span<const Insn> insns, const VerifyOptions& options) {
  VerifyResult result;
  auto decoded = decode(insns);
  if (!decoded) {
    const Error& e = decoded.error();
    result.error = VerifyError{e.insn_index.value_or(0), "", e.message, ""};
    return result;
  }
  const std::vector<DecodedInsn>& program = decoded.value();
  CfgResult cfg = build_cfg(program);
  if (!cfg.errors.empty()) {
    const CfgError& e = cfg.errors.front();
    result.error = VerifyError{
        e.insn, e.insn < insns.size() ? disassemble_insn(insns, e.insn, Syntax::llvm) : "",
        e.message, ""};
    return result;
  }
  Explorer(insns, program, cfg.cfg, options, result).run();
  return result;
}

}  // namespace bpfvm::verifier
