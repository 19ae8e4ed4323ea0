#include "verifier/samples.hpp"

#include "verifier/scalar_alu.hpp"

#include <algorithm>
#include <iterator>

namespace bpfvm::verifier::testing {

namespace {

using u64 = std::uint64_t;
using s64 = std::int64_t;

constexpr u64 edges[] = {
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    0x100000000,
    0x7fffffffffffffff,
    0x8000000000000000,
    0xffffffffffffffff,
    0xffffffff80000000,
    0xfffffffffffffffe,
    0xffffffffffffff80,
};

}  // namespace

u64 Samples::value() {
  switch (below(6)) {
    case 0: return edges[below(std::size(edges))];
    case 1: return edges[below(std::size(edges))] + below(5) - 2;  // near an edge
    case 2: return below(64);
    case 3: return static_cast<u64>(-static_cast<s64>(below(64)));
    case 4: return rng_() & 0xffffffff;
    default: return rng_();
  }
}

ScalarValue Samples::abstract() {
  switch (below(12)) {
    case 0: return ScalarValue::constant(value());
    case 1: {  // a small unsigned range
      const u64 lo = value();
      return ScalarValue::unsigned_range(lo, lo + std::min<u64>(below(300), ~lo));
    }
    case 2: {  // a small signed range
      const s64 lo = static_cast<s64>(value());
      const s64 width = static_cast<s64>(below(300));
      return ScalarValue::signed_range(lo, lo > INT64_MAX - width ? INT64_MAX : lo + width);
    }
    case 3: {  // a tnum with a few unknown bits
      u64 mask = 0;
      const u64 n = 1 + below(8);
      for (u64 i = 0; i < n; ++i) mask |= u64{1} << below(64);
      if (below(3) == 0) mask = (u64{1} << below(16)) - 1;  // low bits unknown
      return ScalarValue::from_tnum(Tnum{value() & ~mask, mask});
    }
    case 4: {  // the low half bounded, the upper half unknown
      u64 a = value() & 0xffffffff, b = value() & 0xffffffff;
      if (a > b) std::swap(a, b);
      return below(2) ? ScalarValue::unsigned_range32(static_cast<std::uint32_t>(a),
                                                      static_cast<std::uint32_t>(b))
                      : ScalarValue::signed_range32(
                            static_cast<std::int32_t>(std::min<s64>(static_cast<std::int32_t>(a),
                                                                    static_cast<std::int32_t>(b))),
                            static_cast<std::int32_t>(std::max<s64>(static_cast<std::int32_t>(a),
                                                                    static_cast<std::int32_t>(b))));
    }
    case 5: return ScalarValue::unknown();
    case 6: {  // a wide unsigned range
      u64 a = value(), b = value();
      if (a > b) std::swap(a, b);
      return ScalarValue::unsigned_range(a, b);
    }
    case 7: {  // a wide signed range
      s64 a = static_cast<s64>(value()), b = static_cast<s64>(value());
      if (a > b) std::swap(a, b);
      return ScalarValue::signed_range(a, b);
    }
    case 8: return join(ScalarValue::constant(value()), ScalarValue::constant(value()));
    case 9: return ScalarValue::loaded(1 << below(4), below(2) == 0);
    case 10: {  // a range and a tnum at once
      ScalarValue v = ScalarValue::from_tnum(Tnum{0, (u64{1} << (1 + below(20))) - 1});
      v.umin = below(100);
      v.umax = v.umin + below(5000);
      v.sync();
      return v.is_bottom() ? ScalarValue::constant(v.umin) : v;
    }
    default: {  // the result of an operation on two others
      const AluOp ops[] = {AluOp::add, AluOp::sub,  AluOp::bit_and, AluOp::bit_or, AluOp::lsh,
                           AluOp::rsh, AluOp::arsh, AluOp::mul,     AluOp::movsx8, AluOp::mov};
      const ScalarValue a = ScalarValue::unsigned_range(0, below(1000));
      const ScalarValue b = ScalarValue::constant(below(40));
      return alu(ops[below(std::size(ops))], below(2) ? 64 : 32, a, b);
    }
  }
}

ScalarValue Samples::related(const ScalarValue& other) {
  switch (below(6)) {
    case 0: {
      const auto m = members(other, 1);
      return m.empty() ? abstract() : ScalarValue::constant(m[0]);
    }
    case 1: return other;
    case 2: {  // overlapping range
      const auto m = members(other, 2);
      if (m.size() < 2) return abstract();
      return ScalarValue::unsigned_range(std::min(m[0], m[1]), std::max(m[0], m[1]));
    }
    case 3: return ScalarValue::constant(other.umin + below(3) - 1);
    default: return abstract();
  }
}

u64 Samples::candidate(const ScalarValue& v) {
  const auto in = [&](u64 lo, u64 hi) {
    return hi - lo == ~u64{0} ? rng_() : lo + below(hi - lo + 1);
  };
  switch (below(9)) {
    case 0: return v.var_off.value | (rng_() & v.var_off.mask);
    case 1: return in(v.umin, v.umax);
    case 2: return static_cast<u64>(in(static_cast<u64>(v.smin), static_cast<u64>(v.smax)));
    case 3: {  // low half from its range, upper half from the tnum
      const u64 low = in(v.u32_min, v.u32_max);
      return ((v.var_off.value | (rng_() & v.var_off.mask)) & ~u64{0xffffffff}) | low;
    }
    case 4: {
      const u64 low = static_cast<std::uint32_t>(
          in(static_cast<std::uint32_t>(v.s32_min), static_cast<std::uint32_t>(v.s32_max)));
      return (v.umin & ~u64{0xffffffff}) | low;
    }
    case 5: {
      const u64 ends[] = {
          v.umin,          v.umax,         static_cast<u64>(v.smin), static_cast<u64>(v.smax),
          v.var_off.min(), v.var_off.max()};
      return ends[below(std::size(ends))];
    }
    case 6: return (v.umin & ~u64{0xffffffff}) | (below(2) ? v.u32_min : v.u32_max);
    case 7: return (v.umax & ~u64{0xffffffff}) | (below(2) ? v.u32_min : v.u32_max);
    default: return in(v.umin, v.umax) + below(3) - 1;
  }
}

std::vector<u64> Samples::members(const ScalarValue& v, int count) {
  std::vector<u64> out;
  for (int tries = 0; tries < count * 12 && static_cast<int>(out.size()) < count; ++tries) {
    const u64 c = candidate(v);
    if (v.contains(c)) out.push_back(c);
  }
  return out;
}

}  // namespace bpfvm::verifier::testing
