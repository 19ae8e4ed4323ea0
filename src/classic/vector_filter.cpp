// The vector compiler (vector_filter.hpp): one pass over the program, in order, emitting
// AVX-512 code for a group of eight packets through asmjit. The analysis (liveness, which
// programs are taken at all, the minimum captured length) is the branch-free compiler's plan.
//
// Machine state (System V):
//   r13  the group's first descriptor     r14  where its verdicts go
//   r12  the last descriptor a whole group may start at
//   zmm0 A      zmm1 X      zmm2 packet addresses      zmm3 captured lengths
//   zmm4 wire lengths       zmm5 verdicts              zmm6, zmm7, zmm15 scratch
//   zmm8-14  gathered packet bytes (8 from a fixed offset of each packet), reused by later
//            absolute loads they cover
//   zmm16-31 M[0..15]
//   k1-k3, k5-k7: lane masks (a bit per packet), allocated as the code goes: the lanes that
//      reach the current instruction (a comparison masked with them gives the lanes that take
//      the jump, in one instruction), a jump's two ways, and the lanes jumps bring to a target
//      (or-ed together). A mask changes hands instead of being copied: the lanes that go on
//      stay where they are, a jump's lanes become its target's. When none is free, a
//      target's lanes wait in esi, edi, ebp, r8d-r11d or r15d, then in a byte of the frame.
//   k4 gather masks (a gather clears its mask)        eax scratch
//   k0 is never written: xnor of it with itself gives all lanes without waiting for anything
// and a frame: per jump target without a register, a byte of its lanes; per comparison that
// a later one repeats, a byte of its outcome; per value a jump must carry past instructions
// that overwrite it, 64 bytes of saved lanes.
#include "classic/vector_filter.hpp"

#include "classic/assemble.hpp"
#include "classic/branch_free_plan.hpp"
#include "classic/code.hpp"

#include <asmjit/x86.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace bpfvm::classic::detail {
namespace {

namespace x86 = asmjit::x86;

const x86::Zmm a_reg = x86::zmm0, x_reg = x86::zmm1, data_reg = x86::zmm2, caplen_reg = x86::zmm3,
               wire_reg = x86::zmm4, verdict_reg = x86::zmm5, t0 = x86::zmm6, t1 = x86::zmm7,
               t2 = x86::zmm15;
constexpr std::uint32_t window_first = 8, window_count = 7;
x86::Zmm scratch_reg(std::uint32_t k) { return x86::zmm(16 + k); }
const x86::KReg gather_mask = x86::k4, never_written = x86::k0;
const x86::Gp scratch = x86::eax;
const std::array<x86::KReg, 6> lane_masks = {x86::k1, x86::k2, x86::k3, x86::k5, x86::k6, x86::k7};
const std::array<x86::Gp, 8> pending_registers = {x86::esi, x86::edi,  x86::ebp,  x86::r8d,
                                                  x86::r9d, x86::r10d, x86::r11d, x86::r15d};

// vpcmpuq predicates
constexpr std::uint8_t cmp_eq = 0, cmp_lt = 1, cmp_le = 2, cmp_ne = 4, cmp_nlt = 5, cmp_nle = 6;
constexpr std::uint64_t low32 = 0xffffffffu;

const std::array<x86::Gp, 5> saved_registers = {x86::rbp, x86::r12, x86::r13, x86::r14, x86::r15};

Error refuse(std::string_view why) {
  return make_error(Error::Kind::usage, fmt::format("vector compiler: {}", why));
}

bool reads_a(const Step& step) { return (used_values(step) & value_a) != 0; }

bool is_ancillary_or_backward(const Step& step) {
  return step.op == Exec::LD_ANCILLARY || step.op == Exec::JA_BACKWARD;
}

class Emitter {
 public:
  // `reuse`: the comparisons a first pass found reused (their outcome is kept in the frame).
  Emitter(const Program& program, const BranchFreePlan& plan, const PacketLayout& layout,
          x86::Assembler& a, std::set<std::size_t> reuse)
      : steps_(program.code().steps),
        plan_(plan),
        layout_(layout),
        a_(a),
        packet_order_(packet_order_a(steps_, plan.live_in)),
        reuse_(std::move(reuse)) {
    const std::size_t n = steps_.size();
    pending_written_.assign(n, false);
    pending_.assign(n, {});
    save_set_.assign(n, 0);
    // Values an edge must carry: live at its target and overwritten by an instruction it
    // skips. Every edge into a target saves the union, so that the target restores each of
    // them from one slot for all the lanes its jumps bring.
    for (std::size_t i = 0; i < n; ++i) {
      for (const std::uint32_t t : jump_targets(i)) {
        if (t == i + 1 || plan_.rejects[t]) continue;
        Values overwritten = 0;
        for (std::size_t j = i + 1; j < t; ++j) overwritten |= defined_values(steps_[j]);
        save_set_[t] |= overwritten & plan_.live_in[t];
      }
    }
    // A that is the same absolute packet load on every path into a target (the EtherType,
    // tested again after the IPv4 half) is loaded again there instead (for every lane: they
    // all hold that field) of being saved at the jumps and merged.
    for (std::size_t t = 0; t < n; ++t)
      if (plan_.a_load[t] >= 0 && (save_set_[t] & value_a) != 0) save_set_[t] &= ~value_a;
    const auto bytes = static_cast<std::int32_t>((n + 63) / 64 * 64);
    compared_base_ = bytes;           // after the pending lanes' bytes
    std::int32_t offset = 2 * bytes;  // after the comparisons' bytes
    value_slot_.assign(n, {});
    for (std::size_t t = 0; t < n; ++t)
      for (std::uint32_t bit = 0; bit < 2 + scratch_words; ++bit)
        if ((save_set_[t] & (1u << bit)) != 0) value_slot_[t][bit] = offset, offset += 64;
    frame_ = offset;
    // The 8-byte windows the absolute loads read: as few as cover them all, from the lowest
    // offset up (each as far on as min_caplen allows).
    std::vector<std::pair<std::uint64_t, std::uint64_t>> loads;
    for (const Step& step : steps_)
      if (const int size = absolute_size(step.op); size != 0)
        loads.emplace_back(step.k, std::uint64_t{step.k} + static_cast<std::uint64_t>(size));
    std::sort(loads.begin(), loads.end());
    for (const auto& [from, to] : loads) {
      if (!planned_.empty() && to <= planned_.back() + 8) continue;
      planned_.push_back(std::min<std::uint64_t>(from, plan_.min_caplen - 8));
    }
    // Dominators (every way to j passes through i): jumps go forwards, so one pass in order.
    dominators_.assign(n, std::vector<bool>(n, false));
    std::vector<bool> reached(n, false);
    reached[0] = true;
    for (std::size_t j = 0; j < n; ++j) {
      if (!reached[j]) continue;
      dominators_[j][j] = true;
      for (const std::uint32_t t : successors(j)) {
        if (t >= n) continue;
        if (!reached[t]) {
          dominators_[t] = dominators_[j];
          reached[t] = true;
        } else {
          for (std::size_t d = 0; d < n; ++d)
            dominators_[t][d] = dominators_[t][d] && dominators_[j][d];
        }
      }
    }
    // Two scratch-word registers the program leaves free hold an indexed load's 8 bytes and
    // where they start, for later indexed loads it dominates with the same X.
    Values used = 0;
    for (const Step& step : steps_) used |= used_values(step) | defined_values(step);
    for (std::uint32_t k = scratch_words; k-- > 0 && free_scratch_.size() < 2;)
      if ((used & value_m(k)) == 0) free_scratch_.push_back(scratch_reg(k));
  }

