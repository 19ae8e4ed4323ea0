#include "verifier/scalar_branch.hpp"

#include <algorithm>
#include <bit>
#include <utility>

namespace bpfvm::verifier {

namespace {

using u32 = std::uint32_t;
using u64 = std::uint64_t;
using s32 = std::int32_t;
using s64 = std::int64_t;

// An operand at the width of the comparison: the bounds of its 64 bits or of its low half,
// and the tnum of those bits.
u64 umin_at(const ScalarValue& v, int bits) { return bits == 64 ? v.umin : v.u32_min; }
u64 umax_at(const ScalarValue& v, int bits) { return bits == 64 ? v.umax : v.u32_max; }
s64 smin_at(const ScalarValue& v, int bits) { return bits == 64 ? v.smin : v.s32_min; }
s64 smax_at(const ScalarValue& v, int bits) { return bits == 64 ? v.smax : v.s32_max; }
Tnum tnum_at(const ScalarValue& v, int bits) { return bits == 64 ? v.var_off : v.var_off.subreg(); }
u64 umax_of(int bits) { return bits == 64 ? ~u64{0} : 0xffffffffULL; }
s64 smin_of(int bits) { return bits == 64 ? INT64_MIN : INT32_MIN; }
s64 smax_of(int bits) { return bits == 64 ? INT64_MAX : INT32_MAX; }

// Constraints added at a width only ever tighten.
void at_least_u(ScalarValue& v, int bits, u64 x) {
  if (bits == 64)
    v.umin = std::max(v.umin, x);
  else
    v.u32_min = std::max(v.u32_min, static_cast<u32>(x));
}
void at_most_u(ScalarValue& v, int bits, u64 x) {
  if (bits == 64)
    v.umax = std::min(v.umax, x);
  else
    v.u32_max = std::min(v.u32_max, static_cast<u32>(x));
}
void at_least_s(ScalarValue& v, int bits, s64 x) {
  if (bits == 64)
    v.smin = std::max(v.smin, x);
  else
    v.s32_min = std::max(v.s32_min, static_cast<s32>(x));
}
void at_most_s(ScalarValue& v, int bits, s64 x) {
  if (bits == 64)
    v.smax = std::min(v.smax, x);
  else
    v.s32_max = std::min(v.s32_max, static_cast<s32>(x));
}
// Intersects the tnum at this width with `c`; false when they have no member in common.
bool meet_tnum(ScalarValue& v, int bits, const Tnum& c) {
  const Tnum t = tnum_at(v, bits);
  if (!t.overlaps(c)) return false;
  const Tnum m = tnum_intersect(t, c);
  v.var_off = bits == 64 ? m : v.var_off.with_subreg(m);
  return true;
}

bool is_const_at(const ScalarValue& v, int bits) { return tnum_at(v, bits).is_const(); }

// dst != c: a bound equal to c moves past it (Linux: the JNE case of regs_refine_cond_op).
// When both ends are c, nothing is left.
bool exclude(ScalarValue& v, int bits, u64 c) {
  const u64 cu = bits == 64 ? c : static_cast<u32>(c);
  const s64 cs = bits == 64 ? static_cast<s64>(c) : static_cast<s32>(c);
  const u64 umin = umin_at(v, bits), umax = umax_at(v, bits);
  const s64 smin = smin_at(v, bits), smax = smax_at(v, bits);
  if ((umin == cu && umax == cu) || (smin == cs && smax == cs)) return false;
  // (A bound at the type's extreme equal to c with the other bound elsewhere is already an
  // empty range; it is left for is_bottom to see rather than wrapped.)
  if (umin == cu && cu != umax_of(bits)) at_least_u(v, bits, cu + 1);
  if (umax == cu && cu != 0) at_most_u(v, bits, cu - 1);
  if (smin == cs && cs != smax_of(bits)) at_least_s(v, bits, cs + 1);
  if (smax == cs && cs != smin_of(bits)) at_most_s(v, bits, cs - 1);
  return true;
}

// a < b (strict) or a <= b, unsigned or signed, at a width.
bool refine_less(ScalarValue& a, ScalarValue& b, int bits, bool strict, bool is_signed) {
  if (is_signed) {
    const s64 amin = smin_at(a, bits), bmax = smax_at(b, bits);
    if (strict && (bmax == smin_of(bits) || amin == smax_of(bits))) return false;
    at_most_s(a, bits, strict ? bmax - 1 : bmax);
    at_least_s(b, bits, strict ? amin + 1 : amin);
  } else {
    const u64 amin = umin_at(a, bits), bmax = umax_at(b, bits);
    if (strict && (bmax == 0 || amin == umax_of(bits))) return false;
    at_most_u(a, bits, strict ? bmax - 1 : bmax);
    at_least_u(b, bits, strict ? amin + 1 : amin);
  }
  return true;
}

bool refine_equal(ScalarValue& a, ScalarValue& b, int bits) {
  if (!meet_tnum(a, bits, tnum_at(b, bits))) return false;
  at_least_u(a, bits, umin_at(b, bits));
  at_most_u(a, bits, umax_at(b, bits));
  at_least_s(a, bits, smin_at(b, bits));
  at_most_s(a, bits, smax_at(b, bits));
  if (bits == 64) {
    // Equal 64-bit values have equal low halves too.
    a.u32_min = std::max(a.u32_min, b.u32_min);
    a.u32_max = std::min(a.u32_max, b.u32_max);
    a.s32_min = std::max(a.s32_min, b.s32_min);
    a.s32_max = std::min(a.s32_max, b.s32_max);
    b = a;
    return true;
  }
  // Only the low halves are equal: b learns a's low half, the upper halves stay their own.
  b.u32_min = a.u32_min;
  b.u32_max = a.u32_max;
  b.s32_min = a.s32_min;
  b.s32_max = a.s32_max;
  b.var_off = b.var_off.with_subreg(a.var_off.subreg());
  return meet_tnum(b, bits, tnum_at(a, bits));
}

// a & b != 0 at a width. Some bit that may be 1 in both is 1 in both; when there is only one
// such bit, it is known (Linux learns this when b is a constant power of two).
bool refine_set(ScalarValue& a, ScalarValue& b, int bits) {
  const Tnum ta = tnum_at(a, bits), tb = tnum_at(b, bits);
  const u64 candidates = ta.max() & tb.max();
  if (candidates == 0) return false;
  if (std::has_single_bit(candidates)) {
    return meet_tnum(a, bits, Tnum{candidates, ~candidates & umax_of(bits)}) &&
           meet_tnum(b, bits, Tnum{candidates, ~candidates & umax_of(bits)});
  }
  return true;
}

// a & b == 0 at a width: a bit known 1 in one is 0 in the other (Linux: BPF_JSET | BPF_X in
// regs_refine_cond_op, when the other is a constant).
bool refine_clear(ScalarValue& a, ScalarValue& b, int bits) {
  const u64 ones_a = tnum_at(a, bits).value, ones_b = tnum_at(b, bits).value;
  const u64 all = umax_of(bits);
  return meet_tnum(a, bits, Tnum{0, ~ones_b & all}) && meet_tnum(b, bits, Tnum{0, ~ones_a & all});
}

bool refine_in_place(CmpOp op, int bits, ScalarValue& a, ScalarValue& b) {
  switch (op) {
    case CmpOp::eq: return refine_equal(a, b, bits);
    case CmpOp::ne:
      if (is_const_at(b, bits)) return exclude(a, bits, tnum_at(b, bits).value);
      if (is_const_at(a, bits)) return exclude(b, bits, tnum_at(a, bits).value);
      return true;
    case CmpOp::lt: return refine_less(a, b, bits, true, false);
    case CmpOp::le: return refine_less(a, b, bits, false, false);
    case CmpOp::slt: return refine_less(a, b, bits, true, true);
    case CmpOp::sle: return refine_less(a, b, bits, false, true);
    case CmpOp::gt: return refine_less(b, a, bits, true, false);
    case CmpOp::ge: return refine_less(b, a, bits, false, false);
    case CmpOp::sgt: return refine_less(b, a, bits, true, true);
    case CmpOp::sge: return refine_less(b, a, bits, false, true);
    case CmpOp::set: return refine_set(a, b, bits);
    case CmpOp::bits_clear: return refine_clear(a, b, bits);
  }
  return true;
}

}  // namespace

CmpOp negate(CmpOp op) {
  switch (op) {
    case CmpOp::eq: return CmpOp::ne;
    case CmpOp::ne: return CmpOp::eq;
    case CmpOp::gt: return CmpOp::le;
    case CmpOp::le: return CmpOp::gt;
    case CmpOp::ge: return CmpOp::lt;
    case CmpOp::lt: return CmpOp::ge;
    case CmpOp::sgt: return CmpOp::sle;
    case CmpOp::sle: return CmpOp::sgt;
    case CmpOp::sge: return CmpOp::slt;
    case CmpOp::slt: return CmpOp::sge;
    case CmpOp::set: return CmpOp::bits_clear;
    case CmpOp::bits_clear: return CmpOp::set;
  }
  return op;
}

Verdict branch_taken(CmpOp op, int bits, const ScalarValue& a, const ScalarValue& b) {
  const Tnum ta = tnum_at(a, bits), tb = tnum_at(b, bits);
  const u64 umin1 = umin_at(a, bits), umax1 = umax_at(a, bits);
  const u64 umin2 = umin_at(b, bits), umax2 = umax_at(b, bits);
  const s64 smin1 = smin_at(a, bits), smax1 = smax_at(a, bits);
  const s64 smin2 = smin_at(b, bits), smax2 = smax_at(b, bits);
  auto when = [](bool yes, bool no) {
    return yes ? Verdict::always : no ? Verdict::never : Verdict::unknown;
  };
  switch (op) {
    case CmpOp::eq:
    case CmpOp::ne: {
      // Equal only if some member is shared: the ranges overlap in both orders (and, for 64
      // bits, the low halves' ranges too) and the tnums agree on the bits both know.
      const bool both_const = ta.is_const() && tb.is_const();
      bool disjoint =
          !ta.overlaps(tb) || umin1 > umax2 || umax1 < umin2 || smin1 > smax2 || smax1 < smin2;
      if (bits == 64)
        disjoint = disjoint || a.u32_min > b.u32_max || a.u32_max < b.u32_min ||
                   a.s32_min > b.s32_max || a.s32_max < b.s32_min;
      const bool equal = both_const && ta.value == tb.value;
      return op == CmpOp::eq ? when(equal, disjoint) : when(disjoint, equal);
    }
    case CmpOp::set:
    case CmpOp::bits_clear: {
      // Some bit known 1 in both: set. No bit that may be 1 in both: clear.
      const bool set = (ta.value & tb.value) != 0;
      const bool clear = (ta.max() & tb.max()) == 0;
      return op == CmpOp::set ? when(set, clear) : when(clear, set);
    }
    case CmpOp::gt: return when(umin1 > umax2, umax1 <= umin2);
    case CmpOp::ge: return when(umin1 >= umax2, umax1 < umin2);
    case CmpOp::lt: return when(umax1 < umin2, umin1 >= umax2);
    case CmpOp::le: return when(umax1 <= umin2, umin1 > umax2);
    case CmpOp::sgt: return when(smin1 > smax2, smax1 <= smin2);
    case CmpOp::sge: return when(smin1 >= smax2, smax1 < smin2);
    case CmpOp::slt: return when(smax1 < smin2, smin1 >= smax2);
    case CmpOp::sle: return when(smax1 <= smin2, smin1 > smax2);
  }
  return Verdict::unknown;
}

std::optional<Refined> refine(CmpOp op, int bits, const ScalarValue& a, const ScalarValue& b) {
  Refined r{a, b};
  if (!refine_in_place(op, bits, r.dst, r.src)) return std::nullopt;
  r.dst.sync();
  r.src.sync();
  if (r.dst.is_bottom() || r.src.is_bottom()) return std::nullopt;
  return r;
}

BranchResult branch(CmpOp op, int bits, const ScalarValue& dst, const ScalarValue& src) {
  const Verdict v = branch_taken(op, bits, dst, src);
  BranchResult result{v, std::nullopt, std::nullopt};
  if (v != Verdict::never) result.taken = refine(op, bits, dst, src);
  if (v != Verdict::always) result.fallthrough = refine(negate(op), bits, dst, src);
  // Refinement can prove an edge empty where the quick test could not.
  if (!result.taken)
    result.verdict = Verdict::never;
  else if (!result.fallthrough)
    result.verdict = Verdict::always;
  return result;
}

std::optional<JumpRow> jump_row(Op op) {
  switch (op) {
#define BPFVM_JUMP_ROWS(name, cmp)                       \
  case Op::name##64_IMM:                                 \
  case Op::name##64_REG: return JumpRow{CmpOp::cmp, 64}; \
  case Op::name##32_IMM:                                 \
  case Op::name##32_REG: return JumpRow{CmpOp::cmp, 32};
    BPFVM_JUMP_ROWS(JEQ, eq)
    BPFVM_JUMP_ROWS(JNE, ne)
    BPFVM_JUMP_ROWS(JGT, gt)
    BPFVM_JUMP_ROWS(JGE, ge)
    BPFVM_JUMP_ROWS(JLT, lt)
    BPFVM_JUMP_ROWS(JLE, le)
    BPFVM_JUMP_ROWS(JSGT, sgt)
    BPFVM_JUMP_ROWS(JSGE, sge)
    BPFVM_JUMP_ROWS(JSLT, slt)
    BPFVM_JUMP_ROWS(JSLE, sle)
    BPFVM_JUMP_ROWS(JSET, set)
#undef BPFVM_JUMP_ROWS
    default: return std::nullopt;
  }
}

std::optional<BranchResult> branch(Op op, const ScalarValue& dst, const ScalarValue& src) {
  const auto row = jump_row(op);
  if (!row) return std::nullopt;
  return branch(row->op, row->bits, dst, src);
}

}  // namespace bpfvm::verifier
