#include "verifier/scalar_alu.hpp"

#include "verifier/wide_range.hpp"

#include <algorithm>
#include <initializer_list>

namespace bpfvm::verifier {

namespace {

using u32 = std::uint32_t;
using u64 = std::uint64_t;
using s32 = std::int32_t;
using s64 = std::int64_t;

// An operand seen at the width of the operation: its unsigned and signed bounds at that width
// and its tnum (the low 32 bits, zero-extended, for 32-bit operations).
struct View {
  int bits;
  u64 umin, umax;
  s64 smin, smax;
  Tnum t;
};

View view(const ScalarValue& v, int bits) {
  if (bits == 64) return View{64, v.umin, v.umax, v.smin, v.smax, v.var_off};
  return View{32, v.u32_min, v.u32_max, v.s32_min, v.s32_max, v.var_off.subreg()};
}

u64 max_unsigned(int bits) { return bits == 64 ? ~u64{0} : 0xffffffffULL; }
s64 max_signed(int bits) { return bits == 64 ? INT64_MAX : INT32_MAX; }
s64 min_signed(int bits) { return bits == 64 ? INT64_MIN : INT32_MIN; }

// What an operation at `bits` knows about its result: a tnum of the result at that width and
// constraints on its unsigned and signed value at that width (each optional: absent is
// "anything"). Several constraints of one kind intersect.
struct Facts {
  int bits;
  Tnum t = Tnum::unknown();
  u64 umin = 0, umax;
  s64 smin, smax;
  // The result is the destination itself (x % 0, or x % d with |x| below every d): every
  // fact about the destination, its other half's bounds included, carries over.
  bool is_dst = false;

