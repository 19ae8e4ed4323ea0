// The branch-free compiler (branch_free.hpp): the plan (branch_free_plan.hpp: liveness, the
// jumps that must restore values, where flags live, the frame), then one pass emitting
// straight-line x86-64 through asmjit.
//
// Machine state (System V; a leaf, so its frame may sit in the red zone):
//   rdi  data          rsi  caplen (64-bit)      eax  A        r8d  X
//   r9d  the current instruction's "reached" flag (0 or 1)     r10d the result
//   ecx, edx, r11  scratch
//   r15d 0, for cmov; rbx, rbp, r12-r14 the or-ed flags of jumps to a target, while free
// and a frame, in the red zone below rsp when it fits (offsets from the frame's base):
//   [0 .. 63]  M[0..15]      [64] the slot out-of-bounds indirect loads read
//   [72]       the wire length
//   [76 ...]   per jump target without a register, the flags of the jumps to it (or-ed
//              together); per jump that needs a merge, its flag and the values it saves
#include "classic/branch_free.hpp"

#include "classic/assemble.hpp"
#include "classic/branch_free_dispatch.hpp"
#include "classic/branch_free_plan.hpp"

#include "classic/code.hpp"

#include <asmjit/x86.h>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <vector>

namespace bpfvm::classic::detail {
namespace {

namespace x86 = asmjit::x86;
using CC = x86::CondCode;

constexpr std::uint32_t swap32(std::uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

// Always 0: what cmov writes into a flag whose condition failed.
const x86::Gp zero = x86::r15d;

// System V: a leaf function may use the 128 bytes below rsp without moving it.
constexpr std::int32_t red_zone = 128;

// Pending flags live in these (callee-saved) registers, by BranchFreePlan::pending_register.
const x86::Gp pending_registers[pending_register_count] = {x86::ebx, x86::ebp, x86::r12d, x86::r13d,
                                                           x86::r14d};

class Compiler {
 public:
  Compiler(const Program& program, const BranchFreePlan& plan, x86::Assembler& a)
      : insns_(program.insns()),
        steps_(program.code().steps),
        a_(a),
        rejects_(plan.rejects),
        live_in_(plan.live_in),
        a_load_(plan.a_load),
        pending_register_(plan.pending_register),
        pending_slot_(plan.pending_slot),
        incoming_(plan.incoming),
        edges_(plan.edges),
        edge_of_(plan.edge_of),
        min_caplen_(plan.min_caplen),
        reads_wire_length_(plan.reads_wire_length),
        reads_ancillary_(plan.reads_ancillary),
        used_registers_(plan.used_registers),
        frame_(plan.frame) {}

  // The whole program, from instruction 0; `end` is bound where the code a packet runs ends
  // (the code of a bail-out follows, see checked_load()).
  void emit(const asmjit::Label& end) { emit_body(0, &end); }

  // The dispatch's tests as real branches, then per exit a return or the branch-free code of
  // the part of the program reachable from it. `exits[e]` is bound where exit e's code
  // starts, `ends[e]` where it ends (for the cost model).
  void emit_dispatched(const BranchFreeDispatch& dispatch, std::vector<asmjit::Label>& exits,
                       std::vector<asmjit::Label>& ends) {
    std::vector<asmjit::Label> tests(steps_.size());
    for (std::uint32_t t : dispatch.tests) tests[t] = a_.newLabel();
    exits.clear();
    ends.clear();
    for (std::size_t e = 0; e < dispatch.exits.size(); ++e) {
      exits.push_back(a_.newLabel());
      ends.push_back(a_.newLabel());
    }
    auto target = [&](std::uint32_t t) {
      if (dispatch.in_prefix[t]) return tests[t];
      auto at = std::lower_bound(dispatch.exits.begin(), dispatch.exits.end(), t);
      return exits[static_cast<std::size_t>(at - dispatch.exits.begin())];
    };
    // Only eax and the flags until an exit: the callee-saved registers are pushed by the code
    // an exit runs, so a packet the dispatch rejects costs a load and a few compares.
    load(x86::eax, x86::ptr(x86::rdi, static_cast<std::int32_t>(dispatch.load_k)),
         dispatch.load_size);
    for (std::size_t j = 0; j < dispatch.tests.size(); ++j) {
      const std::uint32_t t = dispatch.tests[j];
      a_.bind(tests[t]);
      CC cc = compare(steps_[t], insns_[t].k);
      a_.j(cc, target(steps_[t].jt));
      const bool next_is_false =
          j + 1 < dispatch.tests.size() && dispatch.tests[j + 1] == steps_[t].jf;
      if (!next_is_false) a_.jmp(target(steps_[t].jf));
    }
    for (std::size_t e = 0; e < dispatch.exits.size(); ++e) {
      const std::uint32_t t = dispatch.exits[e];
      a_.bind(exits[e]);
      if (steps_[t].op == Exec::RET_K) {
        finish_with(insns_[t].k);
      } else if (steps_[t].op == Exec::RET_A) {
        finish();  // A is in eax
      } else if (in_loop_) {
        emit_core(t, reachable_from(t));
        finish();
      } else {
        emit_body(t, &ends[e]);  // binds ends[e] before the code of a bail-out
        continue;
      }
      a_.bind(ends[e]);
    }
  }

  // The batch loop (BranchFreeFilter::Loop): the straight-line code, or with `dispatch` the
  // dispatched code, run on each packet descriptor from rdi up to rsi, its verdict stored at
  // rdx and on; the headers of the packet `ahead` places on are prefetched while it is below
  // rcx. Stops at the end or at the first packet the code does not take (shorter than
  // min_caplen, or with ancillary values when the program loads them), returning its address.
  // r13 holds the descriptor, r14 where its verdict goes: the plan leaves them free.
  void emit_loop(const PacketLayout& layout, std::size_t ahead, const BranchFreeDispatch* dispatch,
                 bool branchy = false) {
    in_loop_ = true;
    next_ = a_.newLabel();
    if (branchy) frame_ = branchy_frame;
    const std::int32_t end_slot = frame_, prefetch_slot = frame_ + 8;
    frame_ += 16;
    // Every callee-saved register any part uses, pushed once for the whole batch.
    saved_registers_.assign(1, zero.r64());
    for (std::size_t r = 0; r < pending_register_count; ++r)
      if ((used_registers_ & (1u << r)) != 0)
        saved_registers_.push_back(pending_registers[r].r64());
    saved_registers_.push_back(x86::r13);
    saved_registers_.push_back(x86::r14);
    for (const x86::Gp& reg : saved_registers_) a_.push(reg);
    if (frame_ > red_zone) a_.sub(x86::rsp, frame_);
    a_.mov(x86::r13, x86::rdi);
    a_.mov(x86::r14, x86::rdx);
    a_.mov(qword_slot(end_slot), x86::rsi);
    a_.mov(qword_slot(prefetch_slot), x86::rcx);
    a_.xor_(zero, zero);
    loop_top_ = a_.newLabel(), loop_done_ = a_.newLabel();
    loop_stride_ = layout.stride, loop_end_slot_ = end_slot;
    const asmjit::Label loop = loop_top_, done = loop_done_, no_prefetch = a_.newLabel();
    a_.cmp(x86::r13, x86::rsi);
    a_.jae(done);
    a_.align(asmjit::AlignMode::kCode, 16);
    a_.bind(loop);
    a_.mov(x86::rdi, x86::qword_ptr(x86::r13, layout.data));
    a_.mov(x86::rsi, x86::qword_ptr(x86::r13, layout.size));
    // Well predicted: packets the code does not take are rare (the caller runs them).
    if (min_caplen_ > 0) {
      a_.cmp(x86::rsi, static_cast<std::int32_t>(min_caplen_));
      a_.jb(done);
    }
    if (reads_ancillary_) {
      a_.cmp(x86::qword_ptr(x86::r13, layout.ancillary), 0);
      a_.jne(done);
    }
    // The headers of the packet `ahead` on (a prefetch never faults, even past a short
    // packet). On a capture larger than the caches the loop is bound by the lines it brings
    // in: the straight-line code reads every absolute offset, so it prefetches from byte 0 to
    // the furthest one (two lines when the headers straddle them); the dispatched and branchy
    // forms read beyond their first load only on the paths that need it, so they prefetch only
    // that load's bytes and leave the rest to demand (measured on the bench's 20,000 packets,
    // `vlan 101 and ...` branchy: 4.8 ns per packet against 6.1 ns with both lines).
    a_.cmp(x86::r13, qword_slot(prefetch_slot));
    a_.jae(no_prefetch);
    a_.mov(x86::rdx, x86::qword_ptr(
                         x86::r13, static_cast<std::int32_t>(ahead) * layout.stride + layout.data));
    // (Indirect loads read past min_caplen, typically the transport header: then the whole
    // first 64 bytes.)
    const bool indirect = std::any_of(steps_.begin(), steps_.end(), [](const Step& step) {
      return step.op == Exec::LD_W_IND || step.op == Exec::LD_H_IND || step.op == Exec::LD_B_IND;
    });
    std::int64_t from = 0,
                 to = indirect
                          ? 64
                          : static_cast<std::int64_t>(std::min<std::uint64_t>(min_caplen_, 64));
    if ((branchy || dispatch != nullptr) && absolute_size(steps_[0].op) != 0) {
      from = insns_[0].k;
      to = from + absolute_size(steps_[0].op);
    }
    a_.prefetcht0(x86::ptr(x86::rdx, static_cast<std::int32_t>(from)));
    if (to - 1 > from) a_.prefetcht0(x86::ptr(x86::rdx, static_cast<std::int32_t>(to - 1)));
    a_.bind(no_prefetch);
    if (reads_wire_length_) {
      a_.mov(x86::edx, x86::dword_ptr(x86::r13, layout.wire));
      a_.mov(slot(wire_slot), x86::edx);
    }
    if (branchy) {
      emit_branchy_core();
    } else if (dispatch != nullptr) {
      std::vector<asmjit::Label> exits, ends;
      emit_dispatched(*dispatch, exits, ends);
    } else {
      emit_core(0, reachable_from(0));
    }
    a_.bind(next_);
    a_.mov(x86::dword_ptr(x86::r14), x86::eax);
    a_.add(x86::r13, layout.stride);
    a_.add(x86::r14, 4);
    a_.cmp(x86::r13, qword_slot(end_slot));
    a_.jb(loop);
    a_.bind(done);
    a_.mov(x86::rax, x86::r13);
    if (frame_ > red_zone) a_.add(x86::rsp, frame_);
    for (auto reg = saved_registers_.rbegin(); reg != saved_registers_.rend(); ++reg) a_.pop(*reg);
    a_.ret();
    emit_bail_out(nullptr);
  }

 private:
  // Where target t's pending flags are: a register, or its stack slot.
  asmjit::Operand pending(std::size_t t) const {
    if (pending_register_[t] >= 0) return pending_registers[pending_register_[t]];
    return slot(pending_slot_[t]);
  }

  x86::Mem slot(std::int32_t offset) const {
    return x86::dword_ptr(x86::rsp, frame_ > red_zone ? offset : offset - frame_);
  }
  x86::Mem qword_slot(std::int32_t offset) const {
    return x86::qword_ptr(x86::rsp, frame_ > red_zone ? offset : offset - frame_);
  }

  // A packet's code is done, its verdict in eax. In the batch loop each return ends in its own
  // copy of the loop's tail (store, next descriptor, back to the top): one taken jump per
  // packet less than a jump to a shared tail, which the branchy form's short paths notice.
  void finish() {
    if (in_loop_)
      emit_loop_tail(nullptr);
    else if (epilogue_)
      a_.jmp(*epilogue_);
    else
      a_.ret();
  }
  // The same with the verdict `k`, a constant.
  void finish_with(std::uint32_t k) {
    if (in_loop_) return emit_loop_tail(&k);
    if (k == 0)
      a_.xor_(x86::eax, x86::eax);
    else
      a_.mov(x86::eax, k);
    finish();
  }
  // The verdict (eax, or `k` when not null) stored, then on to the next descriptor: back to the
  // loop's top while there is one, else out.
  void emit_loop_tail(const std::uint32_t* k) {
    if (k != nullptr)
      a_.mov(x86::dword_ptr(x86::r14), *k);
    else
      a_.mov(x86::dword_ptr(x86::r14), x86::eax);
    a_.add(x86::r13, loop_stride_);
    a_.add(x86::r14, 4);
    a_.cmp(x86::r13, qword_slot(loop_end_slot_));
    a_.jb(loop_top_);
    a_.jmp(loop_done_);
  }

  // The register holding value `bit` (A or X), or the scratch word's slot.
  void save_value(int bit, std::int32_t to) {
    if (bit == 0) {
      a_.mov(slot(to), x86::eax);
    } else if (bit == 1) {
      a_.mov(slot(to), x86::r8d);
    } else {
      a_.mov(x86::r11d, slot(scratch_slot(static_cast<std::uint32_t>(bit - 2))));
      a_.mov(slot(to), x86::r11d);
    }
  }

  // The jump i -> t was taken when `flag` (a register holding 0 or 1) is 1.
  void take_edge(std::size_t i, std::uint32_t t, const x86::Gp& flag) {
    if (t == i + 1) {
      if (flag != x86::r9d) a_.mov(x86::r9d, flag);
      falls_through_ = true;
      return;
    }
    if (rejects_[t]) return;
    const BranchFreeEdge& edge = edges_[edge_of_.at({static_cast<std::uint32_t>(i), t})];
    if (!pending_written_[t]) {
      if (!(pending(t).isReg() && pending(t).as<x86::Gp>() == flag))
        a_.emit(x86::Inst::kIdMov, pending(t), flag);
      pending_written_[t] = true;
    } else {
      a_.emit(x86::Inst::kIdOr, pending(t), flag);
    }
    if (edge.merged == 0) return;
    edge_written_[edge_of_.at({static_cast<std::uint32_t>(i), t})] = true;
    a_.mov(slot(edge.flag), flag);
    for (int bit = 0; bit < 2 + static_cast<int>(scratch_words); ++bit)
      if ((edge.merged & (1u << bit)) != 0) save_value(bit, edge.saved[bit]);
  }

  // r9d = whether instruction i is reached; restores the values a taken jump saved.
  void enter(std::size_t i) {
    bool from_previous = falls_through_;
    falls_through_ = true;  // unless the instruction says otherwise
    if (i == entry_) {
      a_.mov(x86::r9d, 1);
      return;
    }
    // A target whose jumps all lie outside the code emitted (before a dispatched entry) is
    // reached only by falling through.
    if (pending_slot_[i] >= 0 && pending_written_[i]) {
      if (from_previous)
        a_.emit(x86::Inst::kIdOr, x86::r9d, pending(i));
      else
        a_.emit(x86::Inst::kIdMov, x86::r9d, pending(i));
    } else if (!from_previous) {
      a_.xor_(x86::r9d, x86::r9d);  // unreachable: its code runs, its flag stays 0
    }
    for (std::size_t e : incoming_[i]) {
      const BranchFreeEdge& edge = edges_[e];
      if (edge.merged == 0 || !edge_written_[e]) continue;
      a_.cmp(slot(edge.flag), 0);
      for (int bit = 0; bit < 2 + static_cast<int>(scratch_words); ++bit) {
        if ((edge.merged & (1u << bit)) == 0) continue;
        if (bit == 0) {
          a_.cmov(CC::kNE, x86::eax, slot(edge.saved[bit]));
        } else if (bit == 1) {
          a_.cmov(CC::kNE, x86::r8d, slot(edge.saved[bit]));
          x_msh_.reset();
          x_checked_end_ = 0;
        } else {
          std::int32_t m = scratch_slot(static_cast<std::uint32_t>(bit - 2));
          a_.mov(x86::r11d, slot(m));
          a_.cmov(CC::kNE, x86::r11d, slot(edge.saved[bit]));
          a_.mov(slot(m), x86::r11d);
        }
      }
    }
    // A known to be a packet load on every path here, and eax may not hold it (a jump brought
    // the flag, or a fused comparison read A from memory): let this instruction's comparison
    // read it from the packet, or read it again.
    if (a_load_[i] >= 0 && (live_in_[i] & value_a) != 0 && (pending_slot_[i] >= 0 || a_stale_)) {
      const auto k = static_cast<std::int32_t>(a_load_[i] / 8);
      const int size = static_cast<int>(a_load_[i] % 8);
      if (fusable_with(i, size)) {
        fused_operand_ = x86::ptr(x86::rdi, k), fused_width_ = size;
        a_stale_ = true;
      } else {
        // Only when this instruction is reached: on other paths eax holds their A, which
        // instructions after this one may read (every instruction runs).
        load(x86::ecx, x86::ptr(x86::rdi, k), size);
        a_.test(x86::r9d, x86::r9d);
        a_.cmov(CC::kNE, x86::eax, x86::ecx);
        a_stale_ = false;
      }
    }
  }

  // dst = the big-endian value of `size` bytes at `at`.
  void load(const x86::Gp& dst, x86::Mem at, int size) {
    if (size == 4) {
      at.setSize(4);
      a_.mov(dst, at);
      a_.bswap(dst);
    } else if (size == 2) {
      at.setSize(2);
      a_.movzx(dst, at);
      a_.bswap(dst);
      a_.shr(dst, 16);
    } else {
      at.setSize(1);
      a_.movzx(dst, at);
    }
  }

  // A = [X + k] (or [k] when not indexed), size bytes, X + k + size compared with caplen
  // without 32-bit wrap; out of bounds reads the packet's first bytes (or the safe slot) and
  // clears the flag.
  // Leaves the address in rdx when a fused comparison reads it (see fusable()).
  //
  // An indexed load of instruction i is not checked by itself when it can be: the first one
  // after X changes compares X + the furthest end of every indexed load until X changes again
  // (every instruction runs, in order, so all of them run with this X) with the captured
  // length once, and branches out to the branchy code for the whole packet when that is
  // beyond it (a branch the predictor gets right: packets whose headers end past their capture
  // are rare); the loads then read [data + X + k] directly. Five instructions per load less
  // (two lea, cmp, two cmov) for one lea and a fused cmp-and-branch per X.
  void checked_load(std::size_t i, bool indexed, std::uint32_t k, int size, bool fused) {
    const x86::Gp address = fused ? x86::rdx : x86::rcx, other = fused ? x86::rcx : x86::rdx;
    const std::uint64_t end = std::uint64_t{k} + static_cast<std::uint64_t>(size);
    if (indexed && end <= max_indexed_end && min_caplen_ >= 4) {
      if (x_checked_end_ < end) {
        const std::uint64_t furthest = indexed_reach(i);
        if (!bail_out_) bail_out_ = a_.newLabel();
        a_.lea(other, x86::ptr(x86::r8, static_cast<std::int32_t>(furthest)));
        a_.cmp(other, x86::rsi);
        a_.ja(*bail_out_);
        x_checked_end_ = furthest;
      }
      const x86::Mem at = x86::ptr(x86::rdi, x86::r8, 0, static_cast<std::int32_t>(k));
      if (fused)
        fused_operand_ = at, fused_width_ = size, a_stale_ = true;
      else
        load(x86::eax, at, size);
      return;
    }
    if (indexed && end <= max_indexed_end && min_caplen_ >= 4) {
      // The short form: r8 holds X zero-extended (every write to it is a 32-bit one), so
      // X + k + size and data + X + k are one lea each; out of bounds reads the packet's first
      // bytes, which exist (min_caplen >= 4), instead.
      a_.lea(other, x86::ptr(x86::r8, static_cast<std::int32_t>(end)));
      a_.lea(address, x86::ptr(x86::rdi, x86::r8, 0, static_cast<std::int32_t>(k)));
      a_.cmp(other, x86::rsi);
      a_.cmov(CC::kA, address, x86::rdi);
      a_.cmov(CC::kA, x86::r9d, zero);
      if (fused)
        fused_operand_ = x86::ptr(address), fused_width_ = size, a_stale_ = true;
      else
        load(x86::eax, x86::ptr(address), size);
      return;
    }
    if (indexed)
      a_.mov(address.r32(), x86::r8d);
    else
      a_.xor_(address.r32(), address.r32());
    if (k <= static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max())) {
      a_.add(address, static_cast<std::int32_t>(k));
    } else {
      a_.mov(other.r32(), k);
      a_.add(address, other);
    }
    a_.lea(other, x86::ptr(address, size));
    a_.add(address, x86::rdi);
    a_.cmp(other, x86::rsi);
    a_.lea(other, x86::ptr(x86::rsp, slot(safe_slot).offsetLo32()));
    a_.cmov(CC::kA, address, other);
    a_.cmov(CC::kA, x86::r9d, zero);
    if (fused)
      fused_operand_ = x86::ptr(address), fused_width_ = size, a_stale_ = true;
    else
      load(x86::eax, x86::ptr(address), size);
  }

  static constexpr std::uint64_t max_indexed_end =
      static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max());