  std::size_t frame() const { return static_cast<std::size_t>(frame_); }
  std::size_t gathers() const { return gathers_; }
  const std::set<std::size_t>& reused() const { return reused_; }

  void emit() {
    for (const x86::Gp& reg : saved_registers) a_.push(reg);
    // (The frame's slots are not 64-byte aligned: they are accessed with vmovdqu64.) A frame
    // over a page is reached a page at a time, each touched on the way, so that a small
    // thread's stack meets its guard page rather than stepping over it.
    std::int32_t remaining = frame_ + 8;
    for (; remaining > 4096; remaining -= 4096) {
      a_.sub(x86::rsp, 4096);
      a_.or_(x86::byte_ptr(x86::rsp), 0);
    }
    a_.sub(x86::rsp, remaining);
    a_.mov(x86::r13, x86::rdi);
    a_.mov(x86::r14, x86::rdx);
    a_.lea(x86::r12,
           x86::ptr(x86::rsi, -static_cast<std::int32_t>(VectorFilter::lanes) * layout_.stride));
    const asmjit::Label top = a_.newLabel(), done = a_.newLabel();
    a_.align(asmjit::AlignMode::kCode, 16);
    a_.bind(top);
    // A whole group left? (rsi - 8 * stride wraps only for batches that cannot exist.)
    a_.cmp(x86::r13, x86::r12);
    a_.ja(done);
    emit_prefetch();
    emit_descriptors();
    a_.vpcmpuq(x86::k1, caplen_reg, broadcast(plan_.min_caplen), cmp_nlt);
    a_.kortestb(x86::k1, x86::k1);
    a_.jnc(done);  // a packet of the group is too short: the caller filters the group
    emit_body();
    a_.vpmovqd(x86::ymm6, verdict_reg);
    a_.vmovdqu(x86::ymmword_ptr(x86::r14), x86::ymm6);
    a_.add(x86::r13, static_cast<std::int32_t>(VectorFilter::lanes) * layout_.stride);
    a_.add(x86::r14, static_cast<std::int32_t>(VectorFilter::lanes * 4));
    a_.jmp(top);
    a_.bind(done);
    a_.mov(x86::rax, x86::r13);
    a_.vzeroupper();
    a_.add(x86::rsp, frame_ + 8);
    for (auto reg = saved_registers.rbegin(); reg != saved_registers.rend(); ++reg) a_.pop(*reg);
    a_.ret();
    emit_constants();
  }

 private:
  std::vector<std::uint32_t> successors(std::size_t i) const {
    const Step& s = steps_[i];
    if (s.op == Exec::RET_K || s.op == Exec::RET_A) return {};
    if (s.op == Exec::JA) return {s.jt};
    if (is_conditional(s.op)) return {s.jt, s.jf};
    return {static_cast<std::uint32_t>(i + 1)};
  }

  std::vector<std::uint32_t> jump_targets(std::size_t i) const {
    const Step& s = steps_[i];
    if (s.op == Exec::JA) return {s.jt};
    if (is_conditional(s.op)) return {s.jt, s.jf};
    return {};
  }

  // The first bytes the code reads of the packets two groups on (when the batch has them), so
  // that the gathers find them in L1: a gather waits for the slowest of its eight lines.
  void emit_prefetch() {
    const std::int32_t ahead = 2 * static_cast<std::int32_t>(VectorFilter::lanes) * layout_.stride;
    const asmjit::Label skip = a_.newLabel();
    a_.lea(x86::rax, x86::ptr(x86::r13, ahead));
    a_.cmp(x86::rax, x86::r12);
    a_.ja(skip);
    std::uint64_t first = plan_.min_caplen;
    for (const Step& step : steps_)
      if (absolute_size(step.op) != 0) first = std::min<std::uint64_t>(first, step.k);
    for (std::size_t j = 0; j < VectorFilter::lanes; ++j) {
      a_.mov(x86::rdx, x86::qword_ptr(
                           x86::rax, static_cast<std::int32_t>(j) * layout_.stride + layout_.data));
      a_.prefetcht0(x86::ptr(x86::rdx, static_cast<std::int32_t>(first)));
    }
    a_.bind(skip);
  }

