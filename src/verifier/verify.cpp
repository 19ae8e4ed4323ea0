#include "verifier/verify.hpp"

#include "isa/decoder.hpp"
#include "verifier/callbacks.hpp"
#include "verifier/cfg.hpp"
#include "verifier/context_access.hpp"
#include "verifier/liveness.hpp"
#include "verifier/precision.hpp"
#include "verifier/read_marks.hpp"
#include "verifier/step.hpp"

#include <bpfvm/disassembler.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>

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
// The current frame's registers in brief, to skip cached states that cannot include a new
// one without touching them (most comparisons fail on a register's kind or on a constant).
struct Summary {
  std::size_t frames = 0;
  std::array<RegKind, register_count> kind{};
  // The unsigned bounds of each register's value (a scalar, or a pointer's offset).
  std::array<std::uint64_t, register_count> umin{}, umax{};
  // Map pointers and values: the map (cilium's conntrack paths differ in it alone).
  std::array<const MapSpec*, register_count> map{};

  // The current frame's stack, a bit per 8-byte slot: wholly spilled, spilled pointer,
  // some byte misc, every byte written.
  std::uint64_t spill = 0, pointer = 0, misc = 0, written = 0;

  explicit Summary(const VerifierState& st) : frames(st.frames.size()) {
    const StackState& stack = st.current().stack;
    constexpr int slots = StackState::size / StackState::slot_size;
    for (int slot = first_written_slot(stack); slot < slots; ++slot) {
      const int base = -StackState::size + slot * StackState::slot_size;
      const std::uint64_t b = std::uint64_t{1} << slot;
      bool all = true;
      for (int off = base; off < base + StackState::slot_size; ++off) {
        const StackByte k = stack.byte(off);
        all = all && k != StackByte::invalid;
        if (k == StackByte::misc) misc |= b;
      }
      if (all) written |= b;
      if (stack.byte(base) == StackByte::spill) {
        spill |= b;
        if (stack.spilled(base).is_pointer()) pointer |= b;
      }
    }
    const auto& regs = st.current().regs;
    for (std::size_t r = 0; r < register_count; ++r) {
      kind[r] = regs[r].kind;
      umin[r] = regs[r].value.umin;
      umax[r] = regs[r].value.umax;
      map[r] = regs[r].map;
    }
  }

  // False when `old` cannot include `cur` for the live registers `live`: a live register
  // of `old` that is initialised must have the same kind and map and unsigned bounds around
  // those of `cur` (all required by includes too, so this only says "no" earlier).
  friend bool operator==(const Summary&, const Summary&) = default;

  // `precise`: the registers of the current frame `old` has marked precise; an imprecise
  // scalar takes any scalar, whatever its bounds.
  static bool may_include(const Summary& old, const Summary& cur, std::uint16_t live,
                          std::uint64_t live_stack, std::uint64_t live_values,
                          std::uint16_t precise, std::uint64_t precise_slots) {
    if (old.frames != cur.frames) return false;
    // Stack slots as includes(StackState) sees them: a spilled pointer must meet one (and a
    // spill a spill where the values matter), a misc byte no spilled pointer, a written slot
    // no unwritten byte.
    // (An imprecise spilled scalar takes any scalar bytes: only pointers and precise scalars
    // need a spill.)
    if ((old.spill & (old.pointer | precise_slots) & ~cur.spill & live_values & live_stack) != 0 ||
        (old.pointer & ~cur.pointer & live_stack) != 0 ||
        (old.misc & cur.pointer & live_stack) != 0 ||
        (old.written & ~cur.written & live_stack) != 0)
      return false;
    for (std::size_t r = 0; r < register_count; ++r) {
      if (((live >> r) & 1) == 0 || old.kind[r] == RegKind::uninit) continue;
      if (old.kind[r] != cur.kind[r] || old.map[r] != cur.map[r]) return false;
      if (old.kind[r] == RegKind::scalar && ((precise >> r) & 1) == 0) continue;
      if (cur.umin[r] < old.umin[r] || cur.umax[r] > old.umax[r]) return false;
    }
    return true;
  }
};

