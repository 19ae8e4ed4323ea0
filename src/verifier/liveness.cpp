#include "verifier/liveness.hpp"

#include <bpfvm/insn.hpp>

namespace bpfvm::verifier {

namespace {

constexpr std::uint16_t bit(int r) { return static_cast<std::uint16_t>(1u << r); }
constexpr std::uint16_t args = bit(1) | bit(2) | bit(3) | bit(4) | bit(5);
constexpr std::uint16_t scratch = bit(0) | args;
constexpr std::uint64_t all_slots = ~std::uint64_t{0};
constexpr int slot_size = 8;
constexpr int frame_bytes = static_cast<int>(stack_frame_size);

// The slots an access of `size` bytes at r10 + `off` touches; every slot when the access
// is not inside the frame (the exploration rejects it anyway).
std::uint64_t slots(int off, int size) {
  if (off < -frame_bytes || off + size > 0 || size <= 0) return all_slots;
  const int first = (off + frame_bytes) / slot_size;
  const int last = (off + size - 1 + frame_bytes) / slot_size;
  std::uint64_t m = 0;
  for (int s = first; s <= last; ++s) m |= std::uint64_t{1} << s;
  return m;
}

int access_size(const DecodedInsn& d) {
  switch (d.insn.opcode & 0x18) {
    case 0x00: return 4;  // BPF_W
    case 0x08: return 2;  // BPF_H
    case 0x10: return 1;  // BPF_B
    default: return 8;    // BPF_DW
  }
}

struct Effect {
  std::uint16_t use = 0, def = 0;
  std::uint64_t stack_use = 0, stack_def = 0;
  bool stack_use_is_memory = false;  // a helper's: the bytes, not the values
};

// Which registers may hold a stack pointer (of any frame) before each instruction: a forward
// dataflow, so that loads through other pointers (context, packet, map values) and helper
// calls without stack arguments (bpf_tail_call) are not reads of the stack. r10 is one;
// copies and arithmetic keep it; a load gives one only through a stack pointer and only if
// the program ever stores one (a spill); a local call's r0 may be one (a callee may return a
// pointer into its caller's stack); a subprogram's arguments may be.
std::vector<std::uint16_t> stack_pointers(const std::vector<DecodedInsn>& program,
                                          const std::vector<std::size_t>& entries) {
  const std::size_t n = program.size();
  std::vector<std::uint16_t> in(n, 0);
  std::vector<bool> reached(n, false);
  for (std::size_t e : entries) {
    if (e >= n) continue;
    in[e] = static_cast<std::uint16_t>(bit(frame_pointer) | (e == 0 ? 0 : args));
    reached[e] = true;
  }
  bool spilled = false;
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t k = 0; k < n; ++k) {
      const DecodedInsn& d = program[k];
      if (d.row == nullptr || !reached[k]) continue;
      std::uint16_t m = in[k];
      const int dst = d.insn.dst, src = d.insn.src;
      const bool src_stack = ((m >> src) & 1) != 0;
      auto set = [&](int r, bool v) {
        m = static_cast<std::uint16_t>(v ? (m | bit(r)) : (m & ~bit(r)));
      };
      const bool is_mov = d.row->op == Op::MOV64_IMM || d.row->op == Op::MOV64_REG ||
                          d.row->op == Op::MOV32_IMM || d.row->op == Op::MOV32_REG;
      switch (d.row->shape) {
        case Shape::AluImm:
          if (is_mov) set(dst, false);
          break;
        case Shape::AluReg: set(dst, src_stack || (!is_mov && ((m >> dst) & 1) != 0)); break;
        case Shape::MovSx: set(dst, src_stack); break;
        case Shape::Lddw: set(dst, false); break;
        case Shape::Load: set(dst, src_stack && spilled); break;
        case Shape::StoreReg:
          if (src_stack && !spilled) {
            spilled = true;
            changed = true;
          }
          break;
        case Shape::Atomic:
          if (src_stack && !spilled) {
            spilled = true;
            changed = true;
          }
          set(src, spilled || src_stack);
          set(0, spilled || ((m >> 0) & 1) != 0);
          break;
        case Shape::LdAbs:
        case Shape::LdInd: set(0, false); break;
        case Shape::CallHelper: m = static_cast<std::uint16_t>(m & ~scratch); break;
        case Shape::CallLocal:
        case Shape::CallBtf:
        case Shape::Callx: m = static_cast<std::uint16_t>((m & ~scratch) | bit(0)); break;
        default: break;
      }
      auto flow = [&](std::size_t s) {
        if (s >= n) return;
        const auto merged = static_cast<std::uint16_t>(in[s] | m);
        if (!reached[s] || merged != in[s]) {
          in[s] = merged;
          reached[s] = true;
          changed = true;
        }
      };
      const Shape shape = d.row->shape;
      const std::size_t next = k + (shape == Shape::Lddw ? 2 : 1);
      switch (shape) {
        case Shape::Exit: break;
        case Shape::Ja:
        case Shape::Ja32: flow(d.target); break;
        case Shape::JmpImm:
        case Shape::JmpReg:
          flow(d.target);
          flow(next);
          break;
        default: flow(next); break;
      }
    }
  }
  // Instructions the sweep never reached (none in a program the CFG accepted): anything.
  for (std::size_t k = 0; k < n; ++k)
    if (!reached[k]) in[k] = 0x7ff;
  return in;
}