  // The eight descriptors' data pointers, captured lengths and (when the program reads it)
  // wire lengths, one lane each: four loads of two descriptors and permutations.
  void emit_descriptors() {
    const std::uint64_t fd = static_cast<std::uint64_t>(layout_.data / 8),
                        fs = static_cast<std::uint64_t>(layout_.size / 8);
    a_.vmovdqu64(t0, table({fd, 4 + fd, 8 + fd, 12 + fd, fs, 4 + fs, 8 + fs, 12 + fs}));
    a_.vmovdqu64(data_reg, x86::zmmword_ptr(x86::r13));
    a_.vpermt2q(data_reg, t0, x86::zmmword_ptr(x86::r13, 64));  // data, size of 0-3
    a_.vmovdqu64(caplen_reg, x86::zmmword_ptr(x86::r13, 128));
    a_.vpermt2q(caplen_reg, t0, x86::zmmword_ptr(x86::r13, 192));  // of 4-7
    a_.vmovdqu64(t0, table({0, 1, 2, 3, 8, 9, 10, 11}));
    a_.vmovdqa64(t1, data_reg);
    a_.vpermt2q(t1, t0, caplen_reg);
    a_.vmovdqu64(t0, table({4, 5, 6, 7, 12, 13, 14, 15}));
    a_.vpermt2q(data_reg, t0, caplen_reg);
    a_.vmovdqa64(caplen_reg, data_reg);
    a_.vmovdqa64(data_reg, t1);
    if (!plan_.reads_wire_length) return;
    const std::uint64_t fw = static_cast<std::uint64_t>(layout_.wire / 8);
    a_.vmovdqu64(t0, table({fw, 4 + fw, 8 + fw, 12 + fw, fw, 4 + fw, 8 + fw, 12 + fw}));
    a_.vmovdqu64(wire_reg, x86::zmmword_ptr(x86::r13));
    a_.vpermt2q(wire_reg, t0, x86::zmmword_ptr(x86::r13, 64));
    a_.vmovdqu64(t1, x86::zmmword_ptr(x86::r13, 128));
    a_.vpermt2q(t1, t0, x86::zmmword_ptr(x86::r13, 192));
    a_.vmovdqu64(t0, table({0, 1, 2, 3, 8, 9, 10, 11}));
    a_.vpermt2q(wire_reg, t0, t1);
    if (layout_.wire % 8 != 0) a_.vpsrlq(wire_reg, wire_reg, 32);
    a_.vpandq(wire_reg, wire_reg, broadcast(low32));
  }

  x86::Zmm value_reg(std::uint32_t bit) const {
    return bit == 0 ? a_reg : bit == 1 ? x_reg : scratch_reg(bit - 2);
  }
  x86::Mem mask_slot(std::size_t t) const {
    return x86::byte_ptr(x86::rsp, static_cast<std::int32_t>(t));
  }
  x86::Mem value_slot(std::size_t t, std::uint32_t bit) const {
    return x86::zmmword_ptr(x86::rsp, value_slot_[t][bit]);
  }

  // ---- lane masks ----
  // A free mask register; when none is, the lanes bound for the furthest target held in one
  // move to a general register (or the frame).
  x86::KReg take_mask() {
    for (std::size_t r = 0; r < lane_masks.size(); ++r) {
      if ((masks_in_use_ & (1u << r)) == 0) {
        masks_in_use_ |= 1u << r;
        return lane_masks[r];
      }
    }
    std::size_t furthest = 0;
    bool found = false;
    for (std::size_t t = 0; t < pending_.size(); ++t)
      if (pending_[t].mask.isValid()) furthest = t, found = true;
    // (Six registers: the lanes going on, a comparison and its other way leave three for
    // targets at least, so one of them holds a target's lanes.)
    if (!found) return lane_masks[0];  // not reached
    const x86::KReg mask = pending_[furthest].mask;
    pending_[furthest].mask = x86::KReg();
    spill(furthest, mask);
    return mask;
  }
  void release(const x86::KReg& mask) {
    for (std::size_t r = 0; r < lane_masks.size(); ++r)
      if (lane_masks[r] == mask) masks_in_use_ &= ~(1u << r);
  }
  // Target t's lanes, from `mask`, to a general register or the frame.
  void spill(std::size_t t, const x86::KReg& mask) {
    for (std::size_t r = 0; r < pending_registers.size(); ++r) {
      if ((registers_in_use_ & (1u << r)) != 0) continue;
      registers_in_use_ |= 1u << r;
      pending_[t].reg = static_cast<int>(r);
      a_.kmovb(pending_registers[r], mask);
      return;
    }
    a_.kmovb(mask_slot(t), mask);
  }

  // The lanes in `lanes` (a mask register this gives up) go from the current instruction to t
  // (not the next one).
  void jump(std::uint32_t t, const x86::KReg& lanes) {
    if (plan_.rejects[t]) {  // `ret #0`: the verdict stays 0
      release(lanes);
      return;
    }
    if (save_set_[t] != 0) {
      if ((save_set_[t] & value_a) != 0) materialize_a();
      for (std::uint32_t bit = 0; bit < 2 + scratch_words; ++bit)
        if ((save_set_[t] & (1u << bit)) != 0)
          a_.k(lanes).vmovdqu64(value_slot(t, bit), value_reg(bit));
    }
    Pending& pending = pending_[t];
    if (!pending_written_[t]) {
      pending_written_[t] = true;
      pending.mask = lanes;  // no instruction: the register now holds t's lanes
      return;
    }
    if (pending.mask.isValid()) {
      a_.korb(pending.mask, pending.mask, lanes);
    } else if (pending.reg >= 0) {
      a_.kmovb(scratch, lanes);
      a_.or_(pending_registers[static_cast<std::size_t>(pending.reg)], scratch);
    } else {
      a_.kmovb(scratch, lanes);
      a_.or_(mask_slot(t), scratch.r8());
    }
    release(lanes);
  }

