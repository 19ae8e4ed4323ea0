#include "verifier/verifier_state.hpp"

#include <fmt/format.h>

namespace bpfvm::verifier {

std::uint32_t VerifierState::link(int reg) {
  RegValue& v = current().regs[static_cast<std::size_t>(reg)];
  if (v.id == 0) v.id = next_id++;
  return v.id;
}

void VerifierState::sync_id(std::uint32_t id, const ScalarValue& value) {
  if (id == 0) return;
  for (Frame& f : frames) {
    for (RegValue& r : f.regs)
      if (r.is_scalar() && r.id == id) r.value = value;
    f.stack.sync_id(id, value);
  }
}

namespace {

// Linux's check_ids: an id of `old` must always meet the same id of `other` and the other
// way round, so registers linked in `old` are linked in `other`.
class IdMap {
 public:
  bool check(const RegValue& old, const RegValue& other) {
    // Scalars linked by copies, and pointers that may be null sharing a null check.
    if (!old.is_init() || old.id == 0) return true;
    if (other.id == 0) return false;
    for (const auto& [a, b] : pairs_)
      if (a == old.id || b == other.id) return a == old.id && b == other.id;
    pairs_.emplace_back(old.id, other.id);
    return true;
  }

  // Packet and meta pointers: every id, 0 included (all pointers read from the context share
  // it), since a comparison proves a range for the whole id (find_good_pkt_pointers).
  bool check_packet(const RegValue& old, const RegValue& other) {
    if (old.kind != RegKind::packet && old.kind != RegKind::packet_meta) return true;
    auto& pairs = old.kind == RegKind::packet ? packet_pairs_ : meta_pairs_;
    for (const auto& [a, b] : pairs)
      if (a == old.id || b == other.id) return a == old.id && b == other.id;
    pairs.emplace_back(old.id, other.id);
    return true;
  }

 private:
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> packet_pairs_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> meta_pairs_;
};

}  // namespace

bool includes(const VerifierState& old, const VerifierState& other, const LiveMask& live,
              const Precision* precise) {
  const std::size_t frames = old.frames.size();
  if (frames != other.frames.size() || frames > max_call_frames) return false;
  // Held references must be the same (Linux's refsafe; ids are handed out in path order, so
  // equal ids are the common case and the strict test costs little pruning).
  if (old.refs != other.refs) return false;
  // Cheap tests first: call chains, then the kinds of live registers, then whole registers,
  // then stacks (the costliest), then ids. Innermost frame first: the callers' frames rarely
  // differ between states of one callee.
  for (std::size_t f = frames; f-- > 0;) {
    const Frame& a = old.frames[f];
    const Frame& b = other.frames[f];
    if (a.callsite != b.callsite || a.callback_of != b.callback_of) return false;
    for (int r = 0; r < register_count; ++r) {
      const auto i = static_cast<std::size_t>(r);
      if (((live.regs[f] >> r) & 1) != 0 && a.regs[i].kind != RegKind::uninit &&
          a.regs[i].kind != b.regs[i].kind)
        return false;
    }
  }
  for (std::size_t f = frames; f-- > 0;) {
    const Frame& a = old.frames[f];
    const Frame& b = other.frames[f];
    for (int r = 0; r < register_count; ++r) {
      const auto i = static_cast<std::size_t>(r);
      if (((live.regs[f] >> r) & 1) == 0) continue;
      if (precise != nullptr && a.regs[i].is_scalar() && ((precise->regs[f] >> r) & 1) == 0) {
        if (!b.regs[i].is_scalar()) return false;
        continue;
      }
      if (!includes(a.regs[i], b.regs[i])) return false;
    }
  }
  for (std::size_t f = 0; f < frames; ++f)
    if (!includes(old.frames[f].stack, other.frames[f].stack, live.stack[f], live.stack_values[f],
                  precise != nullptr ? precise->slots[f] : ~std::uint64_t{0}))
      return false;
  IdMap ids;
  for (std::size_t f = 0; f < frames; ++f) {
    const Frame& a = old.frames[f];
    const Frame& b = other.frames[f];
    for (int r = 0; r < register_count; ++r) {
      const auto i = static_cast<std::size_t>(r);
      if (((live.regs[f] >> r) & 1) == 0) continue;
      // An imprecise scalar's links do not matter (Linux: regsafe returns before
      // check_scalar_ids): had a branch through a link refined a value something relied on,
      // backtracking through that branch's linked places would have made it precise.
      if (precise != nullptr && a.regs[i].is_scalar() && ((precise->regs[f] >> r) & 1) == 0)
        continue;
      if (!ids.check(a.regs[i], b.regs[i]) || !ids.check_packet(a.regs[i], b.regs[i])) return false;
    }
    constexpr int slots = StackState::size / StackState::slot_size;
    for (int slot = first_written_slot(a.stack); slot < slots; ++slot) {
      if (((live.stack[f] >> slot) & 1) == 0) continue;
      const int off = -StackState::size + slot * StackState::slot_size;
      // A scalar read only as helper memory: its links to other scalars do not matter.
      if (((live.stack_values[f] >> slot) & 1) == 0 && a.stack.byte(off) == StackByte::spill &&
          !a.stack.spilled(off).is_pointer())
        continue;
      // An imprecise spilled scalar: as for registers.
      if (precise != nullptr && a.stack.byte(off) == StackByte::spill &&
          a.stack.spilled(off).is_scalar() && ((precise->slots[f] >> slot) & 1) == 0)
        continue;
      if (a.stack.byte(off) == StackByte::spill &&
          (!ids.check(a.stack.spilled(off), b.stack.spilled(off)) ||
           !ids.check_packet(a.stack.spilled(off), b.stack.spilled(off))))
        return false;
    }
  }
  return true;
}

std::string to_string(const VerifierState& s) {
  std::string out;
  const Frame& f = s.current();
  if (s.depth() > 0) out = fmt::format("frame{}: ", s.depth());
  for (int r = 0; r < register_count; ++r) {
    const RegValue& v = f.regs[static_cast<std::size_t>(r)];
    if (!v.is_init()) continue;
    if (out.size() > 0 && out.back() != ' ') out += ' ';
    out += fmt::format("R{}={}", r, to_string(v));
  }
  const std::string stack = to_string(f.stack, s.depth());
  if (!stack.empty()) out += ' ' + stack;
  return out;
}

}  // namespace bpfvm::verifier
