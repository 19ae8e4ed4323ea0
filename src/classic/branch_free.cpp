// The branch-free compiler (branch_free.hpp): an analysis of the program (which instructions
// each jump reaches, which values are live where, which jumps skip over writes to a live
// value), then one pass emitting straight-line x86-64 through asmjit.
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

#include "classic/code.hpp"

#include <asmjit/x86.h>
#include <fmt/format.h>

#include <bit>
#include <limits>
#include <map>
#include <optional>
#include <vector>

namespace bpfvm::classic::detail {
namespace {

namespace x86 = asmjit::x86;
using CC = x86::CondCode;

// Values the program can hold: A, X and the scratch words, as bits of a mask.
using Values = std::uint32_t;
constexpr Values value_a = 1u << 0, value_x = 1u << 1;
constexpr Values value_m(std::uint32_t k) { return 1u << (2 + k); }

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

// A jump from `from` to a target other than the next instruction.
struct Edge {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  Values merged = 0;       // values live at `to` that instructions between them overwrite
  std::int32_t flag = -1;  // stack slot of the edge's flag, when merged != 0
  std::int32_t saved[2 + scratch_words] = {};  // stack slots of the saved values, by bit
};

constexpr std::uint32_t swap32(std::uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

// Always 0: what cmov writes into a flag whose condition failed.
const x86::Gp zero = x86::r15d;

constexpr std::int32_t scratch_slot(std::uint32_t k) { return static_cast<std::int32_t>(4 * k); }
constexpr std::int32_t safe_slot = 64;
constexpr std::int32_t wire_slot = 72;
constexpr std::int32_t first_free_slot = 76;
// System V: a leaf function may use the 128 bytes below rsp without moving it.
constexpr std::int32_t red_zone = 128;

class Compiler {
 public:
  Compiler(const Program& program, x86::Assembler& a)
      : insns_(program.insns()), steps_(program.code().steps), a_(a) {}

  Status run() {
    if (auto status = analyse(); !status) return status.error();
    emit();
    return Ok{};
  }

  std::uint64_t min_caplen() const { return min_caplen_; }
  bool reads_ancillary() const { return reads_ancillary_; }

 private:
  Error unsupported(std::size_t index, std::string_view why) {
    return make_error(Error::Kind::usage,
                      fmt::format("instruction {}: {}: not compiled branch-free", index, why));
  }

  Status analyse() {
    const std::size_t n = steps_.size();
    if (n > max_branch_free_insns)
      return make_error(Error::Kind::usage,
                        fmt::format("{} instructions, more than the {} compiled branch-free", n,
                                    max_branch_free_insns));
    for (std::size_t i = 0; i < n; ++i) {
      const Step& step = steps_[i];
      if (step.op == Exec::JA_BACKWARD) return unsupported(i, "a backward jump");
      reads_ancillary_ = reads_ancillary_ || step.op == Exec::LD_ANCILLARY;
      reads_wire_length_ =
          reads_wire_length_ || step.op == Exec::LD_W_LEN || step.op == Exec::LDX_W_LEN;
      if (int size = absolute_size(step.op); size != 0) {
        std::uint64_t end = std::uint64_t{insns_[i].k} + static_cast<std::uint64_t>(size);
        if (end > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
          return unsupported(i, "an absolute load beyond 2^31");
        min_caplen_ = std::max(min_caplen_, end);
      }
    }
    // A `ret #0` needs no flag: it adds nothing to the result, so jumps to it are dropped.
    rejects_.assign(n, false);
    for (std::size_t i = 0; i < n; ++i)
      rejects_[i] = steps_[i].op == Exec::RET_K && insns_[i].k == 0;
    // Liveness, backwards (every edge goes forwards).
    live_in_.assign(n, 0);
    for (std::size_t i = n; i-- > 0;) {
      Values out = 0;
      for (std::uint32_t s : successors(steps_[i], i)) out |= live_in_[s];
      Effect effect = effect_of(steps_[i]);
      live_in_[i] = effect.uses | (out & ~effect.defines);
    }
    // Jumps, what they must merge, and their slots.
    std::int32_t next_slot = first_free_slot;
    pending_slot_.assign(n, -1);
    incoming_.assign(n, {});
    for (std::size_t i = 0; i < n; ++i) {
      for (std::uint32_t t : successors(steps_[i], i)) {
        if (t == i + 1 || rejects_[t]) continue;
        Edge edge;
        edge.from = static_cast<std::uint32_t>(i);
        edge.to = t;
        Values skipped = 0;
        for (std::size_t s = i + 1; s < t; ++s) skipped |= effect_of(steps_[s]).defines;
        edge.merged = live_in_[t] & skipped;
        if (edge.merged != 0) {
          edge.flag = next_slot;
          next_slot += 4;
          for (int bit = 0; bit < 2 + static_cast<int>(scratch_words); ++bit) {
            if ((edge.merged & (1u << bit)) == 0) continue;
            edge.saved[bit] = next_slot;
            next_slot += 4;
          }
        }
        if (pending_slot_[t] < 0) {
          pending_slot_[t] = next_slot;
          next_slot += 4;
        }
        edge_of_[{static_cast<std::uint32_t>(i), t}] = edges_.size();
        incoming_[t].push_back(edges_.size());
        edges_.push_back(edge);
      }
    }
    frame_ = (next_slot + 15) & ~15;
    allocate_pending_registers();
    return Ok{};
  }

  // The flags of jumps to a target are or-ed into its pending word from the first jump to the
  // target itself: in memory that is a chain of read-modify-writes, each waiting for the last
  // store. Callee-saved registers hold them instead, while there are free ones (linear scan
  // over the intervals [first jump, target]).
  void allocate_pending_registers() {
    static const x86::Gp pool[] = {x86::ebx, x86::ebp, x86::r12d, x86::r13d, x86::r14d};
    const std::size_t n = steps_.size();
    std::vector<std::size_t> first_jump(n, n);
    for (const Edge& edge : edges_)
      first_jump[edge.to] = std::min<std::size_t>(first_jump[edge.to], edge.from);
    pending_register_.assign(n, -1);
    std::vector<std::size_t> busy_until(std::size(pool), 0);  // a register is free from there
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t t = i + 1; t < n; ++t) {
        if (pending_slot_[t] < 0 || first_jump[t] != i) continue;
        for (std::size_t r = 0; r < std::size(pool); ++r) {
          if (busy_until[r] > i) continue;
          busy_until[r] = t;  // read when t is entered, before t's own jumps write
          pending_register_[t] = static_cast<int>(r);
          used_registers_ |= 1u << r;
          break;
        }
      }
    }
    saved_registers_.push_back(zero.r64());
    for (std::size_t r = 0; r < std::size(pool); ++r)
      if ((used_registers_ & (1u << r)) != 0) saved_registers_.push_back(pool[r].r64());
    pool_ = pool;
  }

  // Where target t's pending flags are: a register, or its stack slot.
  asmjit::Operand pending(std::size_t t) const {
    if (pending_register_[t] >= 0) return pool_[pending_register_[t]];
    return slot(pending_slot_[t]);
  }

  x86::Mem slot(std::int32_t offset) const {
    return x86::dword_ptr(x86::rsp, frame_ > red_zone ? offset : offset - frame_);
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
    const Edge& edge = edges_[edge_of_.at({static_cast<std::uint32_t>(i), t})];
    if (!pending_written_[t]) {
      if (!(pending(t).isReg() && pending(t).as<x86::Gp>() == flag))
        a_.emit(x86::Inst::kIdMov, pending(t), flag);
      pending_written_[t] = true;
    } else {
      a_.emit(x86::Inst::kIdOr, pending(t), flag);
    }
    if (edge.merged == 0) return;
    a_.mov(slot(edge.flag), flag);
    for (int bit = 0; bit < 2 + static_cast<int>(scratch_words); ++bit)
      if ((edge.merged & (1u << bit)) != 0) save_value(bit, edge.saved[bit]);
  }

  // r9d = whether instruction i is reached; restores the values a taken jump saved.
  void enter(std::size_t i) {
    bool from_previous = falls_through_;
    falls_through_ = true;  // unless the instruction says otherwise
    if (i == 0) {
      a_.mov(x86::r9d, 1);
      return;
    }
    if (pending_slot_[i] >= 0) {
      if (from_previous)
        a_.emit(x86::Inst::kIdOr, x86::r9d, pending(i));
      else
        a_.emit(x86::Inst::kIdMov, x86::r9d, pending(i));
    } else if (!from_previous) {
      a_.xor_(x86::r9d, x86::r9d);  // unreachable: its code runs, its flag stays 0
    }
    for (std::size_t e : incoming_[i]) {
      const Edge& edge = edges_[e];
      if (edge.merged == 0) continue;
      a_.cmp(slot(edge.flag), 0);
      for (int bit = 0; bit < 2 + static_cast<int>(scratch_words); ++bit) {
        if ((edge.merged & (1u << bit)) == 0) continue;
        if (bit == 0) {
          a_.cmov(CC::kNE, x86::eax, slot(edge.saved[bit]));
        } else if (bit == 1) {
          a_.cmov(CC::kNE, x86::r8d, slot(edge.saved[bit]));
        } else {
          std::int32_t m = scratch_slot(static_cast<std::uint32_t>(bit - 2));
          a_.mov(x86::r11d, slot(m));
          a_.cmov(CC::kNE, x86::r11d, slot(edge.saved[bit]));
          a_.mov(slot(m), x86::r11d);
        }
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
  void checked_load(bool indexed, std::uint32_t k, int size, bool fused) {
    const x86::Gp address = fused ? x86::rdx : x86::rcx, other = fused ? x86::rcx : x86::rdx;
    const std::uint64_t end = std::uint64_t{k} + static_cast<std::uint64_t>(size);
    if (indexed && end <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()) &&
        min_caplen_ >= 4) {
      // The short form: r8 holds X zero-extended (every write to it is a 32-bit one), so
      // X + k + size and data + X + k are one lea each; out of bounds reads the packet's first
      // bytes, which exist (min_caplen >= 4), instead.
      a_.lea(other, x86::ptr(x86::r8, static_cast<std::int32_t>(end)));
      a_.lea(address, x86::ptr(x86::rdi, x86::r8, 0, static_cast<std::int32_t>(k)));
      a_.cmp(other, x86::rsi);
      a_.cmov(CC::kA, address, x86::rdi);
      a_.cmov(CC::kA, x86::r9d, zero);
      if (fused)
        fused_operand_ = x86::ptr(address), fused_width_ = size;
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
      fused_operand_ = x86::ptr(address), fused_width_ = size;
    else
      load(x86::eax, x86::ptr(address), size);
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

  // Sets the flags for the jump's comparison; returns the condition code meaning "true". A
  // fused comparison reads the loaded value from memory, with the constant in the packet's
  // byte order (equality and bit tests do not care about byte order).
  CC compare(const Step& step, std::uint32_t k) {
    auto imm = static_cast<std::int32_t>(k);
    if (fused_operand_) {
      x86::Mem at = *fused_operand_;
      fused_operand_.reset();
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
    const Step& step = steps_[i];
    if (step.op != Exec::JEQ_K && step.op != Exec::JSET_K) return false;
    if (step.jt == step.jf) return false;
    if (((live_in_[step.jt] | live_in_[step.jf]) & value_a) != 0) return false;
    int size = load_width(steps_[i - 1].op);
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
      a_.cmov(other_holds, x86::r9d, zero);  // before take_edge's `or` changes the flags
      take_edge(i, other, flag);
      falls_through_ = true;
      return;
    }
    flag_if(x86::ecx, cc);          // taken
    flag_if(x86::edx, negate(cc));  // not taken
    take_edge(i, step.jt, x86::ecx);
    take_edge(i, step.jf, x86::edx);
  }

  // The register holding target t's flags, when the next write to it is the first one: a
  // jump's flag can then be computed there directly.
  std::optional<x86::Gp> first_pending_register(std::uint32_t t) const {
    if (rejects_[t] || pending_written_[t] || pending_register_[t] < 0) return std::nullopt;
    return pool_[pending_register_[t]];
  }

  // result |= reached ? value : 0.
  // (At most one `ret` is reached, so "result = value when reached" is the same.)
  void ret(const x86::Gp* value, std::uint32_t k) {
    falls_through_ = false;
    if (value == nullptr) {
      a_.mov(x86::ecx, k);
      value = &x86::ecx;
    }
    a_.test(x86::r9d, x86::r9d);
    a_.cmov(CC::kNE, x86::r10d, *value);
  }

  void absolute_load(std::size_t i, std::int32_t k, int size) {
    if (fusable(i + 1))
      fused_operand_ = x86::ptr(x86::rdi, k), fused_width_ = size;  // the jump compares memory
    else
      load(x86::eax, x86::ptr(x86::rdi, k), size);
  }

  void instruction(std::size_t i) {
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
      case Exec::LD_W_IND: return checked_load(true, k, 4, fusable(i + 1));
      case Exec::LD_H_IND: return checked_load(true, k, 2, fusable(i + 1));
      case Exec::LD_B_IND: return checked_load(true, k, 1, fusable(i + 1));
      // Without ancillary values, an ordinary load that is out of bounds (the caller does not
      // run this code on packets with ancillary values, see reads_ancillary()).
      case Exec::LD_ANCILLARY: return checked_load(false, k, step.size, false);
      case Exec::LDX_B_MSH:
      case Exec::LDX_B_MSH_PROVEN:
        load(x86::r8d, x86::ptr(x86::rdi, imm), 1);
        a_.and_(x86::r8d, 0xf);
        a_.shl(x86::r8d, 2);
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
      case Exec::JA_BACKWARD: return;  // refused by analyse()
    }
  }

  void emit() {
    for (const x86::Gp& reg : saved_registers_) a_.push(reg);
    // The frame lies in the red zone below rsp when it fits (the code calls nothing), so rsp
    // moves only for larger ones.
    if (frame_ > red_zone) a_.sub(x86::rsp, frame_);
    a_.xor_(zero, zero);
    if (reads_wire_length_) a_.mov(slot(wire_slot), x86::edx);
    // A starts at 0 (only its value on the path taken matters, and that path reads it before
    // writing it only when it is live at the start).
    if ((live_in_[0] & value_a) != 0) a_.xor_(x86::eax, x86::eax);
    // X always: indirect loads use all of r8 in addresses, and on paths not taken it must not
    // hold the caller's 64-bit garbage.
    a_.xor_(x86::r8d, x86::r8d);
    a_.xor_(x86::r10d, x86::r10d);
    for (std::uint32_t k = 0; k < scratch_words; ++k)
      if ((live_in_[0] & value_m(k)) != 0) a_.mov(slot(scratch_slot(k)), 0);
    pending_written_.assign(steps_.size(), false);
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      if (rejects_[i]) {  // `ret #0` adds nothing
        falls_through_ = false;
        continue;
      }
      enter(i);
      instruction(i);
    }
    a_.mov(x86::eax, x86::r10d);
    if (frame_ > red_zone) a_.add(x86::rsp, frame_);
    for (auto reg = saved_registers_.rbegin(); reg != saved_registers_.rend(); ++reg) a_.pop(*reg);
    a_.ret();
  }

  std::span<const Insn> insns_;
  std::span<const Step> steps_;
  x86::Assembler& a_;
  std::uint64_t min_caplen_ = 0;
  bool reads_ancillary_ = false;
  bool reads_wire_length_ = false;
  std::vector<bool> rejects_;
  std::vector<Values> live_in_;
  std::vector<int> pending_register_;  // per target: its register in pool_, or -1
  const x86::Gp* pool_ = nullptr;
  std::uint32_t used_registers_ = 0;
  std::vector<x86::Gp> saved_registers_;
  std::vector<std::int32_t> pending_slot_;          // per target: the or of its jumps' flags
  std::vector<std::vector<std::size_t>> incoming_;  // per target: its edges
  std::vector<Edge> edges_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::size_t> edge_of_;
  std::vector<bool> pending_written_;
  bool falls_through_ = false;
  // A packet load fused into the next instruction's comparison: its operand and width.
  std::optional<x86::Mem> fused_operand_;
  int fused_width_ = 0;  // r9d holds the previous instruction's flag for this one
  std::int32_t frame_ = 0;
};

class ErrorRecorder : public asmjit::ErrorHandler {
 public:
  void handleError(asmjit::Error, const char* message, asmjit::BaseEmitter*) override {
    if (message_.empty()) message_ = message;
  }
  const std::string& message() const { return message_; }

 private:
  std::string message_ = {};
};

}  // namespace

Result<BranchFreeFilter> BranchFreeFilter::compile(const Program& program, std::string* log) {
  asmjit::CodeHolder holder;
  holder.init(asmjit::Environment(asmjit::Arch::kX64));
  ErrorRecorder errors;
  holder.setErrorHandler(&errors);
  asmjit::StringLogger logger;
  if (log != nullptr) holder.setLogger(&logger);
  x86::Assembler assembler(&holder);
  Compiler compiler(program, assembler);
  if (auto status = compiler.run(); !status) return status.error();
  auto failed = [&](std::string_view what) {
    return make_error(
        Error::Kind::invalid_program,
        fmt::format("branch-free compiler: asmjit failed while {}: {}", what, errors.message()));
  };
  if (!errors.message().empty()) return failed("emitting");
  if (holder.flatten() != asmjit::kErrorOk || holder.resolveUnresolvedLinks() != asmjit::kErrorOk)
    return failed("resolving labels");
  if (log != nullptr) *log = std::string(logger.data(), logger.dataSize());
  const std::size_t size = holder.codeSize();
  auto memory =
      jit::ExecMemory::create(size, [&](std::uint8_t* data, std::uint64_t address) -> Status {
        if (holder.relocateToBase(address) != asmjit::kErrorOk) return failed("relocating");
        if (holder.copyFlattenedData(data, size, asmjit::CopySectionFlags::kPadTargetBuffer) !=
            asmjit::kErrorOk)
          return failed("copying the code");
        return Ok{};
      });
  if (!memory) return memory.error();
  return BranchFreeFilter(std::move(*memory), compiler.min_caplen(), compiler.reads_ancillary());
}

}  // namespace bpfvm::classic::detail