  void emit_body() {
    a_.vpxorq(verdict_reg, verdict_reg, verdict_reg);
    const Values live = plan_.live_in[0];
    for (std::uint32_t bit = 0; bit < 2 + scratch_words; ++bit)
      if ((live & (1u << bit)) != 0) a_.vpxorq(value_reg(bit), value_reg(bit), value_reg(bit));
    windows_.fill({});
    next_window_ = 0;
    bool falls = true;  // lanes may come from the instruction before
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const bool pending = pending_written_[i];
      if (!falls && !pending) continue;  // no way in
      if (pending) {
        // The lanes jumps bring here, in a mask register.
        Pending& from = pending_[i];
        x86::KReg lanes = from.mask;
        if (!lanes.isValid()) {
          lanes = take_mask();
          if (from.reg >= 0) {
            a_.kmovb(lanes, pending_registers[static_cast<std::size_t>(from.reg)]);
            registers_in_use_ &= ~(1u << from.reg);
          } else {
            a_.kmovb(lanes, mask_slot(i));
          }
        }
        from = {};
        if (save_set_[i] != 0) {
          if ((save_set_[i] & value_a) != 0) materialize_a();
          for (std::uint32_t bit = 0; bit < 2 + scratch_words; ++bit)
            if ((save_set_[i] & (1u << bit)) != 0)
              a_.k(lanes).vmovdqu64(value_reg(bit), value_slot(i, bit));
        }
        if (falls) {
          a_.korb(reach_, reach_, lanes);
          release(lanes);
        } else {
          reach_ = lanes;
        }
      }
      // A value written otherwise than by the packet load it may stand for, or merged from
      // saved lanes (only where jumps did bring lanes: an unreachable jump's target merges
      // nothing), is no longer a known field.
      const Values restored = pending ? save_set_[i] : 0;
      const Values defines = defined_values(steps_[i]) | restored;
      const bool field = absolute_size(steps_[i].op) != 0;
      const bool msh = steps_[i].op == Exec::LDX_B_MSH || steps_[i].op == Exec::LDX_B_MSH_PROVEN;
      if ((defines & value_a) != 0 && (!field || msh)) a_symbol_.reset();
      if ((defines & value_x) != 0 && !msh) x_symbol_.reset();
      if ((defines & value_x) != 0) ++x_version_;
      if ((restored & value_a) != 0) a_symbol_.reset();
      if ((restored & value_x) != 0) x_symbol_.reset();
      if (pending && plan_.a_load[i] >= 0 && (plan_.live_in[i] & value_a) != 0) reload_a(i);
      // A deferred load of A is extracted where A is read (a comparison that is reused does
      // not read it) and dropped where A is overwritten first.
      if (reads_a(steps_[i]) && !is_conditional(steps_[i].op)) materialize_a();
      // (A load into A replaces it, or finds it the very value and keeps it: absolute_load.)
      if ((defines & value_a) != 0 && !reads_a(steps_[i]) && (!field || msh)) a_deferred_.reset();
      falls = emit_instruction(i);
    }
  }

  // Emits instruction i for the lanes in k1; returns whether lanes go on to i + 1.
  bool emit_instruction(std::size_t i) {
    const Step& s = steps_[i];
    const std::uint32_t k = s.k;
    if (is_conditional(s.op)) return conditional(i);
    switch (s.op) {
      case Exec::LD_W_ABS:
      case Exec::LD_W_ABS_PROVEN: absolute_load(a_reg, k, 4, packet_order_[i] != 0); return true;
      case Exec::LD_H_ABS:
      case Exec::LD_H_ABS_PROVEN: absolute_load(a_reg, k, 2, packet_order_[i] != 0); return true;
      case Exec::LD_B_ABS:
      case Exec::LD_B_ABS_PROVEN: absolute_load(a_reg, k, 1, true); return true;
      case Exec::LDX_B_MSH:
      case Exec::LDX_B_MSH_PROVEN:
        if (absolute_load(x_reg, k, 1, true, 0xf)) a_.vpsllq(x_reg, x_reg, 2);
        return true;
      case Exec::LD_W_IND: indexed_load(i, k, 4, packet_order_[i] != 0); return true;
      case Exec::LD_H_IND: indexed_load(i, k, 2, packet_order_[i] != 0); return true;
      case Exec::LD_B_IND: indexed_load(i, k, 1, true); return true;
      case Exec::LD_W_LEN: a_.vmovdqa64(a_reg, wire_reg); return true;
      case Exec::LDX_W_LEN: a_.vmovdqa64(x_reg, wire_reg); return true;
      case Exec::LD_IMM: a_.vpbroadcastq(a_reg, x86::qword_ptr(constant(k))); return true;
      case Exec::LDX_IMM: a_.vpbroadcastq(x_reg, x86::qword_ptr(constant(k))); return true;
      case Exec::LD_MEM: a_.vmovdqa64(a_reg, scratch_reg(k)); return true;
      case Exec::LDX_MEM: a_.vmovdqa64(x_reg, scratch_reg(k)); return true;
      case Exec::ST: a_.vmovdqa64(scratch_reg(k), a_reg); return true;
      case Exec::STX: a_.vmovdqa64(scratch_reg(k), x_reg); return true;
      case Exec::TAX: a_.vmovdqa64(x_reg, a_reg); return true;
      case Exec::TXA: a_.vmovdqa64(a_reg, x_reg); return true;
      // A and X hold 32-bit values in 64-bit lanes: what can carry past bit 31 is cut back.
      case Exec::ADD_K: a_.vpaddq(a_reg, a_reg, broadcast(k)); return wrap();
      case Exec::ADD_X: a_.vpaddq(a_reg, a_reg, x_reg); return wrap();
      case Exec::SUB_K: a_.vpsubq(a_reg, a_reg, broadcast(k)); return wrap();
      case Exec::SUB_X: a_.vpsubq(a_reg, a_reg, x_reg); return wrap();
      case Exec::MUL_K: a_.vpmuludq(a_reg, a_reg, broadcast(k)); return wrap();
      case Exec::MUL_X: a_.vpmuludq(a_reg, a_reg, x_reg); return wrap();
      case Exec::AND_K: a_.vpandq(a_reg, a_reg, broadcast(in_order(i, k))); return true;
      case Exec::AND_X: a_.vpandq(a_reg, a_reg, x_reg); return true;
      case Exec::OR_K: a_.vporq(a_reg, a_reg, broadcast(k)); return true;
      case Exec::OR_X: a_.vporq(a_reg, a_reg, x_reg); return true;
      case Exec::XOR_K: a_.vpxorq(a_reg, a_reg, broadcast(k)); return true;
      case Exec::XOR_X: a_.vpxorq(a_reg, a_reg, x_reg); return true;
      case Exec::LSH_K: a_.vpsllq(a_reg, a_reg, k); return wrap();
      case Exec::RSH_K: a_.vpsrlq(a_reg, a_reg, k); return true;
      // A shift by X of 32 or more gives 0, as the interpreter's: in 64-bit lanes a right
      // shift of a 32-bit value by that much is 0, a left shift leaves only bits the wrap cuts.
      case Exec::LSH_X: a_.vpsllvq(a_reg, a_reg, x_reg); return wrap();
      case Exec::RSH_X: a_.vpsrlvq(a_reg, a_reg, x_reg); return true;
      case Exec::NEG:
        a_.vpxorq(t0, t0, t0);
        a_.vpsubq(a_reg, t0, a_reg);
        return wrap();
      case Exec::DIV_K:
      case Exec::MOD_K:
        a_.vpbroadcastq(t1, x86::qword_ptr(constant(k)));
        divide(s.op == Exec::MOD_K);
        return true;
      case Exec::DIV_X:
      case Exec::MOD_X:
        // Lanes dividing by 0 are rejected; the others divide by X, and the rejected ones by 1
        // (never by 0).
        a_.k(reach_).vptestmq(reach_, x_reg, x_reg);
        a_.vpmaxuq(t1, x_reg, broadcast(1));
        divide(s.op == Exec::MOD_X);
        return true;
      case Exec::JA:
        if (s.jt != i + 1) {
          jump(s.jt, reach_);
          return false;
        }
        return true;
      case Exec::RET_K:
        if (k != 0) a_.k(reach_).vpbroadcastq(verdict_reg, x86::qword_ptr(constant(k)));
        release(reach_);
        return false;
      case Exec::RET_A:
        a_.k(reach_).vmovdqa64(verdict_reg, a_reg);
        release(reach_);
        return false;
      default: return true;  // not reached: compile() refuses what is not handled above
    }
  }

