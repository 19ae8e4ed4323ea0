// The context-pointer dataflow (context_dataflow.hpp). A worklist over slots; bpf-to-bpf
// calls are analysed context-insensitively: a subprogram's entry state joins its call sites'
// arguments, and its exits' r0 flows back to every return point, as the kernel's verifier
// would see a ctx passed in r1 to a local function.
#include "progtypes/context_dataflow.hpp"

#include <algorithm>
#include <deque>
#include <set>

namespace bpfvm::progtypes {
namespace {

using Kind = Value::Kind;

const Value uninit{};
const Value scalar{Kind::scalar, 0};
const Value ctx_value{Kind::ctx, 0};

bool is_alu(Shape shape) {
  return shape == Shape::AluImm || shape == Shape::AluReg || shape == Shape::AluUnary ||
         shape == Shape::Endian || shape == Shape::MovSx;
}

Value slot_value(const FlowState& state, std::int32_t offset) {
  auto found = state.slots.find(offset);
  return found == state.slots.end() ? scalar : found->second;
}

// A store of `size` bytes at r10 + offset overwrites every slot it overlaps.
void clobber_slots(FlowState& state, std::int32_t offset, int size) {
  for (auto it = state.slots.begin(); it != state.slots.end();) {
    if (it->first < offset + size && offset < it->first + 8)
      it = state.slots.erase(it);
    else
      ++it;
  }
}

void set_slot(FlowState& state, std::int32_t offset, const Value& value) {
  clobber_slots(state, offset, 8);
  if (value.kind != Kind::scalar) state.slots[offset] = value;
}

Value alu_result(const DecodedInsn& d, const FlowState& state) {
  const Insn& insn = d.insn;
  const bool is64 = insn_class(insn.opcode) == cls::alu64;
  const std::uint8_t op = insn.opcode & 0xf0;
  const Value dst = state.regs[insn.dst];
  const bool reg_source = d.row->shape == Shape::AluReg;
  const Value src = reg_source ? state.regs[insn.src] : scalar;
  if (op == 0xb0) {  // mov
    if (is64 && reg_source) return src;
    return (src.kind == Kind::mixed) ? Value{Kind::mixed, 0} : scalar;
  }
  if (is64 && d.row->shape == Shape::AluImm && (op == 0x00 || op == 0x10)) {  // add/sub imm
    const std::int32_t delta = op == 0x00 ? insn.imm : -insn.imm;
    if (dst.kind == Kind::ctx) return delta == 0 ? dst : Value{Kind::ctx_modified, 0};
    if (dst.kind == Kind::stack) return Value{Kind::stack, dst.stack_offset + delta};
    return dst;
  }
  if (dst.kind == Kind::mixed || src.kind == Kind::mixed) return Value{Kind::mixed, 0};
  if (dst.is_ctx_derived() || src.is_ctx_derived()) return Value{Kind::ctx_modified, 0};
  return scalar;
}

struct Flow {
  std::span<const DecodedInsn> insns;
  std::vector<std::optional<FlowState>> in;
  std::deque<std::size_t> work;
  std::vector<bool> queued;
  std::vector<std::size_t> entries;                      // subprogram entries, sorted
  std::map<std::size_t, std::optional<Value>> exit_r0;   // by subprogram entry
  std::map<std::size_t, std::set<std::size_t>> callers;  // entry -> call sites

  void push(std::size_t index) {
    if (!queued[index]) {
      queued[index] = true;
      work.push_back(index);
    }
  }

  void propagate(std::size_t index, const FlowState& state) {
    if (index >= in.size()) return;
    auto& slot = in[index];
    if (!slot) {
      slot = state;
      push(index);
      return;
    }
    FlowState joined = *slot;
    for (int r = 0; r < register_count; ++r) joined.regs[r] = join(slot->regs[r], state.regs[r]);
    std::map<std::int32_t, Value> slots;
    for (const auto& [offset, value] : slot->slots)
      slots[offset] = join(value, slot_value(state, offset));
    for (const auto& [offset, value] : state.slots)
      if (!slots.count(offset)) slots[offset] = join(scalar, value);
    std::erase_if(slots, [](const auto& entry) { return entry.second.kind == Kind::scalar; });
    joined.slots = std::move(slots);
    if (!(joined == *slot)) {
      slot = std::move(joined);
      push(index);
    }
  }

  std::size_t subprogram_of(std::size_t index) const {
    auto it = std::upper_bound(entries.begin(), entries.end(), index);
    return *(it - 1);
  }

  static FlowState entry_state(const FlowState& caller) {
    FlowState state;
    for (int r = 1; r <= 5; ++r) state.regs[r] = caller.regs[r];
    state.regs[frame_pointer] = Value{Kind::stack, 0};
    return state;
  }

  void after_call(std::size_t call_site, const FlowState& before) {
    const auto& r0 = exit_r0[insns[call_site].target];
    if (!r0) return;  // the callee has not returned yet on any path analysed so far
    FlowState after = before;
    for (int r = 1; r <= 5; ++r) after.regs[r] = uninit;
    after.regs[0] = *r0;
    propagate(call_site + 1, after);
  }