  // The furthest end (k + size) of the indexed loads the straight-line code runs from
  // instruction i with the X it has there: up to the next instruction that writes X or a join
  // that restores it.
  std::uint64_t indexed_reach(std::size_t i) const {
    std::uint64_t furthest = 0;
    for (std::size_t j = i; j < steps_.size(); ++j) {
      if (rejects_[j] || !(*reachable_)[j]) continue;  // not emitted
      if (j > i) {
        bool restores_x = false;
        for (std::size_t e : incoming_[j]) restores_x |= (edges_[e].merged & value_x) != 0;
        if (restores_x) break;
      }
      const Exec op = steps_[j].op;
      if (op == Exec::LD_W_IND || op == Exec::LD_H_IND || op == Exec::LD_B_IND) {
        const std::uint64_t end = std::uint64_t{steps_[j].k} + load_width(op);
        if (end <= max_indexed_end) furthest = std::max(furthest, end);
      }
      if ((defined_values(steps_[j]) & value_x) != 0) break;
    }
    return furthest;
  }

  // A = A / X or A % X; X = 0 divides by 1 and clears the flag (the packet is rejected).
  void divide_by_x(bool modulo) {
    a_.mov(x86::ecx, 1);
    a_.test(x86::r8d, x86::r8d);
    a_.cmov(CC::kNE, x86::ecx, x86::r8d);
    a_.cmov(CC::kE, x86::r9d, zero);
    a_.xor_(x86::edx, x86::edx);
    a_.div(x86::edx, x86::eax, x86::ecx);
    if (modulo) a_.mov(x86::eax, x86::edx);
  }