  bool wrap() {
    a_.vpandq(a_reg, a_reg, broadcast(low32));
    return true;
  }

  // A = A / t1 (A % t1 with `modulo`), t1 > 0: the quotient of two exact doubles rounded
  // toward zero is the integer quotient for 32-bit operands (a/d is never within 2^-53 of the
  // next integer above it), and the embedded rounding suppresses every floating-point
  // exception whatever the caller's MXCSR says.
  void divide(bool modulo) {
    a_.vcvtuqq2pd(t0, a_reg);
    a_.vcvtuqq2pd(t2, t1);
    a_.rz_sae().vdivpd(t0, t0, t2);
    a_.sae().vcvttpd2uqq(t0, t0);
    if (!modulo) {
      a_.vmovdqa64(a_reg, t0);
      return;
    }
    a_.vpmuludq(t0, t0, t1);
    a_.vpsubq(a_reg, a_reg, t0);
  }

  bool conditional(std::size_t i) {
    const Step& s = steps_[i];
    if (s.jt == s.jf) {
      if (s.jt == i + 1) return true;
      jump(s.jt, reach_);
      return false;
    }
    const bool by_x =
        s.op == Exec::JEQ_X || s.op == Exec::JGT_X || s.op == Exec::JGE_X || s.op == Exec::JSET_X;
    const bool true_rejects = plan_.rejects[s.jt], false_rejects = plan_.rejects[s.jf];
    // The same field compared the same way again (libpcap repeats tests on different paths):
    // the lanes' outcome is in the frame already. Such comparisons run on every lane, the
    // others only on the lanes that reach them, which saves an and.
    std::optional<Comparison> key;
    if (!by_x && a_symbol_) key = Comparison{*a_symbol_, s.op, s.k};
    if (key) {
      if (auto found = comparisons_.find(*key); found != comparisons_.end()) {
        reused_.insert(found->second);
        const x86::KReg condition = take_mask();
        a_.kmovb(condition, compared_slot(found->second));
        return branch(i, condition, true);
      }
      comparisons_.emplace(*key, i);
      if (reuse_.contains(i)) {  // a later one repeats it (known from a first pass)
        const x86::KReg condition = take_mask();
        compare(i, condition, x86::KReg(), false);
        a_.kmovb(compared_slot(i), condition);
        return branch(i, condition, true);
      }
    }
    // A way into `ret #0` needs no lanes (their verdict stays 0): when the other way is the
    // next instruction, one comparison gives the lanes that go on.
    if (false_rejects && s.jt == i + 1) {
      compare(i, reach_, reach_, false);
      return true;
    }
    if (true_rejects && s.jf == i + 1) {
      compare(i, reach_, reach_, true);
      return true;
    }
    const x86::KReg taken = take_mask();
    compare(i, taken, reach_, false);
    return branch(i, taken, false);
  }

