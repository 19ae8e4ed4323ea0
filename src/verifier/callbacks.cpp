#include "verifier/callbacks.hpp"

#include "verifier/references.hpp"

#include <bpfvm/linux_helpers.hpp>

#include <fmt/format.h>

namespace bpfvm::verifier {
namespace {

std::optional<HelperPrototype> prototype_of(const VerifyOptions& options, std::int32_t id) {
  const auto uid = static_cast<std::uint32_t>(id);
  if (options.helpers != nullptr)
    if (const Helper* h = options.helpers->find(uid)) return h->prototype;
  if (options.linux_prototypes) return linux_helper_prototype(uid);
  return std::nullopt;
}

void widen(const RegValue& old, RegValue& cur) {
  if (old.is_scalar() && cur.is_scalar() && !old.value.includes(cur.value))
    cur = RegValue::scalar(ScalarValue::unknown());
}

}  // namespace

void widen_scalars(const VerifierState& old, VerifierState& cur) {
  if (old.frames.size() != cur.frames.size()) return;
  for (std::size_t f = 0; f < old.frames.size(); ++f) {
    const Frame& a = old.frames[f];
    Frame& b = cur.frames[f];
    if (a.callsite != b.callsite) return;
    for (std::size_t r = 0; r < b.regs.size(); ++r) widen(a.regs[r], b.regs[r]);
    for (int off = -StackState::size; off < 0; off += StackState::slot_size)
      if (a.stack.byte(off) == StackByte::spill && b.stack.byte(off) == StackByte::spill) {
        const RegValue& o = a.stack.spilled(off);
        const RegValue& c = b.stack.spilled(off);
        if (o.is_scalar() && c.is_scalar() && !o.value.includes(c.value))
          (void)b.stack.write(off, StackState::slot_size, RegValue::scalar(ScalarValue::unknown()));
      }
  }
}

bool calls_callback(const VerifyOptions& options, const DecodedInsn& d) {
  if (d.row == nullptr || d.row->shape != Shape::CallHelper) return false;
  const auto proto = prototype_of(options, d.insn.imm);
  if (!proto) return false;
  for (ArgKind a : proto->args)
    if (a == ArgKind::func) return true;
  return false;
}

std::optional<std::string> enter_callback(const VerifyOptions& options, const DecodedInsn& d,
                                          std::size_t pc, VerifierState& st, std::size_t& target) {
  (void)options;
  if (st.frames.size() >= max_call_frames)
    return fmt::format("the call stack of {} frames is too deep", st.frames.size() + 1);
  const auto& caller = st.current().regs;
  Frame callee;
  const auto id = static_cast<std::uint32_t>(d.insn.imm);
  if (id == linux_helper::loop) {
    // bpf_loop(nr_loops, callback_fn, callback_ctx, flags): callback(index, ctx).
    callee.regs[1] = RegValue::scalar(ScalarValue::unsigned_range(0, bpf_max_loops - 1));
    callee.regs[2] = caller[3];
    target = caller[2].mem_size;
  } else if (id == linux_helper::for_each_map_elem) {
    // bpf_for_each_map_elem(map, callback_fn, callback_ctx, flags):
    // callback(map, key, value, ctx).
    const RegValue& map = caller[1];
    callee.regs[1] = map;
    RegValue key;
    key.kind = RegKind::map_key;
    key.map = map.map;
    key.value = ScalarValue::constant(0);
    callee.regs[2] = key;
    RegValue value = key;
    value.kind = RegKind::map_value;
    callee.regs[3] = value;
    callee.regs[4] = caller[3];
    target = caller[2].mem_size;
  } else {
    return fmt::format("helper {} takes a callback the verifier does not know how to call", id);
  }
  callee.regs[frame_pointer] =
      RegValue::stack_pointer(static_cast<std::uint8_t>(st.frames.size()), 0);
  callee.callsite = pc;
  callee.callback_of = d.insn.imm;
  st.frames.push_back(std::move(callee));
  return std::nullopt;
}

std::optional<std::string> exit_callback(VerifierState& st, std::size_t& next) {
  const RegValue& r0 = st.current().regs[0];
  if (!r0.is_init()) return std::string("R0 !read_ok");
  if (!r0.is_scalar())
    return std::string("At callback return the register R0 is not a known value");
  if (r0.value.umax > 1)
    return fmt::format("At callback return the register R0 has {} should have been in [0, 1]",
                       r0.value.is_const() ? fmt::format("value={}", r0.value.const_value())
                                           : "unknown scalar value");
  if (auto e = check_reference_leak(st, true)) return e;
  next = st.current().callsite;
  st.frames.pop_back();
  return std::nullopt;
}

}  // namespace bpfvm::verifier
