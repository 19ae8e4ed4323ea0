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

// How many bytes from its pointer argument `i` (0 for r1) a helper may touch, or 0 when the
// prototype does not say.
std::uint64_t helper_span(const HelperPrototype* proto, const VerifierState& before, int i) {
  if (proto == nullptr) return 0;
  const auto& regs = before.current().regs;
  const ArgKind k = proto->args[static_cast<std::size_t>(i)];
  const MapSpec* map = regs[1].kind == RegKind::map_ptr ? regs[1].map : nullptr;
  switch (k) {
    case ArgKind::mem:
    case ArgKind::mem_or_null:
    case ArgKind::uninit_mem:
    case ArgKind::writable_mem:
    case ArgKind::writable_mem_or_null: {
      if (i + 1 >= 5) return 0;
      const ArgKind size = proto->args[static_cast<std::size_t>(i + 1)];
      const RegValue& n = regs[static_cast<std::size_t>(i + 2)];
      if ((size != ArgKind::const_size && size != ArgKind::const_size_or_zero) || !n.is_scalar())
        return 0;
      return n.value.umax;
    }
    case ArgKind::map_key: return map != nullptr ? map->key_size : 0;
    case ArgKind::map_value:
    case ArgKind::map_value_or_null:
    case ArgKind::uninit_map_value: return map != nullptr ? map->value_size : 0;
    case ArgKind::long_ptr: return 8;
    case ArgKind::int_ptr: return 4;
    case ArgKind::fixed_size_mem: return proto->arg_size[i];
    default: return 0;
  }
}

}  // namespace

InsnAccess insn_access(const DecodedInsn& d, const HistoryEntry& e, const VerifierState& before,
                       const HelperPrototype* proto) {
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
      // The bytes the helper may reach from each stack pointer argument (memory, not values);
      // every slot from the pointer up where the prototype gives no size.
      const auto& regs = before.current().regs;
      for (int r = 1; r <= 5; ++r) {
        const RegValue& v = regs[static_cast<std::size_t>(r)];
        if (v.kind != RegKind::stack) continue;
        const std::int64_t lo = v.value.smin;
        const std::uint64_t span = helper_span(proto, before, r - 1);
        const bool inside = lo >= -StackState::size && v.value.smax <= 0 && lo <= v.value.smax;
        const int first =
            inside ? static_cast<int>((lo + StackState::size) / StackState::slot_size) : 0;
        int last = slot_count - 1;
        if (inside && span > 0 && span <= static_cast<std::uint64_t>(StackState::size)) {
          const std::int64_t hi = v.value.smax + static_cast<std::int64_t>(span) - 1;
          if (hi < 0) last = static_cast<int>((hi + StackState::size) / StackState::slot_size);
        }
        add_read(a, v.frame, false, slots_between(first, last));
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