  // Instruction i's comparison of A with K or X into `out`, for the lanes in `lanes` (every
  // lane when it is no register), its condition negated when `negate`.
  void compare(std::size_t i, const x86::KReg& out, const x86::KReg& lanes, bool negate) {
    const Step& s = steps_[i];
    const bool by_x =
        s.op == Exec::JEQ_X || s.op == Exec::JGT_X || s.op == Exec::JGE_X || s.op == Exec::JSET_X;
    materialize_a();
    const asmjit::Operand operand =
        by_x ? asmjit::Operand(x_reg) : asmjit::Operand(broadcast(in_order(i, s.k)));
    if (lanes.isValid()) a_.k(lanes);
    switch (s.op) {
      case Exec::JEQ_K:
      case Exec::JEQ_X:
        a_.emit(x86::Inst::kIdVpcmpuq, out, a_reg, operand, asmjit::imm(negate ? cmp_ne : cmp_eq));
        break;
      case Exec::JGT_K:
      case Exec::JGT_X:
        a_.emit(x86::Inst::kIdVpcmpuq, out, a_reg, operand, asmjit::imm(negate ? cmp_le : cmp_nle));
        break;
      case Exec::JGE_K:
      case Exec::JGE_X:
        a_.emit(x86::Inst::kIdVpcmpuq, out, a_reg, operand, asmjit::imm(negate ? cmp_lt : cmp_nlt));
        break;
      default:
        a_.emit(negate ? x86::Inst::kIdVptestnmq : x86::Inst::kIdVptestmq, out, a_reg, operand);
        break;
    }
  }

  // The jump of conditional i, `taken` (a mask register it gives up) holding its condition
  // (on every lane when `unmasked`, else already only on the lanes that reach it): those lanes
  // go their ways. The lanes that go on to the next instruction stay in their register.
  bool branch(std::size_t i, const x86::KReg& taken, bool unmasked) {
    const Step& s = steps_[i];
    const bool true_rejects = plan_.rejects[s.jt], false_rejects = plan_.rejects[s.jf];
    if (unmasked && false_rejects && s.jt == i + 1) {
      a_.kandb(reach_, reach_, taken);
      release(taken);
      return true;
    }
    if (unmasked && true_rejects && s.jf == i + 1) {
      a_.kandnb(reach_, taken, reach_);
      release(taken);
      return true;
    }
    if (unmasked) a_.kandb(taken, taken, reach_);
    if (false_rejects) {  // the lanes that do not take the jump need no mask
      release(reach_);
      jump(s.jt, taken);
      return false;
    }
    a_.kandnb(reach_, taken, reach_);  // now the lanes that do not take the jump
    const x86::KReg other = reach_;
    if (true_rejects) {
      release(taken);
      if (s.jf == i + 1) return true;
      jump(s.jf, other);
      return false;
    }
    if (s.jt == i + 1) {
      reach_ = taken;
      jump(s.jf, other);
      return true;
    }
    jump(s.jt, taken);
    if (s.jf == i + 1) return true;
    jump(s.jf, other);
    return false;
  }

  // The constant `k` of instruction i as it must meet an A held in the packet's byte order
  // (packet_order_a(): only jeq, jset and and read that A). A jeq constant wider than the
  // load never matches: it stays as it is, beyond any value of the load's width.
  std::uint64_t in_order(std::size_t i, std::uint32_t k) const {
    const int width = packet_order_[i];
    if (width == 0) return k;
    const std::uint64_t mask = width == 4 ? low32 : 0xffff;
    if (steps_[i].op == Exec::JEQ_K && (k & ~mask) != 0) return k;
    const std::uint32_t v = static_cast<std::uint32_t>(k & mask);
    return width == 4 ? __builtin_bswap32(v) : ((v & 0xff) << 8) | (v >> 8);
  }

  // The bytes of each lane at `offset` (in the 8 gathered there) into `to`: byte-swapped to
  // host order with a shuffle, or, for a byte or an A the program only compares for equality,
  // tests or masks with constants (held in the packet's order, its constants swapped), shifted
  // down and masked, which runs on other ports than the shuffles and the comparisons.
  void extract(const x86::Zmm& to, const x86::Zmm& from, int offset, int size, bool in_order,
               std::uint64_t mask = 0) {
    if (!in_order) {
      a_.vpshufb(to, from, x86::zmmword_ptr(shuffle(offset, size)));
      return;
    }
    if (mask == 0) mask = size == 4 ? low32 : (std::uint64_t{1} << (8 * size)) - 1;
    if (offset != 0) {
      a_.vpsrlq(to, from, static_cast<std::uint32_t>(8 * offset));
      a_.vpandq(to, to, broadcast(mask));
    } else {
      a_.vpandq(to, from, broadcast(mask));
    }
  }

  // ld/ldh/ldb [k] (and ldxb's byte) into `to`: every lane has at least min_caplen bytes, so
  // the 8 bytes at min(k, min_caplen - 8) are in bounds; one gather of them serves every
  // absolute load they cover. `mask`: for a byte, the bits to keep (ldxb's low four).
  // Returns false when the register holds this very value already, for every lane (nothing
  // wrote it since): then nothing is emitted.
  bool absolute_load(const x86::Zmm& to, std::uint32_t k, int size, bool in_order,
                     std::uint64_t mask = 0) {
    std::optional<Symbol>& symbol = to == a_reg ? a_symbol_ : x_symbol_;
    const Symbol loaded{k, size, in_order, mask};
    if (symbol == loaded) return false;
    symbol = loaded;
    const std::uint32_t found = window_for(k, size);
    const auto start = static_cast<int>(windows_[found].start);
    if (to == a_reg) {
      a_deferred_ = Deferred{found, static_cast<int>(k) - start, size, in_order};
      return true;
    }
    extract(to, x86::zmm(window_first + found), static_cast<int>(k) - start, size, in_order, mask);
    return true;
  }

  // The window register holding bytes [k, k + size) of every packet, gathered now if none
  // does.
  std::uint32_t window_for(std::uint32_t k, int size) {
    const std::uint64_t end = std::uint64_t{k} + static_cast<std::uint64_t>(size);
    std::uint32_t found = window_count;
    for (std::uint32_t w = 0; w < window_count; ++w)
      if (windows_[w].valid && windows_[w].start <= k && end <= windows_[w].start + 8) found = w;
    if (found == window_count) {
      found = next_window_;
      if (a_deferred_ && a_deferred_->window == found) materialize_a();  // its bytes are going
      next_window_ = (next_window_ + 1) % window_count;
      // The planned window covering the load (its start is at most k, its end at least end).
      std::uint64_t start = 0;
      for (const std::uint64_t w : planned_)
        if (w <= k && end <= w + 8) start = w;
      windows_[found] = {true, start};
      const x86::Zmm reg = x86::zmm(window_first + found);
      // All lanes. (From k0, which this code never writes: xnor of k4 with itself would wait
      // for k4's last writer, the previous gather, which clears it when it completes, and so
      // chain every gather to the one before.)
      a_.kxnorb(gather_mask, never_written, never_written);
      a_.vpxorq(reg, reg, reg);
      a_.k(gather_mask).vpgatherqq(reg, x86::ptr(start, data_reg));
      ++gathers_;
    }
    return found;
  }

