#include "verifier/read_marks.hpp"

#include "isa/opcode_table.hpp"

namespace bpfvm::verifier {
namespace {

constexpr std::uint16_t bit(int r) { return static_cast<std::uint16_t>(1u << r); }
constexpr std::uint16_t args = 0x3e;     // r1-r5
constexpr std::uint16_t scratch = 0x3f;  // r0-r5
constexpr int slot_count = StackState::size / StackState::slot_size;

std::uint64_t slots_between(int lo, int hi) {
  std::uint64_t m = 0;
  for (int s = lo; s <= hi; ++s) m |= std::uint64_t{1} << s;
  return m;
}

void add_read(InsnAccess& a, std::uint8_t frame, bool values, std::uint64_t slots) {
  if (a.read_count < a.reads.size()) a.reads[a.read_count++] = StackRead{frame, values, slots};
}

bool is_mov(const DecodedInsn& d) {
  return d.row->op == Op::MOV64_IMM || d.row->op == Op::MOV64_REG || d.row->op == Op::MOV32_IMM ||
         d.row->op == Op::MOV32_REG;
}

}  // namespace

InsnAccess insn_access(const DecodedInsn& d, const HistoryEntry& e, const VerifierState& before) {
  InsnAccess a;
  const int dst = d.insn.dst, src = d.insn.src;
  // A load or atomic through a stack pointer reads the slots it may touch (history_entry
  // found them, whatever the base register).
  const bool stack = (e.flags & HistoryEntry::stack_access) != 0;
  switch (d.row->shape) {
    case Shape::AluImm:
      a.use = is_mov(d) ? 0 : bit(dst);
      a.def = bit(dst);
      break;
    case Shape::AluReg:
      a.use = static_cast<std::uint16_t>(bit(src) | (is_mov(d) ? 0 : bit(dst)));
      a.def = bit(dst);
      break;
    case Shape::AluUnary:
    case Shape::Endian:
      a.use = bit(dst);
      a.def = bit(dst);
      break;
    case Shape::MovSx:
      a.use = bit(src);
      a.def = bit(dst);
      break;
    case Shape::Lddw: a.def = bit(dst); break;
    case Shape::Load:
      a.use = bit(src);
      a.def = bit(dst);
      if (stack) add_read(a, e.stack_frame, true, slots_between(e.slot_lo, e.slot_hi));
      break;
    case Shape::StoreImm:
    case Shape::StoreReg:
      a.use =
          static_cast<std::uint16_t>(bit(dst) | (d.row->shape == Shape::StoreReg ? bit(src) : 0));
      if (stack && (e.flags & HistoryEntry::whole_slot) != 0) {
        a.def_frame = e.stack_frame;
        a.def_slots = slots_between(e.slot_lo, e.slot_hi);
      }
      break;
    case Shape::Atomic:
      a.use = static_cast<std::uint16_t>(bit(dst) | bit(src) | bit(0));
      if (stack) add_read(a, e.stack_frame, true, slots_between(e.slot_lo, e.slot_hi));
      break;
    case Shape::LdAbs:
    case Shape::LdInd:
      a.use = static_cast<std::uint16_t>(bit(6) | (d.row->shape == Shape::LdInd ? bit(src) : 0));
      a.def = bit(0);
      break;
    case Shape::Ja:
    case Shape::Ja32: break;
    case Shape::JmpImm: a.use = bit(dst); break;
    case Shape::JmpReg: a.use = static_cast<std::uint16_t>(bit(dst) | bit(src)); break;
    case Shape::CallHelper: {
      a.use = args;
      a.def = scratch;
      // Memory from the pointer up: a helper's access starts at the pointer and is no larger
      // than the rest of the frame.
      const auto& regs = before.current().regs;
      for (int r = 1; r <= 5; ++r) {
        const RegValue& v = regs[static_cast<std::size_t>(r)];
        if (v.kind != RegKind::stack) continue;
        const std::int64_t lo = v.value.smin;
        const int first = lo < -StackState::size || lo > 0
                              ? 0
                              : static_cast<int>((lo + StackState::size) / StackState::slot_size);
        add_read(a, v.frame, false, slots_between(first, slot_count - 1));
      }
      break;
    }
    case Shape::CallLocal:
      a.use = args;
      a.new_frame = true;
      break;
    case Shape::Exit:
      a.use = bit(0);
      a.ends_frame = before.frames.size() > 1;
      break;
    case Shape::CallBtf:
    case Shape::Callx:
      // Refused by the step; read everything.
      a.use = 0x7ff;
      for (std::size_t f = 0; f < before.frames.size(); ++f)
        add_read(a, static_cast<std::uint8_t>(f), true, ~std::uint64_t{0});
      break;
  }
  a.use = static_cast<std::uint16_t>(a.use | bit(frame_pointer));
  return a;
}

void record_writes(const InsnAccess& a, std::size_t depth, LiveMask& written) {
  if (depth >= max_call_frames) return;
  written.regs[depth] |= a.def;
  if (a.def_slots != 0 && a.def_frame < max_call_frames) written.stack[a.def_frame] |= a.def_slots;
  if (a.new_frame && depth + 1 < max_call_frames) {
    written.regs[depth + 1] = 0x7ff;
    written.stack[depth + 1] = ~std::uint64_t{0};
  }
  if (a.ends_frame && depth >= 1) {
    written.regs[depth - 1] |= scratch;
    written.regs[depth] = 0x7ff;
    written.stack[depth] = ~std::uint64_t{0};
  }
}

bool has_callbacks(const std::vector<DecodedInsn>& program) {
  for (const DecodedInsn& d : program)
    if (d.row != nullptr && d.row->shape == Shape::Lddw && d.insn.src == 4) return true;
  return false;
}

}  // namespace bpfvm::verifier