  void divide_by_k(std::uint32_t k, bool modulo) {
    a_.xor_(x86::edx, x86::edx);
    a_.mov(x86::ecx, k);
    a_.div(x86::edx, x86::eax, x86::ecx);
    if (modulo) a_.mov(x86::eax, x86::edx);
  }

  // Shifts by X: X >= 32 gives 0, as libpcap (x86 would use X mod 32).
  void shift_by_x(bool left) {
    a_.mov(x86::ecx, x86::r8d);
    if (left)
      a_.shl(x86::eax, x86::cl);
    else
      a_.shr(x86::eax, x86::cl);
    a_.xor_(x86::edx, x86::edx);
    a_.cmp(x86::r8d, 32);
    a_.cmov(CC::kAE, x86::eax, x86::edx);
  }

  static CC negate(CC cc) {
    switch (cc) {
      case CC::kE: return CC::kNE;
      case CC::kNE: return CC::kE;
      case CC::kA: return CC::kBE;
      case CC::kBE: return CC::kA;
      case CC::kAE: return CC::kB;
      default: return CC::kAE;  // kB
    }
  }

  // `k`'s low `width` bytes (2 or 4) in the opposite byte order.
  static std::uint32_t swap_to(int width, std::uint32_t k) {
    return width == 4 ? swap32(k) : ((k & 0xff) << 8) | ((k >> 8) & 0xff);
  }

  // Sets the flags for the jump's comparison; returns the condition code meaning "true". A
  // fused comparison reads the loaded value from memory, with the constant in the packet's
  // byte order (equality and bit tests do not care about byte order).
  CC compare(const Step& step, std::uint32_t k) {
    auto imm = static_cast<std::int32_t>(k);
    if (fused_operand_) {
      x86::Mem at = *fused_operand_;
      fused_operand_.reset();
      if (fused_k_) k = *fused_k_, fused_k_.reset();  // a masked comparison's top bytes
      at.setSize(static_cast<std::uint32_t>(fused_width_));
      std::uint32_t raw = fused_width_ == 4   ? swap32(k)
                          : fused_width_ == 2 ? ((k & 0xff) << 8) | ((k >> 8) & 0xff)
                                              : (k & 0xff);
      if (step.op == Exec::JEQ_K) {
        a_.cmp(at, static_cast<std::int32_t>(raw));
        return CC::kE;
      }
      a_.test(at, static_cast<std::int32_t>(raw));
      return CC::kNE;
    }
    if (packet_order_ != 0) {
      // A holds the loaded bytes in the packet's order: compare with the constant swapped. A
      // jeq constant wider than the load never matches, and never does unswapped either.
      const bool fits = packet_order_ == 4 || k < (1u << (8 * packet_order_));
      const auto raw = static_cast<std::int32_t>(swap_to(packet_order_, k));
      if (step.op == Exec::JEQ_K) {
        a_.cmp(x86::eax, fits ? raw : imm);
        return CC::kE;
      }
      a_.test(x86::eax, raw);  // JSET_K (packet_order_a() allows no other jump)
      return CC::kNE;
    }
    switch (step.op) {
      case Exec::JEQ_K: a_.cmp(x86::eax, imm); return CC::kE;
      case Exec::JGT_K: a_.cmp(x86::eax, imm); return CC::kA;
      case Exec::JGE_K: a_.cmp(x86::eax, imm); return CC::kAE;
      case Exec::JSET_K: a_.test(x86::eax, imm); return CC::kNE;
      case Exec::JEQ_X: a_.cmp(x86::eax, x86::r8d); return CC::kE;
      case Exec::JGT_X: a_.cmp(x86::eax, x86::r8d); return CC::kA;
      case Exec::JGE_X: a_.cmp(x86::eax, x86::r8d); return CC::kAE;
      default: a_.test(x86::eax, x86::r8d); return CC::kNE;  // JSET_X
    }
  }

