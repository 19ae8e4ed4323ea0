#include "verifier/precision.hpp"

#include "verifier/callbacks.hpp"
#include "verifier/context_access.hpp"
#include "verifier/scalar_alu.hpp"

#include <bpfvm/helper.hpp>
#include <bpfvm/linux_prototypes.hpp>

namespace bpfvm::verifier {
namespace {

constexpr std::uint16_t bit(int r) { return static_cast<std::uint16_t>(1u << r); }

// r0-r5: what a helper call writes or scratches.
constexpr std::uint16_t caller_saved = 0x3f;

std::uint64_t slot_range(int lo, int hi) {
  std::uint64_t m = 0;
  for (int s = lo; s <= hi; ++s) m |= std::uint64_t{1} << s;
  return m;
}

}  // namespace

// The helper's prototype as check_helper_call finds it, or null.
const HelperPrototype* helper_prototype(const VerifyOptions& options, std::int32_t id) {
  if (id <= 0) return nullptr;
  const auto uid = static_cast<std::uint32_t>(id);
  if (options.helpers != nullptr)
    if (const Helper* h = options.helpers->find(uid))
      return h->prototype ? &*h->prototype : nullptr;
  if (options.linux_prototypes)
    if (const LinuxHelperInfo* info = linux_helper_info(uid)) return &info->prototype;
  return nullptr;
}

namespace {

bool is_mov(const DecodedInsn& d) {
  const auto row = alu_row(d.row->op);
  return row && (row->op == AluOp::mov || row->op == AluOp::movsx8 || row->op == AluOp::movsx16 ||
                 row->op == AluOp::movsx32);
}

}  // namespace

HistoryEntry history_entry(const VerifyOptions& options, const DecodedInsn& d, std::size_t pc,
                           const VerifierState& before) {
  HistoryEntry e;
  e.pc = static_cast<std::uint32_t>(pc);
  e.depth = before.depth();
  const auto& regs = before.current().regs;
  int base_reg = -1;
  switch (d.row->shape) {
    case Shape::Load: base_reg = d.insn.src; break;
    case Shape::StoreImm:
    case Shape::StoreReg:
    case Shape::Atomic: base_reg = d.insn.dst; break;
    case Shape::CallHelper:
      if (calls_callback(options, d)) e.flags |= HistoryEntry::callback;
      break;
    case Shape::Exit:
      if (before.current().callback_of >= 0) e.flags |= HistoryEntry::callback;
      break;
    default: break;
  }
  if (base_reg < 0) return e;
  const RegValue& base = regs[static_cast<std::size_t>(base_reg)];
  if (base.kind != RegKind::stack) return e;
  const int size = access_size(*d.row);
  const std::int64_t frame = StackState::size;
  // Out of the frame: the step rejects the access, the entry is never used.
  if (base.value.smin < -frame || base.value.smax > 0) return e;
  const std::int64_t lo = base.value.smin + d.insn.offset;
  const std::int64_t hi = base.value.smax + d.insn.offset + size - 1;
  if (lo < -frame || hi >= 0) return e;
  e.flags |= HistoryEntry::stack_access;
  e.stack_frame = base.frame;
  e.slot_lo = static_cast<std::uint8_t>((lo + frame) / StackState::slot_size);
  e.slot_hi = static_cast<std::uint8_t>((hi + frame) / StackState::slot_size);
  if (size == StackState::slot_size && base.value.is_const() && lo % StackState::slot_size == 0)
    e.flags |= HistoryEntry::whole_slot;
  return e;
}

std::uint16_t demanded_registers(const VerifyOptions& options, const DecodedInsn& d,
                                 const VerifierState& before, bool decided) {
  const auto& regs = before.current().regs;
  auto scalar = [&](int r) {
    return regs[static_cast<std::size_t>(r)].is_scalar() ? bit(r) : std::uint16_t{0};
  };
  const int dst = d.insn.dst;
  const int src = d.insn.src;
  switch (d.row->shape) {
    case Shape::AluReg: {
      // Pointer arithmetic (Linux: adjust_ptr_min_max_vals after mark_chain_precision of
      // the scalar operand): the pointer's new offset is the scalar's value.
      const bool dp = regs[static_cast<std::size_t>(dst)].is_pointer();
      const bool sp = regs[static_cast<std::size_t>(src)].is_pointer();
      if (dp && !sp) return scalar(src);
      if (sp && !dp) return scalar(dst);
      return 0;
    }
    case Shape::JmpImm:
    case Shape::JmpReg: {
      const bool reg = d.row->shape == Shape::JmpReg;
      const bool pointer = regs[static_cast<std::size_t>(dst)].is_pointer() ||
                           (reg && regs[static_cast<std::size_t>(src)].is_pointer());
      // A scalar compared with a pointer decides null checks and which edge is possible.
      if (!decided && !pointer) return 0;
      return static_cast<std::uint16_t>(scalar(dst) | (reg ? scalar(src) : 0));
    }
    case Shape::CallHelper: {
      const HelperPrototype* proto = helper_prototype(options, d.insn.imm);
      std::uint16_t m = 0;
      for (int i = 0; i < 5; ++i) {
        // Every argument the checks look at (sizes, constants, a scalar where a pointer or
        // null is expected); ARG_ANYTHING and unused arguments are the helper's business.
        const ArgKind k =
            proto != nullptr ? proto->args[static_cast<std::size_t>(i)] : ArgKind::const_size;
        if (k != ArgKind::none && k != ArgKind::anything) m |= scalar(i + 1);
      }
      return m;
    }
    case Shape::Exit:
      // The program's return value and a callback's are checked (check_return_code,
      // prepare_func_exit); a subprogram's flows into the caller's r0.
      if (before.current().callback_of >= 0) return scalar(0);
      // The program's, only where its type restricts it (Linux: check_return_code marks r0
      // precise after the range test, which unrestricted types skip).
      if (before.frames.size() == 1 &&
          check_return_code(options, RegValue::scalar(ScalarValue::unknown())))
        return scalar(0);
      return 0;
    default: return 0;
  }
}

bool backtrack(const DecodedInsn& d, const HistoryEntry& e, Precision& needed) {
  if ((e.flags & HistoryEntry::callback) != 0) return needed.empty();
  const std::size_t f = e.depth;
  std::uint16_t& regs = needed.regs[f];
  const int dst = d.insn.dst;
  const int src = d.insn.src;
  const bool stack = (e.flags & HistoryEntry::stack_access) != 0;
  const std::uint64_t slots = stack ? slot_range(e.slot_lo, e.slot_hi) : 0;
  std::uint64_t* frame_slots = stack ? &needed.slots[e.stack_frame] : nullptr;
  switch (d.row->shape) {
    case Shape::AluImm:
      if (is_mov(d)) regs &= static_cast<std::uint16_t>(~bit(dst));
      return true;
    case Shape::AluReg:
    case Shape::MovSx:
      if ((regs & bit(dst)) == 0) return true;
      if (is_mov(d)) regs &= static_cast<std::uint16_t>(~bit(dst));
      regs |= bit(src);
      return true;
    case Shape::AluUnary:
    case Shape::Endian:
    case Shape::Ja:
    case Shape::Ja32:
    case Shape::JmpImm: return true;
    case Shape::Lddw: regs &= static_cast<std::uint16_t>(~bit(dst)); return true;
    case Shape::Load:
      if ((regs & bit(dst)) == 0) return true;
      regs &= static_cast<std::uint16_t>(~bit(dst));
      // A fill gives back the spilled register; a narrower read of a spilled 0 gives 0.
      if (frame_slots != nullptr) *frame_slots |= slots;
      return true;
    case Shape::StoreReg:
      if (frame_slots == nullptr || (*frame_slots & slots) == 0) return true;
      if ((e.flags & HistoryEntry::whole_slot) != 0) *frame_slots &= ~slots;
      // A spill, or part of the slot (zero bytes from a constant 0).
      regs |= bit(src);
      return true;
    case Shape::StoreImm:
      if (frame_slots != nullptr && (e.flags & HistoryEntry::whole_slot) != 0)
        *frame_slots &= ~slots;
      return true;
    case Shape::Atomic:
      // The fetched value is unknown to the verifier; the memory becomes misc bytes.
      if (d.insn.imm == 0xf1)
        regs &= static_cast<std::uint16_t>(~bit(0));
      else if ((d.insn.imm & 0x01) != 0)
        regs &= static_cast<std::uint16_t>(~bit(src));
      return true;
    case Shape::LdAbs:
    case Shape::LdInd:
    case Shape::CallHelper: regs &= static_cast<std::uint16_t>(~caller_saved); return true;
    case Shape::JmpReg:
      // A comparison refines both operands from each other (Linux backtrack_insn: "dreg
      // <cond> sreg" needs both precise).
      if ((regs & (bit(dst) | bit(src))) != 0)
        regs |= static_cast<std::uint16_t>(bit(dst) | bit(src));
      return true;
    case Shape::CallLocal:
      // Backwards from the callee's first instruction: its r1-r5 were the caller's.
      if (f + 1 >= max_call_frames) return needed.empty();
      regs |= static_cast<std::uint16_t>(needed.regs[f + 1] & 0x3e);
      needed.regs[f + 1] = 0;
      needed.slots[f + 1] = 0;
      return true;
    case Shape::Exit:
      // Backwards from the caller after the return: its r0 was the callee's.
      if (f == 0) return needed.empty();
      regs = static_cast<std::uint16_t>(needed.regs[f - 1] & 1);
      needed.regs[f - 1] &= static_cast<std::uint16_t>(~caller_saved);
      needed.slots[f] = 0;
      return true;
    case Shape::CallBtf:
    case Shape::Callx: return needed.empty();
  }
  return needed.empty();
}

Precision linked_places(const VerifierState& st, std::uint32_t a, std::uint32_t b) {
  Precision p;
  auto linked = [&](const RegValue& v) {
    return v.is_scalar() && v.id != 0 && (v.id == a || v.id == b);
  };
  constexpr int slot_count = StackState::size / StackState::slot_size;
  for (std::size_t f = 0; f < st.frames.size() && f < max_call_frames; ++f) {
    const Frame& fr = st.frames[f];
    for (int r = 0; r < register_count; ++r)
      if (linked(fr.regs[static_cast<std::size_t>(r)])) p.regs[f] |= bit(r);
    for (int s = first_written_slot(fr.stack); s < slot_count; ++s) {
      const int base = -StackState::size + s * StackState::slot_size;
      if (fr.stack.byte(base) == StackByte::spill && linked(fr.stack.spilled(base)))
        p.slots[f] |= std::uint64_t{1} << s;
    }
  }
  return p;
}

void sync_linked(const Precision& linked, Precision& needed) {
  bool any = false;
  for (std::size_t f = 0; f < max_call_frames && !any; ++f)
    any = (needed.regs[f] & linked.regs[f]) != 0 || (needed.slots[f] & linked.slots[f]) != 0;
  if (!any) return;
  for (std::size_t f = 0; f < max_call_frames; ++f) {
    needed.regs[f] = static_cast<std::uint16_t>(needed.regs[f] | linked.regs[f]);
    needed.slots[f] |= linked.slots[f];
  }
}

Precision scalar_places(const VerifierState& st) {
  Precision p;
  constexpr int slot_count = StackState::size / StackState::slot_size;
  for (std::size_t f = 0; f < st.frames.size() && f < max_call_frames; ++f) {
    const Frame& fr = st.frames[f];
    for (int r = 0; r < register_count; ++r)
      if (fr.regs[static_cast<std::size_t>(r)].is_scalar()) p.regs[f] |= bit(r);
    for (int s = first_written_slot(fr.stack); s < slot_count; ++s) {
      const int base = -StackState::size + s * StackState::slot_size;
      bool zero = false;
      for (int off = base; off < base + StackState::slot_size; ++off)
        zero = zero || fr.stack.byte(off) == StackByte::zero;
      // Spilled scalars, and zero bytes (a load gives the constant 0 from them).
      if (zero || (fr.stack.byte(base) == StackByte::spill && fr.stack.spilled(base).is_scalar()))
        p.slots[f] |= std::uint64_t{1} << s;
    }
  }
  return p;
}

bool mark_checkpoint(const Precision& scalars, Precision& marks, Precision& needed) {
  bool left = false;
  for (std::size_t f = 0; f < max_call_frames; ++f) {
    needed.regs[f] = static_cast<std::uint16_t>(needed.regs[f] & scalars.regs[f] & ~marks.regs[f]);
    needed.slots[f] &= scalars.slots[f] & ~marks.slots[f];
    marks.regs[f] |= needed.regs[f];
    marks.slots[f] |= needed.slots[f];
    left = left || needed.regs[f] != 0 || needed.slots[f] != 0;
  }
  return left;
}

}  // namespace bpfvm::verifier