  // Instruction i, where A is the same packet field on every way in (plan_.a_load): that field
  // into A for the lanes that reach i. Only for them: the others' A (lanes on their way to a
  // later target, past i) must survive, as every instruction runs.
  void reload_a(std::size_t i) {
    const auto load = static_cast<std::uint64_t>(plan_.a_load[i]);
    const Symbol field{static_cast<std::uint32_t>(load / 8), static_cast<int>(load % 8),
                       packet_order_[i] != 0, 0};
    if (a_symbol_ == field) return;  // every lane's A is that field already
    materialize_a();
    const std::uint32_t w = window_for(field.k, field.size);
    extract(t0, x86::zmm(window_first + w), static_cast<int>(field.k - windows_[w].start),
            field.size, field.in_order);
    a_.k(reach_).vmovdqa64(a_reg, t0);
    a_symbol_.reset();
  }

  // A's deferred load, extracted now.
  void materialize_a() {
    if (!a_deferred_) return;
    const Deferred d = *a_deferred_;
    a_deferred_.reset();
    extract(a_reg, x86::zmm(window_first + d.window), d.offset, d.size, d.in_order);
  }

  // ld/ldh/ldb [x + k]: in bounds where X + k + size <= caplen (64-bit sums: no wrap); the
  // others leave k1 (their packets are rejected if that is their path). The in-bounds lanes
  // read the 8 bytes at min(X + k, caplen - 8) (caplen >= min_caplen >= 8) and shift their
  // value down.
  void indexed_load(std::size_t i, std::uint32_t k, int size, bool in_order) {
    a_.vpaddq(t1, x_reg, broadcast(std::uint64_t{k} + static_cast<std::uint64_t>(size)));
    a_.k(reach_).vpcmpuq(reach_, t1, caplen_reg, cmp_le);
    // The 8 bytes an earlier indexed load gathered, with the same X, on every way here (so
    // every lane that reaches this load reached that one, in bounds) and covering this load's
    // bytes: only the shift differs. (Where that gather was skipped, no lane reaches here.)
    const IndexedWindow& w = indexed_window_;
    if (w.valid && w.x_version == x_version_ && k >= w.k && k + size >= w.k + w.size &&
        std::uint64_t{k} + static_cast<std::uint64_t>(size) <= std::uint64_t{w.k} + 8 &&
        dominators_[i][w.at]) {
      a_.vpaddq(t0, x_reg, broadcast(k));
      a_.vpsubq(t0, t0, free_scratch_[1]);
      a_.vpsllq(t0, t0, 3);
      a_.vpsrlvq(a_reg, free_scratch_[0], t0);
      extract(a_reg, a_reg, 0, size, in_order);
      return;
    }
    // Only the lanes that reach the load read the packet, and none at all when no lane does:
    // a gather waits for every line it reads, and this load is often on a path few packets
    // take (the transport header of one protocol among several).
    const bool keep = free_scratch_.size() == 2;
    const x86::Zmm bytes = keep ? free_scratch_[0] : a_reg;
    a_.vpxorq(a_reg, a_reg, a_reg);
    const asmjit::Label skip = a_.newLabel();
    a_.kmovb(gather_mask, reach_);
    a_.kortestb(reach_, reach_);
    a_.jz(skip);
    a_.vpaddq(t0, x_reg, broadcast(k));       // X + k
    a_.vpsubq(t1, caplen_reg, broadcast(8));  // caplen - 8
    a_.vpminuq(t1, t0, t1);                   // where the 8 bytes start
    a_.vpsubq(t0, t0, t1);                    // the value's offset in them
    a_.vpsllq(t0, t0, 3);                     // in bits
    if (keep) a_.vmovdqa64(free_scratch_[1], t1);
    a_.vpaddq(t1, t1, data_reg);  // their addresses
    if (keep) a_.vpxorq(bytes, bytes, bytes);
    a_.k(gather_mask).vpgatherqq(bytes, x86::ptr(std::uint64_t{0}, t1));
    ++gathers_;
    a_.vpsrlvq(a_reg, bytes, t0);
    extract(a_reg, a_reg, 0, size, in_order);
    a_.bind(skip);
    if (keep) indexed_window_ = {true, i, x_version_, k, size};
  }

  // ---- constants, emitted after the code ----
  x86::Mem broadcast(std::uint64_t value) { return x86::qword_ptr(constant(value))._1to8(); }
  asmjit::Label constant(std::uint64_t value) {
    auto [it, added] = constants_.try_emplace(value);
    if (added) it->second = a_.newLabel();
    return it->second;
  }
  x86::Mem table(const std::array<std::uint64_t, 8>& words) {
    auto [it, added] = tables_.try_emplace(words);
    if (added) it->second = a_.newLabel();
    return x86::zmmword_ptr(it->second);
  }
  // vpshufb's control for taking bytes [offset, offset + size) out of each 64-bit lane, in
  // reverse (network to host order), the rest zero.
  asmjit::Label shuffle(int offset, int size) {
    std::array<std::uint64_t, 8> words{};
    for (int q = 0; q < 8; ++q) {
      std::uint64_t word = 0;
      for (int b = 0; b < 8; ++b) {
        const std::uint64_t index =
            b < size ? static_cast<std::uint64_t>((q % 2) * 8 + offset + size - 1 - b) : 0x80;
        word |= index << (8 * b);
      }
      words[static_cast<std::size_t>(q)] = word;
    }
    table(words);
    return tables_.at(words);
  }
  void emit_constants() {
    a_.align(asmjit::AlignMode::kData, 64);
    for (const auto& [words, label] : tables_) {
      a_.bind(label);
      for (const std::uint64_t word : words) a_.embedUInt64(word);
    }
    for (const auto& [value, label] : constants_) {
      a_.bind(label);
      a_.embedUInt64(value);
    }
  }