  // Whether instruction i - 1, a packet load, and i, a jeq or jset against a constant, can be
  // one comparison with memory: A is dead after the jump (so it need not be loaded), i is
  // reached from i - 1 only (no jump brings another A), and for jeq the constant fits in the
  // load's width (else it never matches, which the ordinary code gets right).
  bool fusable(std::size_t i) const {
    if (i == 0 || i >= steps_.size() || pending_slot_[i] >= 0) return false;
    return fusable_with(i, load_width(steps_[i - 1].op));
  }

  // `ld [k]; and #0xff000000 (or #0xffff0000); jeq #c` at i, i + 1, i + 2, as libpcap compiles
  // `net a.0.0.0/8` (and /16): one comparison of the top byte (or two) at k with c's, when the
  // and and the jeq are reached only from the load, A is dead after the jump, and c has no bit
  // outside the mask (else it never matches, which the ordinary code gets right). Returns the
  // width compared, else 0.
  int masked_fusable(std::size_t i) const {
    if (i + 2 >= steps_.size() || load_width(steps_[i].op) != 4 || !is_absolute(steps_[i].op))
      return 0;
    const Step& jump = steps_[i + 2];
    if (steps_[i + 1].op != Exec::AND_K || jump.op != Exec::JEQ_K || jump.jt == jump.jf) return 0;
    if (pending_slot_[i + 1] >= 0 || pending_slot_[i + 2] >= 0) return 0;
    const std::uint32_t mask = insns_[i + 1].k;
    const int width = mask == 0xff000000u ? 1 : mask == 0xffff0000u ? 2 : 0;
    if (width == 0 || (insns_[i + 2].k & ~mask) != 0) return 0;
    if (((live_in_[jump.jt] | live_in_[jump.jf]) & value_a) != 0) return 0;
    return width;
  }

  static bool is_absolute(Exec op) { return op == Exec::LD_W_ABS || op == Exec::LD_W_ABS_PROVEN; }

  // Whether instruction i, a jeq or jset against a constant, can compare a load of `size`
  // bytes (0: not a load) in memory instead of A.
  bool fusable_with(std::size_t i, int size) const {
    const Step& step = steps_[i];
    if (step.op != Exec::JEQ_K && step.op != Exec::JSET_K) return false;
    if (step.jt == step.jf) return false;
    // A must be dead after the jump, or read again from the packet where it goes.
    for (std::uint32_t s : {step.jt, step.jf})
      if ((live_in_[s] & value_a) != 0 && a_load_[s] < 0) return false;
    if (size == 0) return false;
    if (step.op == Exec::JEQ_K && size < 4 && insns_[i].k >= (1u << (8 * size))) return false;
    return true;
  }

  // The width of a packet load into A (absolute or indirect), else 0.
  static int load_width(Exec op) {
    switch (op) {
      case Exec::LD_W_ABS:
      case Exec::LD_W_ABS_PROVEN:
      case Exec::LD_W_IND: return 4;
      case Exec::LD_H_ABS:
      case Exec::LD_H_ABS_PROVEN:
      case Exec::LD_H_IND: return 2;
      case Exec::LD_B_ABS:
      case Exec::LD_B_ABS_PROVEN:
      case Exec::LD_B_IND: return 1;
      default: return 0;
    }
  }

  // `flag` = r9d if `cc` holds, else 0.
  void flag_if(const x86::Gp& flag, CC cc) {
    if (flag != x86::r9d) a_.mov(flag, x86::r9d);
    a_.cmov(negate(cc), flag, zero);
  }

  void conditional(std::size_t i, const Step& step, std::uint32_t k) {
    falls_through_ = false;
    if (step.jt == step.jf) return take_edge(i, step.jt, x86::r9d);
    bool keep_true = !rejects_[step.jt], keep_false = !rejects_[step.jf];
    if (!keep_true && !keep_false) {
      fused_operand_.reset();
      fused_k_.reset();
      return;
    }
    CC cc = compare(step, k);
    if (keep_true != keep_false) {  // one way leads to `ret #0`: only the other one matters
      std::uint32_t target = keep_true ? step.jt : step.jf;
      CC holds = keep_true ? cc : negate(cc);
      if (target == i + 1) {
        flag_if(x86::r9d, holds);
        falls_through_ = true;
        return;
      }
      x86::Gp flag = first_pending_register(target).value_or(x86::ecx);
      flag_if(flag, holds);
      return take_edge(i, target, flag);
    }
    if (step.jt == i + 1 || step.jf == i + 1) {
      // The other edge first, from r9d; then r9d itself becomes the next instruction's flag.
      bool next_is_true = step.jt == i + 1;
      std::uint32_t other = next_is_true ? step.jf : step.jt;
      CC other_holds = next_is_true ? negate(cc) : cc;
      x86::Gp flag = first_pending_register(other).value_or(x86::ecx);
      flag_if(flag, other_holds);
      // Before take_edge's `or` changes the flags; not needed on a way into the only accepting
      // return (see accepts_only()).
      if (!accepts_only(other)) a_.cmov(other_holds, x86::r9d, zero);
      take_edge(i, other, flag);
      falls_through_ = true;
      return;
    }
    if (accepts_only(step.jt) || accepts_only(step.jf)) {
      const bool to_true = accepts_only(step.jt);
      flag_if(x86::ecx, to_true ? cc : negate(cc));
      take_edge(i, to_true ? step.jt : step.jf, x86::ecx);
      take_edge(i, to_true ? step.jf : step.jt, x86::r9d);
      return;
    }
    flag_if(x86::ecx, cc);          // taken
    flag_if(x86::edx, negate(cc));  // not taken
    take_edge(i, step.jt, x86::ecx);
    take_edge(i, step.jf, x86::edx);
  }

  // Whether t is the only accepting return of the code being emitted (single_return_). A jump
  // into it then need not clear the flag of its other way: when the packet's path takes the
  // jump, the packet is accepted, and whatever the instructions after it then compute on
  // paths not taken (every load stays in bounds or is checked, every division is guarded)
  // can only add to that return's flag, never clear it or reach another return. One
  // instruction less per such jump (`port 80` has two).
  bool accepts_only(std::uint32_t t) const { return single_return_ && t == single_accept_; }

  // The register holding target t's flags, when the next write to it is the first one: a
  // jump's flag can then be computed there directly.
  std::optional<x86::Gp> first_pending_register(std::uint32_t t) const {
    if (rejects_[t] || pending_written_[t] || pending_register_[t] < 0) return std::nullopt;
    return pending_registers[pending_register_[t]];
  }

  // result |= reached ? value : 0.
  // (At most one `ret` is reached, so "result = value when reached" is the same.)
  void ret(const x86::Gp* value, std::uint32_t k) {
    falls_through_ = false;
    if (single_return_) {  // the only one, and the last instruction: eax = reached ? k : 0
      a_.imul(x86::eax, x86::r9d, static_cast<std::int32_t>(k));
      return;
    }
    if (value == nullptr) {
      a_.mov(x86::ecx, k);
      value = &x86::ecx;
    }
    a_.test(x86::r9d, x86::r9d);
    a_.cmov(CC::kNE, x86::r10d, *value);
  }

  void absolute_load(std::size_t i, std::int32_t k, int size) {
    if (const int width = masked_fusable(i); width != 0) {
      fused_operand_ = x86::ptr(x86::rdi, k), fused_width_ = width;
      fused_k_ = insns_[i + 2].k >> (32 - 8 * width);
      skip_ = i + 1;  // the and: the comparison masks by its width
      a_stale_ = true;
      return;
    }
    if (fusable(i + 1)) {
      fused_operand_ = x86::ptr(x86::rdi, k), fused_width_ = size;  // the jump compares memory
      a_stale_ = true;
    } else
      load(x86::eax, x86::ptr(x86::rdi, k), size);
  }