  void step(std::size_t index) {
    const DecodedInsn& d = insns[index];
    FlowState state = *in[index];
    const Insn& insn = d.insn;
    const Shape shape = d.row->shape;
    if (is_alu(shape)) {
      state.regs[insn.dst] = alu_result(d, state);
    } else if (shape == Shape::Lddw) {
      state.regs[insn.dst] = scalar;
      index += 1;  // the second slot
    } else if (shape == Shape::Load) {
      const Value base = state.regs[insn.src];
      Value loaded = scalar;
      if (base.kind == Kind::stack && access_size(*d.row) == 8)
        loaded = slot_value(state, base.stack_offset + insn.offset);
      state.regs[insn.dst] = loaded;
    } else if (shape == Shape::StoreImm || shape == Shape::StoreReg || shape == Shape::Atomic) {
      const Value base = state.regs[insn.dst];
      const int size = access_size(*d.row);
      if (base.kind == Kind::stack) {
        const std::int32_t offset = base.stack_offset + insn.offset;
        if (shape == Shape::StoreReg && size == 8)
          set_slot(state, offset, state.regs[insn.src]);
        else
          clobber_slots(state, offset, size);
      }
      if (shape == Shape::Atomic) {
        if (insn.imm & 0x01) state.regs[insn.src] = scalar;  // BPF_FETCH
        if (insn.imm == 0xf1) state.regs[0] = scalar;        // BPF_CMPXCHG
      }
    } else if (shape == Shape::LdAbs || shape == Shape::LdInd || shape == Shape::CallHelper ||
               shape == Shape::CallBtf || shape == Shape::Callx) {
      state.regs[0] = scalar;
      for (int r = 1; r <= 5; ++r) state.regs[r] = uninit;
    } else if (shape == Shape::CallLocal) {
      callers[d.target].insert(index);
      propagate(d.target, entry_state(state));
      after_call(index, state);
      return;
    } else if (shape == Shape::Exit) {
      const std::size_t entry = subprogram_of(index);
      if (entry == 0) return;
      auto& r0 = exit_r0[entry];
      const Value merged = r0 ? join(*r0, state.regs[0]) : state.regs[0];
      if (!r0 || !(merged == *r0)) {
        r0 = merged;
        for (std::size_t site : callers[entry])
          if (in[site]) after_call(site, *in[site]);
      }
      return;
    }
    if (is_jump(shape)) {
      propagate(d.target, state);
      if (ends_flow(shape)) return;
    }
    propagate(index + 1, state);
  }
};

}  // namespace

Value join(const Value& a, const Value& b) {
  if (a == b) return a;
  if (a.kind == Kind::mixed || b.kind == Kind::mixed) return Value{Kind::mixed, 0};
  if (a.is_ctx_derived() && b.is_ctx_derived()) return Value{Kind::ctx_modified, 0};
  if (a.is_ctx_derived() || b.is_ctx_derived()) return Value{Kind::mixed, 0};
  // Two different stack offsets, a stack pointer and a scalar, or a register initialised on
  // one path only (Linux would refuse reading it; bpfvm treats it as a number).
  return scalar;
}

std::vector<std::optional<FlowState>> context_dataflow(std::span<const DecodedInsn> insns) {
  Flow flow;
  flow.insns = insns;
  flow.in.assign(insns.size(), std::nullopt);
  flow.queued.assign(insns.size(), false);
  std::set<std::size_t> entries{0};
  std::vector<std::size_t> callbacks;
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const DecodedInsn& d = insns[i];
    if (d.row == nullptr) continue;
    if (d.row->shape == Shape::CallLocal) entries.insert(d.target);
    // lddw of a function (BPF_PSEUDO_FUNC): a callback, entered with scalar arguments.
    if (d.row->shape == Shape::Lddw && d.insn.src == lddw_src::func) {
      const std::int64_t target = static_cast<std::int64_t>(i) + d.insn.imm + 1;
      if (target >= 0 && static_cast<std::size_t>(target) < insns.size()) {
        entries.insert(static_cast<std::size_t>(target));
        callbacks.push_back(static_cast<std::size_t>(target));
      }
    }
  }
  flow.entries.assign(entries.begin(), entries.end());

  if (insns.empty()) return flow.in;
  FlowState start;
  start.regs[1] = ctx_value;
  start.regs[frame_pointer] = Value{Kind::stack, 0};
  flow.propagate(0, start);
  // A callback's arguments come from its helper (an index, a map, keys and values, the
  // caller's stack): never the context, as check_callback_reach makes sure.
  FlowState callback;
  for (int r = 1; r <= 5; ++r) callback.regs[r] = Value{Kind::scalar, 0};
  callback.regs[frame_pointer] = Value{Kind::stack, 0};
  for (std::size_t target : callbacks) flow.propagate(target, callback);

  while (!flow.work.empty()) {
    const std::size_t index = flow.work.front();
    flow.work.pop_front();
    flow.queued[index] = false;
    if (insns[index].row == nullptr) continue;
    flow.step(index);
  }
  return flow.in;
}

}  // namespace bpfvm::progtypes