  explicit Facts(int width)
      : bits(width), umax(max_unsigned(width)), smin(min_signed(width)), smax(max_signed(width)) {}
  void unsigned_within(u64 lo, u64 hi) {
    umin = std::max(umin, lo);
    umax = std::min(umax, hi);
  }
  void signed_within(s64 lo, s64 hi) {
    smin = std::max(smin, lo);
    smax = std::min(smax, hi);
  }
  void unsigned_within(const std::optional<URange>& r) {
    if (r) unsigned_within(r->min, r->max);
  }
  void signed_within(const std::optional<SRange>& r) {
    if (r) signed_within(r->min, r->max);
  }
  void same_as(const View& v) {
    t = v.t;
    unsigned_within(v.umin, v.umax);
    signed_within(v.smin, v.smax);
  }
};

// The register value the facts describe: at 64 bits directly; at 32 bits the low half, the
// upper half zero (RFC 9669 section 4: 32-bit operations zero-extend).
ScalarValue to_value(const Facts& f) {
  ScalarValue r;
  if (f.bits == 64) {
    r.var_off = f.t;
    r.umin = f.umin;
    r.umax = f.umax;
    r.smin = f.smin;
    r.smax = f.smax;
    r.sync();
    return r;
  }
  r.var_off = f.t.subreg();
  r.u32_min = static_cast<u32>(f.umin);
  r.u32_max = static_cast<u32>(f.umax);
  r.s32_min = static_cast<s32>(f.smin);
  r.s32_max = static_cast<s32>(f.smax);
  r.zero_extend_32();
  return r;
}

Facts add(const View& a, const View& b) {
  Facts f(a.bits);
  f.t = tnum_add(a.t, b.t);
  f.unsigned_within(wrap_unsigned(Int128{a.umin} + b.umin, Int128{a.umax} + b.umax, a.bits));
  f.signed_within(wrap_signed(Int128{a.smin} + b.smin, Int128{a.smax} + b.smax, a.bits));
  return f;
}

Facts sub(const View& a, const View& b) {
  Facts f(a.bits);
  f.t = tnum_sub(a.t, b.t);
  f.unsigned_within(wrap_unsigned(Int128{a.umin} - b.umax, Int128{a.umax} - b.umin, a.bits));
  f.signed_within(wrap_signed(Int128{a.smin} - b.smax, Int128{a.smax} - b.smin, a.bits));
  return f;
}

Facts mul(const View& a, const View& b) {
  Facts f(a.bits);
  f.t = tnum_mul(a.t, b.t);
  // Unsigned products are monotone in both operands; a product of 2^127 or more does not fit
  // the signed 128-bit arithmetic and could not stay in one block anyway unless constant.
  const unsigned __int128 hi = static_cast<unsigned __int128>(a.umax) * b.umax;
  if (hi < (static_cast<unsigned __int128>(1) << 127)) {
    f.unsigned_within(wrap_unsigned(Int128{a.umin} * b.umin, static_cast<Int128>(hi), a.bits));
  }
  // Signed products reach their extremes at the corners of the rectangle.
  Int128 lo = Int128{a.smin} * b.smin, top = lo;
  for (Int128 p : {Int128{a.smin} * b.smax, Int128{a.smax} * b.smin, Int128{a.smax} * b.smax}) {
    lo = std::min(lo, p);
    top = std::max(top, p);
  }
  f.signed_within(wrap_signed(lo, top, a.bits));
  return f;
}

// Both operands known: the result is known (and needs no reasoning about ranges).
bool both_const(const View& a, const View& b) { return a.t.is_const() && b.t.is_const(); }

u64 unsigned_value(const View& v) { return v.t.value; }
s64 signed_value(const View& v) {
  return v.bits == 64 ? static_cast<s64>(v.t.value) : static_cast<s32>(static_cast<u32>(v.t.value));
}

Facts exactly(int bits, u64 v) {
  Facts f(bits);
  const u64 x = v & max_unsigned(bits);
  f.t = Tnum::constant(x);
  f.unsigned_within(x, x);
  return f;
}

Facts udiv(const View& a, const View& b) {
  if (both_const(a, b))
    return exactly(a.bits, unsigned_value(b) == 0 ? 0 : unsigned_value(a) / unsigned_value(b));
  Facts f(a.bits);
  if (b.umax == 0) {  // x / 0 == 0
    f.t = Tnum::constant(0);
    f.unsigned_within(0, 0);
  } else if (b.umin == 0) {  // 0 from the zero divisor, x / d <= x from the others
    f.unsigned_within(0, a.umax);
  } else {  // monotone: up in the dividend, down in the divisor
    f.unsigned_within(a.umin / b.umax, a.umax / b.umin);
  }
  return f;
}

Facts sdiv(const View& a, const View& b) {
  // Truncating division is monotone in each operand while the divisor keeps its sign, so
  // over each sign's part of the divisor range the extremes are at corners. A zero divisor
  // gives 0. The one quotient that does not fit, MIN / -1, is computed as 2^(bits-1) and
  // wraps like the machine's (RFC 9669: it gives MIN).
  if (both_const(a, b)) {
    const s64 x = signed_value(a), d = signed_value(b);
    const Int128 q = d == 0 ? 0 : Int128{x} / d;  // MIN / -1 wraps below
    return exactly(a.bits, static_cast<u64>(q));
  }
  Facts f(a.bits);
  bool any = false;
  Int128 lo = 0, hi = 0;
  auto consider = [&](Int128 q) {
    lo = any ? std::min(lo, q) : q;
    hi = any ? std::max(hi, q) : q;
    any = true;
  };
  auto corners = [&](s64 d_lo, s64 d_hi) {
    for (Int128 x : {Int128{a.smin}, Int128{a.smax}})
      for (Int128 d : {Int128{d_lo}, Int128{d_hi}}) consider(x / d);
  };
  if (b.smin <= -1) corners(b.smin, std::min<s64>(b.smax, -1));
  if (b.smax >= 1) corners(std::max<s64>(b.smin, 1), b.smax);
  if (b.smin <= 0 && b.smax >= 0) consider(0);
  if (any) f.signed_within(wrap_signed(lo, hi, a.bits));
  return f;
}

Facts umod(const View& a, const View& b) {
  if (both_const(a, b))
    return exactly(
        a.bits, unsigned_value(b) == 0 ? unsigned_value(a) : unsigned_value(a) % unsigned_value(b));
  Facts f(a.bits);
  // x % 0 == x, and x % d == x when x < d: the dividend unchanged.
  if (b.umax == 0 || a.umax < b.umin) {
    f.same_as(a);
    f.is_dst = true;
    return f;
  }
  // x % d <= x, and < d for d > 0.
  f.unsigned_within(0, b.umin == 0 ? a.umax : std::min(a.umax, b.umax - 1));
  return f;
}

Facts smod(const View& a, const View& b) {
  // The remainder has the dividend's sign (or is 0), is no larger in magnitude than the
  // dividend and smaller than the divisor; a zero divisor keeps the dividend.
  if (both_const(a, b)) {
    const s64 x = signed_value(a), d = signed_value(b);
    const Int128 r = d == 0 ? Int128{x} : Int128{x} % d;  // MIN % -1 == 0
    return exactly(a.bits, static_cast<u64>(static_cast<s64>(r)));
  }
  Facts f(a.bits);
  const bool zero_divisor = b.smin <= 0 && b.smax >= 0;
  if (b.smin == 0 && b.smax == 0) {
    f.same_as(a);
    f.is_dst = true;
    return f;
  }
  const Int128 largest = std::max(b.smin < 0 ? -Int128{b.smin} : Int128{b.smin},
                                  b.smax < 0 ? -Int128{b.smax} : Int128{b.smax});
  const Int128 smallest = b.smin > 0 ? Int128{b.smin} : b.smax < 0 ? -Int128{b.smax} : 1;
  if (-smallest < a.smin && a.smax < smallest) {  // |x| below every divisor: x itself
    f.same_as(a);
    f.is_dst = true;
    return f;
  }
  Int128 lo = a.smin >= 0 ? 0 : std::max<Int128>(a.smin, 1 - largest);
  Int128 hi = a.smax <= 0 ? 0 : std::min<Int128>(a.smax, largest - 1);
  if (zero_divisor) {
    lo = std::min<Int128>(lo, a.smin);
    hi = std::max<Int128>(hi, a.smax);
  }
  f.signed_within(static_cast<s64>(lo), static_cast<s64>(hi));
  return f;
}

Facts bit_and(const View& a, const View& b) {
  // x & y is no larger than either (unsigned); non-negative if either is, and then no larger
  // than it; negative if both are, and then no larger than either.
  Facts f(a.bits);
  f.t = tnum_and(a.t, b.t);
  f.unsigned_within(0, std::min(a.umax, b.umax));
  if (a.smin >= 0) f.signed_within(0, a.smax);
  if (b.smin >= 0) f.signed_within(0, b.smax);
  if (a.smax < 0 && b.smax < 0) f.signed_within(min_signed(a.bits), std::min(a.smax, b.smax));
  return f;
}

Facts bit_or(const View& a, const View& b) {
  // x | y is no smaller than either (unsigned); negative if either is, and then no smaller
  // than it; non-negative if both are, and no smaller than either.
  Facts f(a.bits);
  f.t = tnum_or(a.t, b.t);
  f.unsigned_within(std::max(a.umin, b.umin), max_unsigned(a.bits));
  if (a.smin >= 0 && b.smin >= 0) f.signed_within(std::max(a.smin, b.smin), max_signed(a.bits));
  if (a.smax < 0) f.signed_within(a.smin, -1);
  if (b.smax < 0) f.signed_within(b.smin, -1);
  return f;
}

Facts bit_xor(const View& a, const View& b) {
  // The sign of x ^ y is known when both signs are; the tnum gives the rest.
  Facts f(a.bits);
  f.t = tnum_xor(a.t, b.t);
  const bool a_pos = a.smin >= 0, a_neg = a.smax < 0, b_pos = b.smin >= 0, b_neg = b.smax < 0;
  if ((a_pos && b_pos) || (a_neg && b_neg)) f.signed_within(0, max_signed(a.bits));
  if ((a_pos && b_neg) || (a_neg && b_pos)) f.signed_within(min_signed(a.bits), -1);
  return f;
}

// The shift amount, when it is known: the source's value masked to the width (RFC 9669).
std::optional<unsigned> shift_amount(const View& b) {
  if (!b.t.is_const()) return std::nullopt;
  return static_cast<unsigned>(b.t.value & static_cast<u64>(b.bits - 1));
}

Facts lsh(const View& a, const View& b, const ScalarValue& whole_a) {
  Facts f(a.bits);
  const auto k = shift_amount(b);
  if (!k) return f;
  // x << k is x * 2^k modulo 2^bits.
  f.t = tnum_lshift(a.t, *k);
  const Int128 scale = Int128{1} << *k;
  f.unsigned_within(wrap_unsigned(Int128{a.umin} * scale, Int128{a.umax} * scale, a.bits));
  f.signed_within(wrap_signed(Int128{a.smin} * scale, Int128{a.smax} * scale, a.bits));
  if (a.bits == 64 && *k >= 32) {
    // Only the low half survives a shift by 32 or more: x * 2^k == (u32)x * 2^k
    // == (s32)x * 2^k modulo 2^64. Linux's special case of x << 32 (for x << 32 s>> 32).
    f.unsigned_within(
        wrap_unsigned(Int128{whole_a.u32_min} * scale, Int128{whole_a.u32_max} * scale, 64));
    f.signed_within(
        wrap_signed(Int128{whole_a.s32_min} * scale, Int128{whole_a.s32_max} * scale, 64));
  }
  return f;
}

Facts rsh(const View& a, const View& b) {
  Facts f(a.bits);
  const auto k = shift_amount(b);
  if (!k) {  // any amount: the value can only shrink
    f.unsigned_within(0, a.umax);
    return f;
  }
  f.t = tnum_rshift(a.t, *k);
  f.unsigned_within(a.umin >> *k, a.umax >> *k);
  return f;
}

Facts arsh(const View& a, const View& b) {
  Facts f(a.bits);
  const auto k = shift_amount(b);
  if (!k) {  // any amount: between x and 0 (-1 for negative x), with x's sign
    f.signed_within(a.smin < 0 ? a.smin : 0, a.smax >= 0 ? a.smax : -1);
    return f;
  }
  // Arithmetic shifts are monotone; the views hold the signed value at this width.
  f.t = tnum_arshift(a.t, *k, a.bits);
  f.signed_within(a.smin >> *k, a.smax >> *k);
  return f;
}

// movsx: the low `from` bits of src read as a signed number.
Facts sign_extend(const ScalarValue& src, int from, int bits) {
  Facts f(bits);
  const s64 lo = -(s64{1} << (from - 1)), hi = (s64{1} << (from - 1)) - 1;
  f.t = src.var_off.sign_extend(from);
  f.signed_within(lo, hi);
  if (from == 32) {
    f.signed_within(src.s32_min, src.s32_max);
    return f;
  }
  // A value already inside the narrow signed range is its own sign extension.
  if (lo <= src.smin && src.smax <= hi) f.signed_within(src.smin, src.smax);
  if (lo <= src.s32_min && src.s32_max <= hi) f.signed_within(src.s32_min, src.s32_max);
  // A range whose ends agree above bit `from` has low parts from one end's to the other's;
  // they read the same way as signed numbers if they agree on the narrow sign bit too.
  auto from_unsigned = [&](u64 umin, u64 umax) {
    if ((umin >> from) != (umax >> from)) return;
    const u64 low_mask = (u64{1} << from) - 1;
    const u64 l = umin & low_mask, h = umax & low_mask;
    if (((l ^ h) >> (from - 1)) & 1) return;
    auto sext = [&](u64 x) { return static_cast<s64>(x << (64 - from)) >> (64 - from); };
    f.signed_within(sext(l), sext(h));
  };
  from_unsigned(src.umin, src.umax);
  from_unsigned(src.u32_min, src.u32_max);
  return f;
}

// le16 / le32 on a little-endian host: the low bytes, zero-extended.
ScalarValue truncate(const ScalarValue& v, int bytes) {
  if (bytes == 4) return alu(AluOp::mov, 32, v, v);
  Facts f(64);
  f.t = v.var_off.cast(bytes);
  const u64 limit = (u64{1} << (bytes * 8)) - 1;
  f.unsigned_within(0, limit);
  if (v.umax <= limit) f.unsigned_within(v.umin, v.umax);
  if (v.u32_max <= limit) f.unsigned_within(v.u32_min, v.u32_max);
  return to_value(f);
}

ScalarValue byte_swap(const ScalarValue& v, int bytes) {
  return ScalarValue::from_tnum(v.var_off.byte_swap(bytes));
}

// The low half of a 64-bit add, sub, mul, neg, and, or, xor is the same operation on the low
// halves: Linux computes both (scalar32_min_max_* next to scalar_min_max_*).
bool low_half_follows(AluOp op) {
  switch (op) {
    case AluOp::add:
    case AluOp::sub:
    case AluOp::mul:
    case AluOp::neg:
    case AluOp::bit_and:
    case AluOp::bit_or:
    case AluOp::bit_xor: return true;
    default: return false;
  }
}

Facts facts(AluOp op, const View& a, const View& b, const ScalarValue& dst) {
  switch (op) {
    case AluOp::add: return add(a, b);
    case AluOp::sub: return sub(a, b);
    case AluOp::neg: return sub(view(ScalarValue::constant(0), a.bits), a);
    case AluOp::mul: return mul(a, b);
    case AluOp::div: return udiv(a, b);
    case AluOp::sdiv: return sdiv(a, b);
    case AluOp::mod: return umod(a, b);
    case AluOp::smod: return smod(a, b);
    case AluOp::bit_and: return bit_and(a, b);
    case AluOp::bit_or: return bit_or(a, b);
    case AluOp::bit_xor: return bit_xor(a, b);
    case AluOp::lsh: return lsh(a, b, dst);
    case AluOp::rsh: return rsh(a, b);
    case AluOp::arsh: return arsh(a, b);
    default: break;
  }
  return Facts(a.bits);
}

}  // namespace

ScalarValue alu(AluOp op, int bits, const ScalarValue& dst, const ScalarValue& src) {
  switch (op) {
    case AluOp::mov:
      if (bits == 64) return src;
      {
        Facts f(32);
        f.same_as(view(src, 32));
        return to_value(f);
      }
    case AluOp::movsx8: return to_value(sign_extend(src, 8, bits));
    case AluOp::movsx16: return to_value(sign_extend(src, 16, bits));
    case AluOp::movsx32: return to_value(sign_extend(src, 32, bits));
    case AluOp::le16: return truncate(dst, 2);
    case AluOp::le32: return truncate(dst, 4);
    case AluOp::le64: return dst;
    case AluOp::bswap16: return byte_swap(dst, 2);
    case AluOp::bswap32: return byte_swap(dst, 4);
    case AluOp::bswap64: return byte_swap(dst, 8);
    default: break;
  }
  const Facts f = facts(op, view(dst, bits), view(src, bits), dst);
  if (f.is_dst) return bits == 64 ? dst : alu(AluOp::mov, 32, dst, dst);
  ScalarValue r = to_value(f);
  if (bits == 64 && low_half_follows(op)) {
    const ScalarValue low = to_value(facts(op, view(dst, 32), view(src, 32), dst));
    r.u32_min = std::max(r.u32_min, low.u32_min);
    r.u32_max = std::min(r.u32_max, low.u32_max);
    r.s32_min = std::max(r.s32_min, low.s32_min);
    r.s32_max = std::min(r.s32_max, low.s32_max);
    r.var_off = r.var_off.with_subreg(tnum_intersect(r.var_off.subreg(), low.var_off));
    r.sync();
  }
  return r;
}

std::optional<AluRow> alu_row(Op op) {
  switch (op) {
#define BPFVM_ALU_ROWS(name, alu_op)                       \
  case Op::name##64_IMM:                                   \
  case Op::name##64_REG: return AluRow{AluOp::alu_op, 64}; \
  case Op::name##32_IMM:                                   \
  case Op::name##32_REG: return AluRow{AluOp::alu_op, 32};
    BPFVM_ALU_ROWS(ADD, add)
    BPFVM_ALU_ROWS(SUB, sub)
    BPFVM_ALU_ROWS(MUL, mul)
    BPFVM_ALU_ROWS(DIV, div)
    BPFVM_ALU_ROWS(SDIV, sdiv)
    BPFVM_ALU_ROWS(MOD, mod)
    BPFVM_ALU_ROWS(SMOD, smod)
    BPFVM_ALU_ROWS(OR, bit_or)
    BPFVM_ALU_ROWS(AND, bit_and)
    BPFVM_ALU_ROWS(LSH, lsh)
    BPFVM_ALU_ROWS(RSH, rsh)
    BPFVM_ALU_ROWS(ARSH, arsh)
    BPFVM_ALU_ROWS(XOR, bit_xor)
    BPFVM_ALU_ROWS(MOV, mov)
#undef BPFVM_ALU_ROWS
    case Op::NEG64: return AluRow{AluOp::neg, 64};
    case Op::NEG32: return AluRow{AluOp::neg, 32};
    case Op::MOVSX8_64: return AluRow{AluOp::movsx8, 64};
    case Op::MOVSX16_64: return AluRow{AluOp::movsx16, 64};
    case Op::MOVSX32_64: return AluRow{AluOp::movsx32, 64};
    case Op::MOVSX8_32: return AluRow{AluOp::movsx8, 32};
    case Op::MOVSX16_32: return AluRow{AluOp::movsx16, 32};
    case Op::LE16: return AluRow{AluOp::le16, 64};
    case Op::LE32: return AluRow{AluOp::le32, 64};
    case Op::LE64: return AluRow{AluOp::le64, 64};
    case Op::BE16:
    case Op::BSWAP16: return AluRow{AluOp::bswap16, 64};
    case Op::BE32:
    case Op::BSWAP32: return AluRow{AluOp::bswap32, 64};
    case Op::BE64:
    case Op::BSWAP64: return AluRow{AluOp::bswap64, 64};
    default: return std::nullopt;
  }
}

std::optional<ScalarValue> transfer(Op op, const ScalarValue& dst, const ScalarValue& src) {
  const auto row = alu_row(op);
  if (!row) return std::nullopt;
  return alu(row->op, row->bits, dst, src);
}

}  // namespace bpfvm::verifier