  void instruction(std::size_t i) {
    const bool stale = a_stale_;
    a_stale_ = false;
    const Exec op = steps_[i].op;
    // Every write to X but a header length r8d holds already (see LDX_B_MSH below).
    if ((defined_values(steps_[i]) & value_x) != 0 &&
        !((op == Exec::LDX_B_MSH || op == Exec::LDX_B_MSH_PROVEN) && x_msh_ &&
          *x_msh_ == insns_[i].k))
      x_checked_end_ = 0;
    emit_instruction(i);
    if ((defined_values(steps_[i]) & value_x) != 0 && op != Exec::LDX_B_MSH &&
        op != Exec::LDX_B_MSH_PROVEN)
      x_msh_.reset();
    // A fused load set a_stale_ again; an instruction that leaves A alone leaves it as it was.
    if (!a_stale_ && (defined_values(steps_[i]) & value_a) == 0) a_stale_ = stale;
  }

  void emit_instruction(std::size_t i) {
    const Step& step = steps_[i];
    const std::uint32_t k = insns_[i].k;
    const auto imm = static_cast<std::int32_t>(k);
    const x86::Mem m = slot(scratch_slot(k & 15));
    switch (step.op) {
      case Exec::LD_W_ABS:
      case Exec::LD_W_ABS_PROVEN: return absolute_load(i, imm, 4);
      case Exec::LD_H_ABS:
      case Exec::LD_H_ABS_PROVEN: return absolute_load(i, imm, 2);
      case Exec::LD_B_ABS:
      case Exec::LD_B_ABS_PROVEN: return absolute_load(i, imm, 1);
      case Exec::LD_W_IND: return checked_load(i, true, k, 4, fusable(i + 1));
      case Exec::LD_H_IND: return checked_load(i, true, k, 2, fusable(i + 1));
      case Exec::LD_B_IND: return checked_load(i, true, k, 1, fusable(i + 1));
      // Without ancillary values, an ordinary load that is out of bounds (the caller does not
      // run this code on packets with ancillary values, see reads_ancillary()).
      case Exec::LD_ANCILLARY: return checked_load(i, false, k, step.size, false);
      case Exec::LDX_B_MSH:
      case Exec::LDX_B_MSH_PROVEN:
        // r8d may hold this very value already: every instruction runs, so the last one that
        // wrote it wrote it on every path (the IPv4 header length, computed again by each
        // protocol's half of a filter).
        if (x_msh_ && *x_msh_ == k) return;
        load(x86::r8d, x86::ptr(x86::rdi, imm), 1);
        a_.and_(x86::r8d, 0xf);
        a_.shl(x86::r8d, 2);
        x_msh_ = k;
        return;
      case Exec::LD_W_LEN: a_.mov(x86::eax, slot(wire_slot)); return;
      case Exec::LDX_W_LEN: a_.mov(x86::r8d, slot(wire_slot)); return;
      case Exec::LD_IMM: a_.mov(x86::eax, k); return;
      case Exec::LDX_IMM: a_.mov(x86::r8d, k); return;
      case Exec::LD_MEM: a_.mov(x86::eax, m); return;
      case Exec::LDX_MEM: a_.mov(x86::r8d, m); return;
      case Exec::ST: a_.mov(m, x86::eax); return;
      case Exec::STX: a_.mov(m, x86::r8d); return;
      case Exec::ADD_K: a_.add(x86::eax, imm); return;
      case Exec::SUB_K: a_.sub(x86::eax, imm); return;
      case Exec::MUL_K: a_.imul(x86::eax, x86::eax, imm); return;
      case Exec::DIV_K: return divide_by_k(k, false);
      case Exec::MOD_K: return divide_by_k(k, true);
      case Exec::AND_K: a_.and_(x86::eax, imm); return;
      case Exec::OR_K: a_.or_(x86::eax, imm); return;
      case Exec::XOR_K: a_.xor_(x86::eax, imm); return;
      case Exec::LSH_K: a_.shl(x86::eax, static_cast<int>(step.k)); return;
      case Exec::RSH_K: a_.shr(x86::eax, static_cast<int>(step.k)); return;
      case Exec::ADD_X: a_.add(x86::eax, x86::r8d); return;
      case Exec::SUB_X: a_.sub(x86::eax, x86::r8d); return;
      case Exec::MUL_X: a_.imul(x86::eax, x86::r8d); return;
      case Exec::DIV_X: return divide_by_x(false);
      case Exec::MOD_X: return divide_by_x(true);
      case Exec::AND_X: a_.and_(x86::eax, x86::r8d); return;
      case Exec::OR_X: a_.or_(x86::eax, x86::r8d); return;
      case Exec::XOR_X: a_.xor_(x86::eax, x86::r8d); return;
      case Exec::LSH_X: return shift_by_x(true);
      case Exec::RSH_X: return shift_by_x(false);
      case Exec::NEG: a_.neg(x86::eax); return;
      case Exec::TAX: a_.mov(x86::r8d, x86::eax); return;
      case Exec::TXA: a_.mov(x86::eax, x86::r8d); return;
      case Exec::JA: falls_through_ = false; return take_edge(i, step.jt, x86::r9d);
      case Exec::JEQ_K:
      case Exec::JGT_K:
      case Exec::JGE_K:
      case Exec::JSET_K:
      case Exec::JEQ_X:
      case Exec::JGT_X:
      case Exec::JGE_X:
      case Exec::JSET_X: return conditional(i, step, k);
      case Exec::RET_K: return ret(nullptr, k);
      case Exec::RET_A: return ret(&x86::eax, 0);
      case Exec::JA_BACKWARD: return;  // refused by plan_branch_free()
    }
  }

 public:
  // The branchy form: the program as it is written, each jump a real branch, for traffic whose
  // branches the predictor gets right (docs/classic.md, "Three forms"). It runs on the same
  // packets as the branch-free code (at least min_caplen() bytes, so absolute loads need no
  // check), uses only caller-saved registers, and its frame (M[] and the wire length) always
  // fits in the red zone.
  static constexpr std::int32_t branchy_frame = (first_free_slot + 15) & ~15;

  // One packet's function: (data, caplen, wire length) -> verdict.
  void emit_branchy_function() {
    frame_ = branchy_frame;
    next_ = a_.newLabel();
    if (reads_wire_length_) a_.mov(slot(wire_slot), x86::edx);
    emit_branchy_core();
    a_.bind(next_);
    a_.ret();
  }