// A checkpoint of a path (Linux: the parent chain of bpf_verifier_state). Those at prune
// points are cached (listed in cache_ for their instruction, `state` kept for comparison);
// the others, made only to keep histories short, hold just what precision marks need.
struct CachedState {
  VerifierState state;
  int parent = -1;
  int branches = 1;
  Summary summary;
  // The instructions run from the parent checkpoint to this one (precision.hpp).
  std::vector<HistoryEntry> history;
  // Which registers and slots hold scalars here, and which of them are precise.
  Precision scalars;
  Precision precise;
  // What the stretch from the parent checkpoint wrote, and what the paths below read before
  // writing it (read_marks.hpp).
  LiveMask written;
  LiveMask read;
  // How often it included a new state, and failed to (eviction from cache_).
  std::uint32_t hits = 0;
  std::uint32_t misses = 0;
};

struct Path {
  std::size_t pc;
  VerifierState state;
  int anchor;                         // nearest checkpoint, -1 for none
  std::vector<HistoryEntry> history;  // since that checkpoint
  LiveMask written;                   // since that checkpoint (read_marks.hpp)
};

// A history longer than this gets a chain-only checkpoint, so that forks copy little.
constexpr std::size_t max_history = 64;

VerifierState entry_state(const VerifyOptions& options) {
  VerifierState st;
  st.frames.emplace_back();
  auto& regs = st.frames[0].regs;
  regs[1] = RegValue::ctx_pointer();
  // Raw programs get the context's length in r2 (RunInput::raw).
  // (Typed programs get r1 alone, as in Linux.)
  if (options.type == ProgramType::raw)
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

// What may be read after `pc` in each frame of `st` (liveness.hpp): the current frame as at
// `pc`; a caller's registers as at the instruction its callee returns to (after a local call,
// r0-r5 are overwritten there; a callback's exit resumes the helper call itself), its stack
// wholly (the callee may hold pointers into it).
LiveMask live_mask(const Liveness& live, const VerifierState& st, std::size_t pc) {
  LiveMask m = LiveMask::all();
  const std::size_t top = st.frames.size() - 1;
  if (top >= max_call_frames) return m;
  m.regs[top] = live.regs[pc];
  m.stack[top] = live.stack[pc];
  m.stack_values[top] = live.stack_values[pc];
  for (std::size_t f = 0; f < top; ++f) {
    const Frame& callee = st.frames[f + 1];
    if (callee.callback_of >= 0) {
      m.regs[f] = live.regs[callee.callsite];
    } else if (callee.callsite + 1 < live.regs.size()) {
      m.regs[f] = static_cast<std::uint16_t>(live.regs[callee.callsite + 1] & ~0x3fu);
    }
  }
  return m;
}

std::vector<std::size_t> subprogram_starts(const Cfg& cfg) {
  std::vector<std::size_t> starts;
  for (const Subprogram& s : cfg.subprograms) starts.push_back(s.start);
  return starts;
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
        liveness_(compute_liveness(program, subprogram_starts(cfg))),
        read_marks_(!has_callbacks(program)),
        cache_(program.size()),
        access_kinds_(program.size()) {}

  void run() {
    std::vector<Path> work;
    work.push_back({0, entry_state(options_), -1, {}, {}});
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

  // Makes the checkpoint of `p` at its current state (cached at `pc` when `cached`).
  void checkpoint(Path& p, const Summary& summary, bool cached) {
    CachedState c{cached ? p.state : VerifierState{},
                  p.anchor,
                  1,
                  summary,
                  std::move(p.history),
                  scalar_places(p.state),
                  Precision{},
                  p.written,
                  LiveMask{},
                  0,
                  0};
    nodes_.push_back(std::move(c));
    p.history.clear();
    p.written = LiveMask{};
    p.anchor = static_cast<int>(nodes_.size() - 1);
    if (cached) {
      cache_[p.pc].push_back(p.anchor);
      ++cache_size_;
      ++result_.stats.states_kept;
    }
  }

  // Every scalar precise in every checkpoint of the path from `anchor` up (Linux:
  // mark_all_scalars_precise): the fallback where backtracking cannot follow.
  void mark_all_precise(int anchor) {
    for (; anchor >= 0; anchor = nodes_[static_cast<std::size_t>(anchor)].parent)
      nodes_[static_cast<std::size_t>(anchor)].precise = Precision::all();
  }

  // Linux's __mark_chain_precision: what `needed` names at the end of `p`'s history must be
  // precise in every checkpoint it flows from.
  void mark_precise(const Path& p, Precision needed) {
    if (needed.empty()) return;
    const std::vector<HistoryEntry>* history = &p.history;
    int node = p.anchor;
    for (;;) {
      for (auto it = history->rbegin(); it != history->rend(); ++it) {
        const Precision* linked = it->linked != 0 ? &linked_[it->linked - 1] : nullptr;
        if (linked != nullptr) sync_linked(*linked, needed);
        if (!backtrack(program_[it->pc], *it, needed)) {
          mark_all_precise(p.anchor);
          return;
        }
        if (linked != nullptr) sync_linked(*linked, needed);
      }
      if (node < 0) return;
      CachedState& c = nodes_[static_cast<std::size_t>(node)];
      if (!mark_checkpoint(c.scalars, c.precise, needed)) return;
      history = &c.history;
      node = c.parent;
    }
  }

  // Linux's mark_reg_read: what `m` names was read at the end of `p` and is not written
  // since its checkpoint; mark it there, and above while no checkpoint's stretch wrote it.
  void mark_read(const Path& p, LiveMask m) {
    clear_written(m, p.written);
    for (int node = p.anchor; node >= 0;) {
      CachedState& c = nodes_[static_cast<std::size_t>(node)];
      bool left = false;
      for (std::size_t f = 0; f < max_call_frames; ++f) {
        // Marked already: it went up from here before.
        m.regs[f] = static_cast<std::uint16_t>(m.regs[f] & ~c.read.regs[f]);
        m.stack[f] &= ~c.read.stack[f];
        m.stack_values[f] &= ~c.read.stack_values[f];
        c.read.regs[f] |= m.regs[f];
        c.read.stack[f] |= m.stack[f];
        c.read.stack_values[f] |= m.stack_values[f];
        left = left || m.regs[f] != 0 || m.stack[f] != 0 || m.stack_values[f] != 0;
      }
      if (!left) return;
      clear_written(m, c.written);
      node = c.parent;
    }
  }

  // The reads and writes of the instruction `d` about to run on `p` (read_marks.hpp).
  void note_access(Path& p, const DecodedInsn& d, const HistoryEntry& e) {
    const InsnAccess a = insn_access(
        d, e, p.state,
        d.row->shape == Shape::CallHelper ? helper_prototype(options_, d.insn.imm) : nullptr);
    const std::size_t depth = p.state.depth();
    if (depth >= max_call_frames) return;
    LiveMask m;
    m.regs[depth] = a.use;
    for (std::size_t i = 0; i < a.read_count; ++i) {
      const StackRead& r = a.reads[i];
      if (r.frame >= max_call_frames) continue;
      m.stack[r.frame] |= r.slots;
      if (r.values) m.stack_values[r.frame] |= r.slots;
    }
    mark_read(p, m);
    record_writes(a, depth, p.written);
  }

  // Explores one path until it ends; pushes the other edge of every two-way branch.
  // False when the program is rejected.
  bool follow(Path& p, std::vector<Path>& work) {
    const StepContext ctx{program_, options_, &access_kinds_};
    for (;;) {
      if (cfg_.prune_point[p.pc]) {
        bool pruned = false;
        const LiveMask live = live_mask(liveness_, p.state, p.pc);
        const Summary summary(p.state);
        const std::uint16_t live_regs =
            live.regs[std::min(p.state.frames.size(), max_call_frames) - 1];
        const std::uint64_t live_stack =
            live.stack[std::min(p.state.frames.size(), max_call_frames) - 1];
        const std::uint64_t live_values =
            live.stack_values[std::min(p.state.frames.size(), max_call_frames) - 1];
        const bool callback_call = calls_callback(options_, program_[p.pc]);
        if (callback_call)
          for (int id : cache_[p.pc])
            if (nodes_[static_cast<std::size_t>(id)].branches > 0)
              widen_scalars(nodes_[static_cast<std::size_t>(id)].state, p.state);
        // A new state is cached only after 2 jumps and 8 instructions since the last one,
        // as Linux (add_new_state in is_state_visited), and always at a callback call, whose
        // iterations end on a state cached there.
        const bool worth =
            callback_call || (jumps_ - jumps_at_last_state_ >= 2 &&
                              result_.stats.insns_processed - insns_at_last_state_ >= 8);
        std::vector<int>& list = cache_[p.pc];
        // Newest first (Linux's explored_state list): the states of the latest paths are the
        // likeliest to include this one.
        for (std::size_t i = list.size(); i-- > 0;) {
          CachedState& c = nodes_[static_cast<std::size_t>(list[i])];
          if (c.branches > 0) {
            // At a callback call, a state inside one still in progress is a fixed point of
            // the callback's iterations: its successors are that state's (callbacks.hpp).
            // Its precision marks are not final yet: compare every scalar, and make every
            // scalar of this path precise (Linux: RANGE_WITHIN for loop states).
            if (callback_call &&
                Summary::may_include(c.summary, summary, live_regs, live_stack, live_values, 0x7ff,
                                     ~std::uint64_t{0}) &&
                includes(c.state, p.state, live)) {
              mark_all_precise(p.anchor);
              pruned = true;
              break;
            }
            if (c.summary == summary && same_registers(c.state, p.state) && c.state == p.state) {
              fail(p.pc, fmt::format("infinite loop detected at insn {}", p.pc), "");
              return false;
            }
            continue;
          }
          // What some path may read (static) and what c's paths did read (its marks).
          LiveMask both = live;
          if (read_marks_)
            for (std::size_t f = 0; f < max_call_frames; ++f) {
              both.regs[f] = static_cast<std::uint16_t>((both.regs[f] & c.read.regs[f]) |
                                                        (1u << frame_pointer));
              both.stack[f] &= c.read.stack[f];
              both.stack_values[f] &= c.read.stack_values[f];
            }
          const std::size_t top = std::min(p.state.frames.size(), max_call_frames) - 1;
          if (Summary::may_include(c.summary, summary, both.regs[top], both.stack[top],
                                   both.stack_values[top], c.precise.regs[top],
                                   c.precise.slots[top]) &&
              includes(c.state, p.state, both, &c.precise)) {
            // This path goes on as `c`'s did: what `c`'s paths needed precise, this one
            // needs too (Linux: propagate_precision).
            Precision needed;
            for (std::size_t f = 0; f < max_call_frames; ++f) {
              needed.regs[f] = static_cast<std::uint16_t>(c.precise.regs[f] & live.regs[f]);
              needed.slots[f] = c.precise.slots[f] & live.stack[f];
            }
            mark_precise(p, needed);
            // And it reads what c's paths read (Linux: propagate_liveness).
            if (read_marks_) mark_read(p, c.read);
            ++c.hits;
            pruned = true;
            break;
          }
          // A state that keeps failing to include new ones costs a comparison each time for
          // nothing: it leaves the list (Linux: miss_cnt > hit_cnt * 3 + 3 in
          // is_state_visited). It stays in the chain of checkpoints for precision marks. A
          // miss counts only where this path's state will be cached in its place (Linux: "when
          // new state is not going to be added do not increase miss count"): otherwise a run
          // of paths through a stretch without jumps would evict the states of earlier
          // paths and leave nothing to prune the next ones against.
          if (worth) ++c.misses;
          if (c.misses > c.hits * 3 + 3) {
            c.state = VerifierState{};
            list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
            --cache_size_;
          }
        }
        if (pruned) {
          ++result_.stats.states_pruned;
          if (options_.log) result_.log += fmt::format("{}: safe\n", p.pc);
          finish(p.anchor, p.state);
          return true;
        }
        if (worth && cache_[p.pc].size() < options_.max_states_per_insn &&
            cache_size_ < options_.max_states) {
          checkpoint(p, summary, true);
          jumps_at_last_state_ = jumps_;
          insns_at_last_state_ = result_.stats.insns_processed;
        }
      }
      if (p.history.size() >= max_history) checkpoint(p, Summary(p.state), false);
      if (++result_.stats.insns_processed > options_.budget) {
        fail(p.pc, fmt::format("BPF program is too large. Processed {} insn", options_.budget), "");
        return false;
      }
      const std::size_t at = p.pc;
      const DecodedInsn& d = program_[at];
      HistoryEntry entry = history_entry(options_, d, at, p.state);
      if (d.row->shape == Shape::JmpImm || d.row->shape == Shape::JmpReg) {
        // The scalars a branch refines together (sync_id in the step).
        const auto& regs = p.state.current().regs;
        const RegValue& a = regs[d.insn.dst];
        const std::uint32_t ida = a.is_scalar() ? a.id : 0;
        std::uint32_t idb = 0;
        if (d.row->shape == Shape::JmpReg && regs[d.insn.src].is_scalar())
          idb = regs[d.insn.src].id;
        if (ida != 0 || idb != 0) {
          Precision places = linked_places(p.state, ida, idb);
          int count = 0;
          for (std::size_t f = 0; f < max_call_frames; ++f)
            count += std::popcount(places.regs[f]) + std::popcount(places.slots[f]);
          // One place alone (the operand itself) links nothing.
          if (count > 1) {
            linked_.push_back(places);
            entry.linked = static_cast<std::uint32_t>(linked_.size());
          }
        }
      }
      if (read_marks_) note_access(p, d, entry);
      // What the instruction relies on, from the state before it (a decided jump is known
      // only after the step: the operands are kept for it).
      const bool jump = d.row->shape == Shape::JmpImm || d.row->shape == Shape::JmpReg;
      const std::uint16_t demanded = demanded_registers(options_, d, p.state, false);
      const std::uint16_t demanded_if_decided =
          jump ? demanded_registers(options_, d, p.state, true) : 0;
      const std::size_t depth = p.state.depth();
      switch (d.row->shape) {
        case Shape::Ja:
        case Shape::Ja32:
        case Shape::JmpImm:
        case Shape::JmpReg:
        case Shape::CallHelper:
        case Shape::CallLocal:
        case Shape::Exit: ++jumps_; break;
        default: break;
      }
      StepResult r = step(ctx, p.pc, p.state);
      result_.stats.max_stack_depth = std::max(result_.stats.max_stack_depth, r.ended_frame_depth);
      if (r.error) {
        fail(at, std::move(*r.error), std::move(r.registers));
        return false;
      }
      if (options_.log)
        result_.log += fmt::format("{}: {} ; {}\n", at, disassemble_insn(insns_, at, Syntax::llvm),
                                   to_string(p.state));
      {
        Precision needed;
        needed.regs[depth] = jump && !r.fork ? demanded_if_decided : demanded;
        mark_precise(p, needed);
      }
      p.history.push_back(entry);
      if (r.finished) {
        finish(p.anchor, p.state);
        return true;
      }
      if (r.fork) {
        if (p.anchor >= 0) ++nodes_[static_cast<std::size_t>(p.anchor)].branches;
        work.push_back({r.fork->first, std::move(r.fork->second), p.anchor, p.history, p.written});
      }
    }
  }

  std::span<const Insn> insns_;
  const std::vector<DecodedInsn>& program_;
  const Cfg& cfg_;
  const VerifyOptions& options_;
  VerifyResult& result_;
  Liveness liveness_;
  bool read_marks_;  // false in programs with callbacks (read_marks.hpp)
  std::vector<CachedState> nodes_;
  std::vector<Precision> linked_;  // HistoryEntry::linked
  std::vector<std::vector<int>> cache_;
  std::size_t cache_size_ = 0;  // states listed in cache_
  // Jumps processed, and the counts when the last state was cached (add_new_state).
  std::uint64_t jumps_ = 0;
  std::uint64_t jumps_at_last_state_ = 0;
  std::uint64_t insns_at_last_state_ = 0;
  AccessKinds access_kinds_;
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
  if (auto e = check_program_type(options)) {
    result.error = VerifyError{0, "", *e, ""};
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