Effect effect(const DecodedInsn& d, std::uint16_t may_stack) {
  Effect e;
  auto through = [&](int reg, int off) -> std::uint64_t {
    if (reg == frame_pointer) return slots(off, access_size(d));
    return ((may_stack >> reg) & 1) != 0 ? all_slots : 0;
  };
  const int dst = d.insn.dst, src = d.insn.src;
  const bool is_mov = d.row->op == Op::MOV64_IMM || d.row->op == Op::MOV64_REG ||
                      d.row->op == Op::MOV32_IMM || d.row->op == Op::MOV32_REG;
  switch (d.row->shape) {
    case Shape::AluImm:
      e.use = is_mov ? 0 : bit(dst);
      e.def = bit(dst);
      break;
    case Shape::AluReg:
      e.use = static_cast<std::uint16_t>(bit(src) | (is_mov ? 0 : bit(dst)));
      e.def = bit(dst);
      break;
    case Shape::AluUnary:
    case Shape::Endian:
      e.use = bit(dst);
      e.def = bit(dst);
      break;
    case Shape::MovSx:
      e.use = bit(src);
      e.def = bit(dst);
      break;
    case Shape::Lddw: e.def = bit(dst); break;
    case Shape::Load:
      e.use = bit(src);
      e.def = bit(dst);
      e.stack_use = through(src, d.insn.offset);
      break;
    case Shape::StoreImm:
    case Shape::StoreReg:
      e.use =
          static_cast<std::uint16_t>(bit(dst) | (d.row->shape == Shape::StoreReg ? bit(src) : 0));
      if (dst == frame_pointer && access_size(d) == slot_size && d.insn.offset % slot_size == 0)
        e.stack_def = slots(d.insn.offset, slot_size);
      break;
    case Shape::Atomic:
      e.use = static_cast<std::uint16_t>(bit(dst) | bit(src) | bit(0));
      e.stack_use = through(dst, d.insn.offset);
      break;
    case Shape::LdAbs:
    case Shape::LdInd:
      e.use = static_cast<std::uint16_t>(bit(6) | (d.row->shape == Shape::LdInd ? bit(src) : 0));
      e.def = bit(0);
      break;
    case Shape::Ja:
    case Shape::Ja32: break;
    case Shape::JmpImm: e.use = bit(dst); break;
    case Shape::JmpReg: e.use = static_cast<std::uint16_t>(bit(dst) | bit(src)); break;
    case Shape::CallHelper:
      // A helper reads the stack only through a pointer argument.
      e.use = args;
      e.def = scratch;
      e.stack_use = (may_stack & args) != 0 ? all_slots : 0;
      e.stack_use_is_memory = true;
      break;
    case Shape::CallLocal:
      e.use = args;
      e.def = scratch;
      e.stack_use = all_slots;
      break;
    case Shape::CallBtf:
    case Shape::Callx:
      // Refused by the exploration; everything stays live.
      e.use = 0x7ff;
      e.stack_use = all_slots;
      break;
    case Shape::Exit: e.use = bit(0); break;
  }
  e.use = static_cast<std::uint16_t>(e.use | bit(frame_pointer));
  return e;
}

}  // namespace

Liveness compute_liveness(const std::vector<DecodedInsn>& program,
                          const std::vector<std::size_t>& subprogram_starts) {
  const std::size_t n = program.size();
  const std::vector<std::uint16_t> may_stack = stack_pointers(program, subprogram_starts);
  Liveness live;
  live.regs.assign(n, bit(frame_pointer));
  live.stack.assign(n, 0);
  live.stack_values.assign(n, 0);
  // A helper that runs a callback (bpf_loop, for_each_map_elem) hands its context argument,
  // maybe a pointer into this stack, to code that loads from it: in a program that takes a
  // function's address (lddw src 4, BPF_PSEUDO_FUNC), helpers read stack values too.
  bool callbacks = false;
  for (const DecodedInsn& d : program)
    if (d.row != nullptr && d.row->shape == Shape::Lddw && d.insn.src == 4) callbacks = true;
  std::vector<Effect> effects(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (program[i].row == nullptr) continue;
    effects[i] = effect(program[i], may_stack[i]);
    if (callbacks) effects[i].stack_use_is_memory = false;
  }
  // Backward sweeps until nothing changes (loops need more than one); a slot's live-in is
  // use | (live-out & ~def), live-out the union over its successors in its subprogram.
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t k = n; k-- > 0;) {
      const DecodedInsn& d = program[k];
      if (d.row == nullptr) continue;  // lddw's second slot: never a pc
      std::uint16_t out_regs = 0;
      std::uint64_t out_stack = 0, out_values = 0;
      auto succ = [&](std::size_t s) {
        if (s >= n) return;
        out_regs |= live.regs[s];
        out_stack |= live.stack[s];
        out_values |= live.stack_values[s];
      };
      const Shape shape = d.row->shape;
      const std::size_t next = k + (shape == Shape::Lddw ? 2 : 1);
      switch (shape) {
        case Shape::Exit: break;
        case Shape::Ja:
        case Shape::Ja32: succ(d.target); break;
        case Shape::JmpImm:
        case Shape::JmpReg:
          succ(d.target);
          succ(next);
          break;
        case Shape::CallHelper:
          // A callback's exit comes back to the call itself (callbacks.hpp); counting the
          // call as its own successor is harmless for other helpers.
          succ(k);
          succ(next);
          break;
        default: succ(next); break;
      }
      const Effect& e = effects[k];
      const auto in_regs = static_cast<std::uint16_t>(e.use | (out_regs & ~e.def));
      const std::uint64_t in_stack = e.stack_use | (out_stack & ~e.stack_def);
      const std::uint64_t in_values =
          (e.stack_use_is_memory ? 0 : e.stack_use) | (out_values & ~e.stack_def);
      if (in_regs != live.regs[k] || in_stack != live.stack[k] ||
          in_values != live.stack_values[k]) {
        live.regs[k] = in_regs;
        live.stack[k] = in_stack;
        live.stack_values[k] = in_values;
        changed = true;
      }
    }
  }
  return live;
}

}  // namespace bpfvm::verifier