 private:
  // The program with branches; every return ends in finish() with the verdict in eax.
  void emit_branchy_core() {
    const std::size_t n = steps_.size();
    std::vector<asmjit::Label> labels(n);
    for (asmjit::Label& label : labels) label = a_.newLabel();
    const asmjit::Label reject = a_.newLabel();
    packet_order_a_ = packet_order_a(steps_, live_in_);
    if ((live_in_[0] & value_a) != 0) a_.xor_(x86::eax, x86::eax);
    // X starts at 0, and indexes with all of r8; when X is written before any read on every
    // path, every such write (32-bit) clears the upper half.
    if ((live_in_[0] & value_x) != 0) a_.xor_(x86::r8d, x86::r8d);
    for (std::uint32_t k = 0; k < scratch_words; ++k)
      if ((live_in_[0] & value_m(k)) != 0) a_.mov(slot(scratch_slot(k)), 0);
    fused_operand_.reset();
    fused_k_.reset();
    plan_folds();
    const std::vector<std::uint32_t> order = branchy_layout();
    for (std::size_t at = 0; at < n; ++at) {
      const std::size_t i = order[at];
      const std::size_t next = at + 1 < n ? order[at + 1] : n;
      layout_next_ = next;
      a_.bind(labels[i]);
      const Step& step = steps_[i];
      const std::uint32_t k = insns_[i].k;
      // A jump to the instruction laid out next is none.
      auto go = [&](std::uint32_t t) {
        if (t != next) a_.jmp(labels[t]);
      };
      // Instructions that go on to i + 1 (loads, arithmetic) when it is not next.
      const bool falls = !is_conditional(step.op) && step.op != Exec::JA &&
                         step.op != Exec::RET_K && step.op != Exec::RET_A;
      switch (step.op) {
        case Exec::LD_W_ABS:
        case Exec::LD_W_ABS_PROVEN:
        case Exec::LD_H_ABS:
        case Exec::LD_H_ABS_PROVEN:
        case Exec::LD_B_ABS:
        case Exec::LD_B_ABS_PROVEN: {
          const int size = load_width(step.op);
          if (next == i + 1 && branchy_fusable(i + 1, size))
            fused_operand_ = x86::ptr(x86::rdi, static_cast<std::int32_t>(k)), fused_width_ = size;
          else
            branchy_load_value(i, x86::ptr(x86::rdi, static_cast<std::int32_t>(k)), size);
          break;
        }
        case Exec::LD_W_IND:
        case Exec::LD_H_IND:
        case Exec::LD_B_IND: branchy_load(i, true, k, load_width(step.op), reject); break;
        case Exec::LD_ANCILLARY: branchy_load(i, false, k, step.size, reject); break;
        case Exec::DIV_X:
        case Exec::MOD_X:
          a_.test(x86::r8d, x86::r8d);
          a_.jz(reject);
          a_.xor_(x86::edx, x86::edx);
          a_.div(x86::edx, x86::eax, x86::r8d);
          if (step.op == Exec::MOD_X) a_.mov(x86::eax, x86::edx);
          break;
        case Exec::JA:
          if (fold_load_[step.jt]) a_.mov(x86::ecx, 0);
          go(step.jt);
          break;
        case Exec::JEQ_K:
        case Exec::JGT_K:
        case Exec::JGE_K:
        case Exec::JSET_K:
        case Exec::JEQ_X:
        case Exec::JGT_X:
        case Exec::JGE_X:
        case Exec::JSET_X: {
          if (step.jt == step.jf) {
            fused_operand_.reset();
            if (fold_load_[step.jt]) a_.mov(x86::ecx, 0);
            go(step.jt);
            break;
          }
          packet_order_ = packet_order_a_[i];
          const CC cc = compare(step, k);
          packet_order_ = 0;
          if (jumps_into_fold(i)) a_.mov(x86::ecx, 0);
          if (fold_second_[i] >= 0) {  // the first test of a pair: cl = it goes to the return
            const bool out_true = step.jt != fold_load_of(i);
            a_.set(out_true ? cc : negate(cc), x86::cl);
            go(static_cast<std::uint32_t>(fold_load_of(i)));  // laid out next, see branchy_layout()
            break;
          }
          if (fold_first_[i] >= 0) {  // the second: to the return when either test goes there
            const bool out_true = step.jt != fold_on_[i];
            a_.set(out_true ? cc : negate(cc), x86::dl);
            a_.or_(x86::cl, x86::dl);
            a_.jnz(labels[out_true ? step.jt : step.jf]);
            go(fold_on_[i]);
            break;
          }
          if (step.jt == next) {
            a_.j(negate(cc), labels[step.jf]);
          } else {
            a_.j(cc, labels[step.jt]);
            go(step.jf);
          }
          break;
        }
        case Exec::RET_K: finish_with(k); break;
        case Exec::RET_A: finish(); break;
        case Exec::AND_K:
          if (packet_order_a_[i] != 0) {
            a_.and_(x86::eax, static_cast<std::int32_t>(swap_to(packet_order_a_[i], k)));
            break;
          }
          emit_instruction(i);
          break;
        default:
          x_msh_.reset();  // a branch may have come from anywhere: r8d is whatever that path left
          emit_instruction(i);
          break;
      }
      if (falls) go(static_cast<std::uint32_t>(i + 1));
    }
    a_.bind(reject);
    finish_with(0);
  }

  // Pairs of tests folded into one branch (branchy form). libpcap chains tests that each
  // reject on failure: `ldh [16]; jeq #0x800 ... jf reject; ldb [27]; jeq #1 ... jf reject`.
  // A packet that passes the first and fails the second (an ARP frame, whose [16] is 0x0800,
  // in `vlan`'s untagged half) mispredicts a branch the majority does not take. Folded, both
  // comparisons run (setcc, or) and one branch goes to the return when either fails: it goes
  // the majority's way for that packet too. A pair: a conditional jump c with one way to a
  // `ret #k` R and the other to an absolute load into A reached only from c, followed by a
  // conditional jump reached only from it with one way to R as well (the load is in bounds on
  // every packet the code runs on, and R reads neither A nor X).
  void plan_folds() {
    const std::size_t n = steps_.size();
    fold_first_.assign(n, -1), fold_second_.assign(n, -1), fold_on_.assign(n, 0);
    fold_load_.assign(n, false);
    std::vector<int> predecessors(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const Step& s = steps_[i];
      if (s.op == Exec::RET_K || s.op == Exec::RET_A) continue;
      if (s.op == Exec::JA) {
        ++predecessors[s.jt];
      } else if (is_conditional(s.op)) {
        ++predecessors[s.jt];
        if (s.jf != s.jt) ++predecessors[s.jf];
      } else {
        ++predecessors[i + 1];
      }
    }
    // Other ways into the load between a pair's tests come from jumps, which clear cl (their
    // way there passes no first test); not from the instruction before it falling through.
    auto jumps_only_into = [&](std::size_t load) {
      const Step& before = steps_[load - 1];
      return before.op == Exec::RET_K || before.op == Exec::RET_A || before.op == Exec::JA ||
             (is_conditional(before.op) && before.jt != load && before.jf != load);
    };
    auto is_absolute_load = [](Exec op) {
      return op == Exec::LD_W_ABS || op == Exec::LD_W_ABS_PROVEN || op == Exec::LD_H_ABS ||
             op == Exec::LD_H_ABS_PROVEN || op == Exec::LD_B_ABS || op == Exec::LD_B_ABS_PROVEN;
    };
    for (std::size_t c = 0; c < n; ++c) {
      const Step& first = steps_[c];
      if (!is_conditional(first.op) || first.jt == first.jf || fold_first_[c] >= 0) continue;
      for (const bool out_true : {false, true}) {
        const std::uint32_t out = out_true ? first.jt : first.jf,
                            load = out_true ? first.jf : first.jt;
        if (steps_[out].op != Exec::RET_K || !is_absolute_load(steps_[load].op) || load + 1 >= n ||
            (load == c + 1 ? false : !jumps_only_into(load)))
          continue;
        const std::size_t second = load + 1;
        const Step& then = steps_[second];
        if (!is_conditional(then.op) || then.jt == then.jf || predecessors[second] != 1 ||
            (then.jt != out && then.jf != out) || fold_second_[second] >= 0)
          continue;
        fold_second_[c] = static_cast<int>(second);
        fold_first_[second] = static_cast<int>(c);
        fold_on_[second] = then.jt == out ? then.jf : then.jt;
        fold_load_[load] = true;
        break;
      }
    }
  }
  // Whether instruction i jumps to the load of a folded pair other than its own: it clears
  // cl (mov, which leaves the flags) before it branches.
  bool jumps_into_fold(std::size_t i) const {
    const Step& s = steps_[i];
    if (fold_second_[i] >= 0) return false;
    if (s.op == Exec::JA) return fold_load_[s.jt];
    return is_conditional(s.op) && (fold_load_[s.jt] || fold_load_[s.jf]);
  }
  // The load between a pair's tests.
  std::size_t fold_load_of(std::size_t first) const {
    return static_cast<std::size_t>(fold_second_[first]) - 1;
  }

  // The order the branchy code lays the instructions out in: from each jump on along its false
  // way while that is not laid out yet (a jeq or jset tests a header field against one
  // constant, which most packets fail: `vlan`'s three TPIDs, then the IPv4 EtherType at the
  // untagged offset, all fall through for an untagged packet, which then takes one branch to
  // its return), from any other instruction on to the next one, and else from the first one
  // not laid out. A taken branch costs more than one not taken, even when predicted.
  std::vector<std::uint32_t> branchy_layout() const {
    const std::size_t n = steps_.size();
    std::vector<bool> placed(n, false);
    std::vector<std::uint32_t> order;
    std::size_t first_free = 0;
    std::size_t i = 0;
    while (order.size() < n) {
      if (i >= n || placed[i]) {
        while (placed[first_free]) ++first_free;
        i = first_free;
      }
      placed[i] = true;
      order.push_back(static_cast<std::uint32_t>(i));
      const Step& step = steps_[i];
      if (step.op == Exec::RET_K || step.op == Exec::RET_A)
        i = n;
      else if (step.op == Exec::JA)
        i = step.jt;
      else if (fold_second_[i] >= 0)  // the pair's load and second test come next
        i = fold_load_of(i);
      else if (fold_first_[i] >= 0)  // then its way on, not the return
        i = fold_on_[i];
      else if (is_conditional(step.op))  // (a pair's load comes after its first test)
        i = !placed[step.jf] && !fold_load_[step.jf] ? step.jf : !fold_load_[step.jt] ? step.jt : n;
      else
        i = i + 1;
      if (step.op == Exec::JA && i < n && fold_load_[i]) i = n;
    }
    return order;
  }