  std::span<const Step> steps_;
  const BranchFreePlan& plan_;
  const PacketLayout& layout_;
  x86::Assembler& a_;
  const std::vector<int> packet_order_;  // per instruction: packet_order_a()
  // What A or X holds for every lane, when it is a packet field (not yet changed since), for
  // reusing loads and comparisons.
  struct Symbol {
    std::uint32_t k = 0;
    int size = 0;
    bool in_order = false;
    std::uint64_t mask = 0;  // ldxb's, or 0
    bool operator==(const Symbol&) const = default;
    auto operator<=>(const Symbol&) const = default;
  };
  struct Comparison {
    Symbol field;
    Exec op;
    std::uint32_t k;
    auto operator<=>(const Comparison&) const = default;
  };
  std::optional<Symbol> a_symbol_, x_symbol_;
  std::uint64_t x_version_ = 0;  // counts the writes to X, merges included
  // The last indexed load that gathered into free_scratch_ (its bytes, then where they start).
  struct IndexedWindow {
    bool valid = false;
    std::size_t at = 0;
    std::uint64_t x_version = 0;
    std::uint32_t k = 0;
    int size = 0;
  } indexed_window_;
  std::vector<std::vector<bool>> dominators_;  // [j][i]: every way to j passes through i
  std::vector<x86::Zmm> free_scratch_;
  // An absolute load into A not extracted from its window yet.
  struct Deferred {
    std::uint32_t window = 0;
    int offset = 0, size = 0;
    bool in_order = false;
  };
  std::optional<Deferred> a_deferred_;
  std::map<Comparison, std::size_t> comparisons_;  // -> the instruction whose byte holds it
  std::set<std::size_t> reuse_;   // comparisons to keep (reused, as a first pass found)
  std::set<std::size_t> reused_;  // comparisons this pass reused
  std::int32_t compared_base_ = 0;
  x86::Mem compared_slot(std::size_t i) const {
    return x86::byte_ptr(x86::rsp, compared_base_ + static_cast<std::int32_t>(i));
  }
  std::vector<bool> pending_written_;  // per target: a jump to it has written its lanes
  struct Pending {  // where they are: a mask register, pending_registers[reg], or the frame
    x86::KReg mask;
    int reg = -1;
  };
  std::vector<Pending> pending_;
  x86::KReg reach_ = x86::k1;  // the lanes that reach the instruction being emitted
  std::uint32_t masks_in_use_ = 1, registers_in_use_ = 0;  // bits of lane_masks (k1: reach_)
  std::vector<Values> save_set_;                           // per target: the values its jumps carry
  std::vector<std::array<std::int32_t, 2 + scratch_words>> value_slot_;
  std::int32_t frame_ = 0;
  struct Window {
    bool valid = false;
    std::uint64_t start = 0;
  };
  std::vector<std::uint64_t> planned_;  // the windows' starts
  std::array<Window, window_count> windows_{};
  std::uint32_t next_window_ = 0;
  std::size_t gathers_ = 0;
  std::map<std::uint64_t, asmjit::Label> constants_;
  std::map<std::array<std::uint64_t, 8>, asmjit::Label> tables_;
};

}  // namespace

bool VectorFilter::host_supported() {
  static const bool supported =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return supported;
}

Result<VectorFilter> VectorFilter::compile(const Program& program, std::string* log) {
  if (!host_supported()) return refuse("this CPU has no AVX-512 (F, BW, DQ and VL)");
  const auto& layout = packet_layout();
  if (!layout || layout->stride != 32 || layout->data % 8 != 0 || layout->size % 8 != 0 ||
      layout->wire % 4 != 0)
    return refuse("the Packet layout is not four 8-byte words");
  const auto& steps = program.code().steps;
  if (std::any_of(steps.begin(), steps.end(), is_ancillary_or_backward))
    return refuse("ancillary loads and backward jumps are not vectorized");
  for (const Step& step : steps)
    if ((step.op == Exec::DIV_K || step.op == Exec::MOD_K) && step.k == 0)
      return refuse("division by the constant 0");
  auto plan = plan_branch_free(program);
  if (!plan) return plan.error();
  VectorFilter filter;
  // Every load reads 8 bytes: the code takes packets of at least 8 (shorter ones, which a
  // program whose absolute loads end sooner could accept, go to the caller).
  plan->min_caplen = std::max<std::uint64_t>(plan->min_caplen, 8);
  filter.min_caplen_ = plan->min_caplen;
  std::vector<std::size_t> offsets;
  std::size_t frame = 0;
  // Twice: the first pass finds which comparisons are reused, the second keeps only those.
  std::set<std::size_t> reused;
  for (const bool final_pass : {false, true}) {
    auto code = assemble(
        "vector compiler",
        [&](x86::Assembler& a, std::vector<asmjit::Label>&) {
          Emitter emitter(program, *plan, *layout, a, reused);
          frame = emitter.frame();
          if (frame > max_vector_frame) return;
          emitter.emit();
          filter.gathers_ = emitter.gathers();
          reused = emitter.reused();
        },
        offsets, final_pass ? log : nullptr);
    if (frame > max_vector_frame) break;
    if (!code) return code.error();
    if (final_pass) {
      filter.memory_ = std::move(*code);
      filter.loop_ = reinterpret_cast<Loop>(const_cast<std::uint8_t*>(filter.memory_.data()));
    }
  }
  if (frame > max_vector_frame)
    return refuse(fmt::format("{} bytes of saved values, over {}", frame, max_vector_frame));
  return filter;
}

}  // namespace bpfvm::classic::detail
