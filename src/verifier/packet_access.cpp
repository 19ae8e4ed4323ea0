#include "verifier/packet_access.hpp"

#include "progtypes/context_rules.hpp"

#include <bpfvm/insn.hpp>

#include <fmt/format.h>

#include <limits>

namespace bpfvm::verifier {
namespace {

// Linux's BPF_MAX_VAR_OFF: pointer offsets beyond it are refused outright.
constexpr std::int64_t max_var_off = std::int64_t{1} << 29;

const char* kind_name(RegKind k) {
  switch (k) {
    case RegKind::packet: return "pkt";
    case RegKind::packet_end: return "pkt_end";
    case RegKind::packet_meta: return "pkt_meta";
    default: return "ptr";
  }
}

// Every register of every frame and every spilled one.
template <class F>
void for_each_reg(VerifierState& st, F&& f) {
  for (Frame& frame : st.frames) {
    for (RegValue& r : frame.regs) f(r);
    frame.stack.for_each_spill(f);
  }
}

// find_good_pkt_pointers: `p` (packet or meta) is proven at most at the end; every pointer of
// its kind and id gets the range up to p's constant offset, one byte more when p is known to
// be below the end (Linux's range_right_open; Linux 6.18 agrees, older kernels proved one
// byte less there).
void prove_range(VerifierState* st, const RegValue& p, bool right_open) {
  if (st == nullptr) return;
  // Linux proves nothing from data itself being below the end (off 0, right open).
  if (p.fixed_off < 0 || (p.fixed_off == 0 && right_open)) return;
  if (p.value.umax > static_cast<std::uint64_t>(max_packet_offset) ||
      p.value.umax + static_cast<std::uint64_t>(p.fixed_off) >
          static_cast<std::uint64_t>(max_packet_offset))
    return;
  const std::int32_t range = p.fixed_off + (right_open ? 1 : 0);
  for_each_reg(*st, [&](RegValue& r) {
    if (r.kind == p.kind && r.id == p.id) r.range = std::max(r.range, range);
  });
}

// The data start a meta pointer is compared with: only data itself (offset 0) tells where
// the meta data ends. (Linux accepts any packet pointer here; we are stricter.)
bool is_data_start(const RegValue& v) {
  return v.kind == RegKind::packet && v.fixed_off == 0 && v.value.is_const() &&
         v.value.const_value() == 0;
}

// mark_pkt_end: on the edge where packet pointer register `reg` is at (or, `beyond`, past)
// the end, it says so. Meta pointers are not marked (nor in Linux).
void mark_end(VerifierState* st, int reg, bool beyond) {
  if (st == nullptr) return;
  RegValue& r = st->current().regs[static_cast<std::size_t>(reg)];
  if (r.kind == RegKind::packet) r.range = beyond ? beyond_packet_end : at_packet_end;
}

CmpOp flipped(CmpOp op) {
  switch (op) {
    case CmpOp::gt: return CmpOp::lt;
    case CmpOp::ge: return CmpOp::le;
    case CmpOp::lt: return CmpOp::gt;
    case CmpOp::le: return CmpOp::ge;
    default: return op;
  }
}

}  // namespace

std::optional<bool> packet_branch_taken(CmpOp op, const RegValue& dst, const RegValue& src) {
  const RegValue* pkt = nullptr;
  if (src.kind == RegKind::packet_end) {
    pkt = &dst;
  } else if (dst.kind == RegKind::packet_end) {
    pkt = &src;
    op = flipped(op);
  } else {
    return std::nullopt;
  }
  if (pkt->kind != RegKind::packet || pkt->range >= 0) return std::nullopt;
  switch (op) {
    case CmpOp::gt:
    case CmpOp::le:
      if (pkt->range == beyond_packet_end) return op == CmpOp::gt;
      return std::nullopt;
    case CmpOp::ge:
    case CmpOp::lt: return op == CmpOp::ge;  // at or beyond the end
    default: return std::nullopt;
  }
}

std::optional<std::string> check_packet_access(const VerifyOptions& options, const RegValue& p,
                                               int reg, std::int64_t insn_off, std::int64_t size,
                                               bool write) {
  if (p.kind == RegKind::packet_end) return fmt::format("R{} invalid mem access 'pkt_end'", reg);
  const auto allowed = progtypes::direct_packet_access(options.type);
  if (allowed == progtypes::PacketAccess::none)
    return fmt::format("R{} packet access is not allowed for program type {}", reg,
                       program_type_name(options.type));
  if (write && allowed != progtypes::PacketAccess::read_write)
    return std::string("cannot write into packet");
  if (p.value.smin < 0)
    return fmt::format(
        "R{} min value is negative, either use unsigned index or do a if (index >=0) "
        "check.",
        reg);
  const std::int64_t off = p.fixed_off + insn_off;
  if (off < 0 || size < 0 || off + size > p.range)
    return fmt::format("invalid access to packet, off={} size={}, R{}(id={},off={},r={})", off,
                       size, reg, p.id, p.fixed_off, p.range);
  return std::nullopt;
}

std::optional<std::string> packet_alu(AluOp op, int bits, int dst_reg, int src_reg,
                                      VerifierState& st, const RegValue& src) {
  RegValue& dst = st.current().regs[static_cast<std::size_t>(dst_reg)];
  if (dst.is_pointer() && src.is_pointer()) {
    if (op != AluOp::sub)
      return fmt::format("R{} pointer {} pointer prohibited", dst_reg,
                         op == AluOp::add ? "+=" : "op");
    // Two pointers into one packet with the same variable part: the difference of their
    // constant offsets. Otherwise (data_end - data, ...) an unknown scalar, as Linux gives
    // root for any pointer difference. A 32-bit subtraction (Linux root: an unknown scalar
    // too, since pointer minus pointer is settled before the 32-bit rule) gives the low half
    // of the same difference, zero-extended: no address, the packet's base cancels out.
    if (dst.kind == src.kind && dst.kind != RegKind::packet_end && dst.id == src.id &&
        dst.value == src.value)
      dst = RegValue::scalar(ScalarValue::constant(
          static_cast<std::uint64_t>(std::int64_t{dst.fixed_off} - src.fixed_off)));
    else if (dst.is_packet() && src.is_packet())
      dst = RegValue::scalar(ScalarValue::unknown());
    else
      return fmt::format("R{} subtraction of pointers into different regions prohibited", dst_reg);
    if (bits == 32) dst.value = alu(AluOp::mov, 32, ScalarValue::unknown(), dst.value);
    return std::nullopt;
  }
  if (bits == 32) return fmt::format("R{} 32-bit pointer arithmetic prohibited", dst_reg);
  if (op != AluOp::add && op != AluOp::sub)
    return fmt::format("R{} pointer arithmetic on {} prohibited", dst_reg,
                       kind_name(dst.is_pointer() ? dst.kind : src.kind));
  if (!dst.is_pointer() && op == AluOp::sub)
    return fmt::format("R{} tried to subtract pointer from scalar", dst_reg);
  RegValue ptr = dst.is_pointer() ? dst : src;
  const ScalarValue amount = dst.is_pointer() ? src.value : dst.value;
  (void)src_reg;
  if (ptr.kind == RegKind::packet_end)
    return fmt::format("R{} pointer arithmetic on pkt_end prohibited", dst_reg);
  // check_reg_sane_offset on the scalar, then on the result.
  if (amount.is_const()) {
    const auto v = static_cast<std::int64_t>(amount.const_value());
    if (v >= max_var_off || v <= -max_var_off)
      return fmt::format("math between {} pointer and {} is not allowed", kind_name(ptr.kind), v);
    const std::int64_t off = std::int64_t{ptr.fixed_off} + (op == AluOp::add ? v : -v);
    if (off >= max_var_off || off <= -max_var_off)
      return fmt::format("{} pointer offset {} is not allowed", kind_name(ptr.kind), off);
    ptr.fixed_off = static_cast<std::int32_t>(off);
  } else {
    if (amount.smin == std::numeric_limits<std::int64_t>::min())
      return fmt::format(
          "math between {} pointer and register with unbounded min value is not allowed",
          kind_name(ptr.kind));
    // Linux bounds only the minimum here; a maximum past MAX_PACKET_OFF just never gets a
    // range (prove_range), so no access through the pointer is allowed.
    if (amount.smin <= -max_var_off || amount.smin >= max_var_off)
      return fmt::format("value {} makes {} pointer be out of bounds", amount.smin,
                         kind_name(ptr.kind));
    ptr.value = alu(op, 64, ptr.value, amount);
    if (ptr.value.smin == std::numeric_limits<std::int64_t>::min() ||
        ptr.value.smin <= -max_var_off || ptr.value.smin >= max_var_off)
      return fmt::format("value {} makes {} pointer be out of bounds", ptr.value.smin,
                         kind_name(ptr.kind));
    // A new variable part: its own id, nothing proven yet.
    ptr.id = st.next_id++;
    ptr.range = 0;
  }
  dst = ptr;
  return std::nullopt;
}

void refine_packet_branch(CmpOp op, int dst_reg, int src_reg, VerifierState* taken,
                          VerifierState* fallthrough) {
  // Read from whichever state exists (the operands are the same in both before refinement).
  const VerifierState* any = taken ? taken : fallthrough;
  if (any == nullptr) return;
  const RegValue a = any->current().regs[static_cast<std::size_t>(dst_reg)];
  const RegValue b = any->current().regs[static_cast<std::size_t>(src_reg)];
  // `p` below (or at) `end`: p is a packet pointer and end is pkt_end, or p is a meta pointer
  // and end is data.
  auto below = [](const RegValue& p, const RegValue& end) {
    return (p.kind == RegKind::packet && end.kind == RegKind::packet_end) ||
           (p.kind == RegKind::packet_meta && is_data_start(end));
  };
  // The edge where the pointer is within the end proves the range; the other marks the
  // pointer itself at or beyond the end.
  if (below(a, b)) {
    switch (op) {
      case CmpOp::gt:  // a <= end falls through; a > end is taken
        prove_range(fallthrough, a, false);
        mark_end(taken, dst_reg, true);
        break;
      case CmpOp::ge:  // a < end falls through; a >= end is taken
        prove_range(fallthrough, a, true);
        mark_end(taken, dst_reg, false);
        break;
      case CmpOp::lt:
        prove_range(taken, a, true);
        mark_end(fallthrough, dst_reg, false);
        break;
      case CmpOp::le:
        prove_range(taken, a, false);
        mark_end(fallthrough, dst_reg, true);
        break;
      default: break;
    }
  } else if (below(b, a)) {
    switch (op) {
      case CmpOp::gt:  // end > b is taken; end <= b (b >= end) falls through
        prove_range(taken, b, true);
        mark_end(fallthrough, src_reg, false);
        break;
      case CmpOp::ge:
        prove_range(taken, b, false);
        mark_end(fallthrough, src_reg, true);
        break;
      case CmpOp::lt:  // end < b (b > end) is taken
        prove_range(fallthrough, b, false);
        mark_end(taken, src_reg, true);
        break;
      case CmpOp::le:
        prove_range(fallthrough, b, true);
        mark_end(taken, src_reg, false);
        break;
      default: break;
    }
  }
}

void clear_packet_pointers(VerifierState& st) {
  for_each_reg(st, [](RegValue& r) {
    if (r.is_packet()) r = RegValue::scalar(ScalarValue::unknown());
  });
}

std::optional<std::string> check_ld_abs(const VerifyOptions& options, const DecodedInsn& d,
                                        VerifierState& st) {
  if (!progtypes::allows_ld_abs(options.type))
    return fmt::format("BPF_LD_[ABS|IND] instructions not allowed for this program type ({})",
                       program_type_name(options.type));
  const int size = access_size(*d.row);
  if (size == 8) return std::string("BPF_LD_[ABS|IND] uses reserved fields (8-byte load)");
  auto& regs = st.current().regs;
  const RegValue& r6 = regs[6];
  if (!r6.is_init()) return std::string("R6 !read_ok");
  if (r6.kind != RegKind::ctx)
    return fmt::format("at the time of BPF_LD_ABS|IND R6 != pointer to skb ({})", to_string(r6));
  if (!(r6.value.is_const() && r6.value.const_value() == 0))
    return fmt::format("dereference of modified ctx ptr R6 off={} disallowed", to_string(r6.value));
  if (d.row->shape == Shape::LdInd) {
    const RegValue& index = regs[d.insn.src];
    if (!index.is_init()) return fmt::format("R{} !read_ok", d.insn.src);
    if (index.is_pointer()) return fmt::format("R{} leaks addr into packet load", d.insn.src);
  }
  // Like a helper call: r1-r5 are clobbered, r0 gets the (zero-extended) value.
  for (int r = 1; r <= 5; ++r) regs[static_cast<std::size_t>(r)] = RegValue::uninit();
  regs[0] = RegValue::scalar(ScalarValue::loaded(size, false));
  return std::nullopt;
}

}  // namespace bpfvm::verifier