  // Whether instruction i, reached only from i - 1 (a packet load of `size` bytes into A), can
  // compare the loaded bytes in memory: a jeq or jset against a constant that fits, with A dead
  // on both ways out (the branchy code has no re-reading of A at targets).
  bool branchy_fusable(std::size_t i, int size) const {
    if (i >= steps_.size() || pending_slot_[i] >= 0) return false;
    const Step& step = steps_[i];
    if (step.op != Exec::JEQ_K && step.op != Exec::JSET_K) return false;
    if (step.jt == step.jf) return false;
    if (((live_in_[step.jt] | live_in_[step.jf]) & value_a) != 0) return false;
    if (step.op == Exec::JEQ_K && size < 4 && insns_[i].k >= (1u << (8 * size))) return false;
    return true;
  }

  // A = the `size` bytes at X + k (or k), X + k + size compared with caplen without wrapping;
  // out of bounds rejects.
  void branchy_load(std::size_t i, bool indexed, std::uint32_t k, int size,
                    const asmjit::Label& reject) {
    const std::uint64_t end = std::uint64_t{k} + static_cast<std::uint64_t>(size);
    x86::Mem at;
    if (indexed && end <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
      a_.lea(x86::rcx, x86::ptr(x86::r8, static_cast<std::int32_t>(end)));
      a_.cmp(x86::rcx, x86::rsi);
      a_.ja(reject);
      at = x86::ptr(x86::rdi, x86::r8, 0, static_cast<std::int32_t>(k));
    } else {
      if (indexed)
        a_.mov(x86::ecx, x86::r8d);
      else
        a_.xor_(x86::ecx, x86::ecx);
      a_.mov(x86::edx, k);
      a_.add(x86::rcx, x86::rdx);
      a_.lea(x86::rdx, x86::ptr(x86::rcx, size));
      a_.cmp(x86::rdx, x86::rsi);
      a_.ja(reject);
      at = x86::ptr(x86::rdi, x86::rcx);
    }
    if (indexed && layout_next_ == i + 1 && branchy_fusable(i + 1, size))
      fused_operand_ = at, fused_width_ = size;
    else
      branchy_load_value(i, at, size);
  }

  // A = the load at instruction i: in the packet's byte order when packet_order_a() allows.
  void branchy_load_value(std::size_t i, x86::Mem at, int size) {
    if (packet_order_a_[i] == 0) return load(x86::eax, at, size);
    at.setSize(static_cast<std::uint32_t>(size));
    if (size == 4)
      a_.mov(x86::eax, at);
    else
      a_.movzx(x86::eax, at);
  }

  // The instructions reachable from `entry`.
  std::vector<bool> reachable_from(std::uint32_t entry) const {
    std::vector<bool> reachable(steps_.size(), false);
    reachable[entry] = true;
    for (std::size_t i = entry; i < steps_.size(); ++i) {
      if (!reachable[i]) continue;
      const Step& s = steps_[i];
      if (s.op == Exec::RET_K || s.op == Exec::RET_A) continue;
      if (s.op == Exec::JA) {
        reachable[s.jt] = true;
      } else if (is_conditional(s.op)) {
        reachable[s.jt] = reachable[s.jf] = true;
      } else {
        reachable[i + 1] = true;
      }
    }
    return reachable;
  }

  // The code of the instructions reachable from `entry` (0: the whole program), from a
  // prologue to the return. At another entry A is already in eax (the dispatch loaded it), X
  // and M[] are still 0.
  void emit_body(std::uint32_t entry, const asmjit::Label* end = nullptr) {
    const std::vector<bool> reachable = reachable_from(entry);
    // The callee-saved registers this code uses: the zero, and the pending flags of the
    // targets it reaches.
    saved_registers_.assign(1, zero.r64());
    std::uint32_t used = 0;
    for (std::size_t t = entry; t < steps_.size(); ++t)
      if (reachable[t] && pending_register_[t] >= 0) used |= 1u << pending_register_[t];
    for (std::size_t r = 0; r < pending_register_count; ++r)
      if ((used & (1u << r)) != 0) saved_registers_.push_back(pending_registers[r].r64());
    for (const x86::Gp& reg : saved_registers_) a_.push(reg);
    // The frame lies in the red zone below rsp when it fits (the code calls nothing), so rsp
    // moves only for larger ones.
    if (frame_ > red_zone) a_.sub(x86::rsp, frame_);
    a_.xor_(zero, zero);
    if (reads_wire_length_) a_.mov(slot(wire_slot), x86::edx);
    emit_core(entry, reachable);
    const asmjit::Label epilogue = a_.newLabel();
    a_.bind(epilogue);
    if (frame_ > red_zone) a_.add(x86::rsp, frame_);
    for (auto reg = saved_registers_.rbegin(); reg != saved_registers_.rend(); ++reg) a_.pop(*reg);
    a_.ret();
    if (end != nullptr) a_.bind(*end);
    emit_bail_out(&epilogue);
  }

  // Where the straight-line code branches out for a packet whose indexed loads may be out of
  // bounds (checked_load()): the branchy code, from the start, for that packet; its verdict
  // then leaves through `epilogue` (a function's) or the loop's tail.
  void emit_bail_out(const asmjit::Label* epilogue) {
    if (!bail_out_) return;
    a_.bind(*bail_out_);
    bail_out_.reset();
    if (epilogue != nullptr) epilogue_ = *epilogue;
    emit_branchy_core();
    epilogue_.reset();
  }

  // One packet's work from `entry`, once the registers are saved, the zero set and the wire
  // length stored: the verdict ends in eax.
  void emit_core(std::uint32_t entry, const std::vector<bool>& reachable) {
    entry_ = entry;
    // A starts at 0 (only its value on the path taken matters, and that path reads it before
    // writing it only when it is live at the start).
    if (entry == 0 && (live_in_[0] & value_a) != 0) a_.xor_(x86::eax, x86::eax);
    // X always: indirect loads use all of r8 in addresses, and on paths not taken it must not
    // hold the caller's 64-bit garbage.
    a_.xor_(x86::r8d, x86::r8d);
    x_msh_.reset();
    x_checked_end_ = 0;
    reachable_ = &reachable;
    // A program whose only accepting return is `ret #k` at its end (as pcap_compile ends
    // most): the result is its flag times k, computed there, without r10d.
    single_return_ = false;
    {
      std::size_t returns = 0, last = entry;
      for (std::size_t i = entry; i < steps_.size(); ++i) {
        if (!reachable[i] || rejects_[i]) continue;
        last = i;
        returns += steps_[i].op == Exec::RET_K || steps_[i].op == Exec::RET_A;
      }
      single_return_ = returns == 1 && steps_[last].op == Exec::RET_K;
      single_accept_ = static_cast<std::uint32_t>(last);
    }
    if (!single_return_) a_.xor_(x86::r10d, x86::r10d);
    for (std::uint32_t k = 0; k < scratch_words; ++k)
      if ((live_in_[entry] & value_m(k)) != 0) a_.mov(slot(scratch_slot(k)), 0);
    pending_written_.assign(steps_.size(), false);
    edge_written_.assign(edges_.size(), false);
    falls_through_ = false;
    a_stale_ = false;
    skip_ = std::numeric_limits<std::size_t>::max();
    for (std::size_t i = entry; i < steps_.size(); ++i) {
      if (rejects_[i] || !reachable[i]) {  // `ret #0` adds nothing; the rest never runs
        falls_through_ = false;
        continue;
      }
      if (i == skip_) continue;  // folded into the instruction before (r9d stays its flag)
      enter(i);
      instruction(i);
    }
    if (!single_return_) a_.mov(x86::eax, x86::r10d);
  }

  std::span<const Insn> insns_;
  std::span<const Step> steps_;
  x86::Assembler& a_;
  // The plan's parts.
  const std::vector<bool>& rejects_;
  const std::vector<Values>& live_in_;
  const std::vector<std::int64_t>& a_load_;
  const std::vector<int>& pending_register_;
  const std::vector<std::int32_t>& pending_slot_;
  const std::vector<std::vector<std::size_t>>& incoming_;
  const std::vector<BranchFreeEdge>& edges_;
  const std::map<std::pair<std::uint32_t, std::uint32_t>, std::size_t>& edge_of_;
  const std::uint64_t min_caplen_;
  const bool reads_wire_length_;
  const bool reads_ancillary_;
  const std::uint32_t used_registers_;
  std::int32_t frame_;  // the plan's, and the batch loop's two words after it
  // The batch loop: where each packet's code continues (its verdict in eax); not bound when
  // the code is a function of one packet.
  bool in_loop_ = false;
  asmjit::Label next_;
  asmjit::Label loop_top_, loop_done_;  // the batch loop's first instruction and its exit
  std::int32_t loop_stride_ = 0, loop_end_slot_ = 0;
  // The emission's state.
  std::vector<x86::Gp> saved_registers_;  // pushed at entry, popped at exit
  std::vector<bool> pending_written_;     // per target: a jump to it has written its flags
  std::vector<bool> edge_written_;        // per edge: its flag and saved values are written
  std::uint32_t entry_ = 0;               // where the code being emitted starts
  bool falls_through_ = false;            // r9d holds the previous instruction's flag for this one
  // eax does not hold A: a fused comparison read A from the packet instead (A is dead after
  // it, or read again from the packet where it is needed: BranchFreePlan::a_load).
  bool a_stale_ = false;
  bool single_return_ = false;       // see emit_core()
  std::uint32_t single_accept_ = 0;  // that return, when single_return_
  // A packet load fused into the next instruction's comparison: its operand and width.
  // (Not std::optional: GCC 12 then warns that the Mem may be used uninitialized.)
  struct FusedOperand {
    x86::Mem mem = {};
    bool set = false;
    explicit operator bool() const { return set; }
    const x86::Mem& operator*() const { return mem; }
    void reset() { set = false; }
    FusedOperand& operator=(const x86::Mem& at) {
      mem = at;
      set = true;
      return *this;
    }
  };
  FusedOperand fused_operand_;
  int fused_width_ = 0;
  std::optional<std::uint32_t> fused_k_;  // the constant it is compared with, when not the jump's
  // r8d holds 4 * ([k] & 0xf) for this k (written by the last instruction that wrote X).
  std::optional<std::uint32_t> x_msh_;
  // The branchy form: per instruction, packet_order_a(); and the width of the packet-order A
  // the comparison being emitted reads (0: A is a number).
  std::vector<int> packet_order_a_;
  int packet_order_ = 0;
  std::size_t layout_next_ = 0;  // the instruction laid out after the one being emitted
  // Folded pairs of tests (plan_folds()), per instruction: the first test's second, the
  // second's first (-1: none), and where the second goes on when neither fails.
  std::vector<int> fold_first_, fold_second_;
  std::vector<std::uint32_t> fold_on_;
  std::vector<bool> fold_load_;  // the loads between pairs' tests
  // Indexed loads (checked_load()): the furthest end X + k + size already compared with the
  // captured length for the X in r8 (0: none), where the code branches out when it is not
  // within it, and the reachable instructions of the code being emitted.
  std::uint64_t x_checked_end_ = 0;
  std::optional<asmjit::Label> bail_out_;
  const std::vector<bool>* reachable_ = nullptr;
  // Set while the bail-out's branchy code is emitted in a function: its returns go there.
  std::optional<asmjit::Label> epilogue_;
  // An instruction folded into the one before it (masked_fusable()).
  std::size_t skip_ = std::numeric_limits<std::size_t>::max();
};

}  // namespace

const std::optional<PacketLayout>& packet_layout() {
  static const std::optional<PacketLayout> layout = []() -> std::optional<PacketLayout> {
    static const std::uint8_t bytes[3] = {};
    static const Ancillary ancillary;
    // Built in zeroed bytes, which its padding keeps.
    alignas(Packet) unsigned char raw[sizeof(Packet)] = {};
    const Packet& probe = *new (raw) Packet{{bytes, 3}, 0x9e3779b9u, &ancillary};
    // The offset of `value`'s bytes in the packet, at a multiple of its size.
    auto find = [&](const auto& value) -> std::optional<std::int32_t> {
      for (std::size_t at = 0; at + sizeof(value) <= sizeof(Packet); at += sizeof(value))
        if (std::memcmp(raw + at, &value, sizeof(value)) == 0) return static_cast<std::int32_t>(at);
      return std::nullopt;
    };
    const std::uint8_t* data = bytes;
    const std::size_t size = 3;
    const std::uint32_t wire = probe.wire_length;
    const Ancillary* ancillary_pointer = &ancillary;
    auto d = find(data), n = find(size), w = find(wire), x = find(ancillary_pointer);
    if (!d || !n || !w || !x) return std::nullopt;
    return PacketLayout{static_cast<std::int32_t>(sizeof(Packet)), *d, *n, *w, *x};
  }();
  return layout;
}

Result<BranchFreeFilter> BranchFreeFilter::compile(const Program& program, std::string* log) {
  auto plan = plan_branch_free(program);
  if (!plan) return plan.error();
  // The batch loops keep their state in the last two pending registers.
  auto loop_plan = plan_branch_free(program, pending_register_count - 2);
  if (!loop_plan) return loop_plan.error();
  std::vector<std::size_t> offsets;
  auto full = assemble(
      "branch-free compiler",
      [&](x86::Assembler& a, std::vector<asmjit::Label>& labels) {
        labels.assign(1, a.newLabel());
        Compiler(program, *plan, a).emit(labels[0]);
      },
      offsets, log);
  if (!full) return full.error();
  BranchFreeFilter filter(program, std::move(*full), plan->min_caplen, plan->reads_ancillary);
  filter.straight_bytes_ = offsets[0];
  {
    std::uint64_t from = std::numeric_limits<std::uint64_t>::max(), to = 0;
    for (const Step& step : program.code().steps)
      if (const int size = absolute_size(step.op); size != 0)
        from = std::min<std::uint64_t>(from, step.k),
        to = std::max<std::uint64_t>(to, std::uint64_t{step.k} + static_cast<std::uint64_t>(size));
    if (to > 0) filter.absolute_from_ = from, filter.absolute_to_ = to;
  }
  if (auto dispatch = plan_dispatch(program)) {
    if (log != nullptr) *log += "\n; dispatched:\n";
    auto dispatched = assemble(
        "branch-free compiler",
        [&](x86::Assembler& a, std::vector<asmjit::Label>& labels) {
          std::vector<asmjit::Label> exits, ends;
          Compiler(program, *plan, a).emit_dispatched(*dispatch, exits, ends);
          labels = exits;
          labels.insert(labels.end(), ends.begin(), ends.end());
        },
        offsets, log);
    if (!dispatched) return dispatched.error();
    const std::size_t exits = dispatch->exits.size();
    for (std::size_t e = 0; e < exits; ++e)
      filter.exit_bytes_.push_back(offsets[exits + e] - offsets[e]);
    filter.dispatched_memory_ = std::move(*dispatched);
    filter.dispatched_entry_ =
        reinterpret_cast<Entry>(const_cast<std::uint8_t*>(filter.dispatched_memory_.data()));
    filter.dispatch_ = std::move(*dispatch);
  }
  {
    if (log != nullptr) *log += "\n; branchy:\n";
    auto branchy = assemble(
        "branch-free compiler",
        [&](x86::Assembler& a, std::vector<asmjit::Label>&) {
          Compiler(program, *plan, a).emit_branchy_function();
        },
        offsets, log);
    if (!branchy) return branchy.error();
    filter.branchy_bytes_ = branchy->size();
    filter.branchy_memory_ = std::move(*branchy);
    filter.branchy_entry_ =
        reinterpret_cast<Entry>(const_cast<std::uint8_t*>(filter.branchy_memory_.data()));
  }
  if (const auto& layout = packet_layout()) {
    auto emit_loop = [&](const BranchFreeDispatch* dispatch, std::string_view title,
                         bool branchy = false) -> Result<std::pair<jit::ExecMemory, Loop>> {
      if (log != nullptr) *log += fmt::format("\n; {}:\n", title);
      auto loop = assemble(
          "branch-free compiler",
          [&](x86::Assembler& a, std::vector<asmjit::Label>&) {
            Compiler(program, *loop_plan, a)
                .emit_loop(*layout, loop_prefetch_ahead, dispatch, branchy);
          },
          offsets, log);
      if (!loop) return loop.error();
      auto entry = reinterpret_cast<Loop>(const_cast<std::uint8_t*>(loop->data()));
      return std::pair{std::move(*loop), entry};
    };
    auto loop = emit_loop(nullptr, "batch loop");
    if (!loop) return loop.error();
    filter.loop_memory_ = std::move(loop->first);
    filter.loop_ = loop->second;
    if (filter.dispatch_) {
      auto dispatched = emit_loop(&*filter.dispatch_, "dispatched batch loop");
      if (!dispatched) return dispatched.error();
      filter.dispatched_loop_memory_ = std::move(dispatched->first);
      filter.dispatched_loop_ = dispatched->second;
    }
    auto branchy = emit_loop(nullptr, "branchy batch loop", true);
    if (!branchy) return branchy.error();
    filter.branchy_loop_memory_ = std::move(branchy->first);
    filter.branchy_loop_ = branchy->second;
  }
  return filter;
}

std::size_t BranchFreeFilter::exit_of(const std::uint8_t* data) const {
  return detail::exit_of(program_, *dispatch_, data);
}

}  // namespace bpfvm::classic::detail
