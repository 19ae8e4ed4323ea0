#include "verifier/concrete.hpp"

namespace bpfvm::verifier::testing {

namespace {

using u32 = std::uint32_t;
using u64 = std::uint64_t;
using s32 = std::int32_t;
using s64 = std::int64_t;

u64 swap_bytes(u64 x, int bytes) {
  u64 r = 0;
  for (int i = 0; i < bytes; ++i) r |= ((x >> (8 * i)) & 0xff) << (8 * (bytes - 1 - i));
  return r;
}

u64 sign_extend(u64 x, int from) {
  const int unused = 64 - from;
  return static_cast<u64>(static_cast<s64>(x << unused) >> unused);
}

// One operation on `bits`-wide operands; the result is taken modulo 2^bits.
u64 compute(AluOp op, int bits, u64 x, u64 y) {
  const u64 mask = bits == 64 ? ~u64{0} : 0xffffffffULL;
  x &= mask;
  y &= mask;
  const s64 sx = bits == 64 ? static_cast<s64>(x) : static_cast<s32>(static_cast<u32>(x));
  const s64 sy = bits == 64 ? static_cast<s64>(y) : static_cast<s32>(static_cast<u32>(y));
  const s64 smin = bits == 64 ? INT64_MIN : INT32_MIN;
  const unsigned k = static_cast<unsigned>(y & static_cast<u64>(bits - 1));
  switch (op) {
    case AluOp::add: return x + y;
    case AluOp::sub: return x - y;
    case AluOp::mul: return x * y;
    case AluOp::div: return y == 0 ? 0 : x / y;
    case AluOp::mod: return y == 0 ? x : x % y;
    case AluOp::sdiv:
      if (sy == 0) return 0;
      if (sx == smin && sy == -1) return static_cast<u64>(sx);
      return static_cast<u64>(sx / sy);
    case AluOp::smod:
      if (sy == 0) return x;
      if (sy == -1) return 0;
      return static_cast<u64>(sx % sy);
    case AluOp::bit_or: return x | y;
    case AluOp::bit_and: return x & y;
    case AluOp::bit_xor: return x ^ y;
    case AluOp::lsh: return x << k;
    case AluOp::rsh: return x >> k;
    case AluOp::arsh: return static_cast<u64>(sx >> k);
    case AluOp::neg: return u64{0} - x;
    case AluOp::mov: return y;
    case AluOp::movsx8: return sign_extend(y, 8);
    case AluOp::movsx16: return sign_extend(y, 16);
    case AluOp::movsx32: return sign_extend(y, 32);
    case AluOp::le16: return x & 0xffff;
    case AluOp::le32: return x & 0xffffffff;
    case AluOp::le64: return x;
    case AluOp::bswap16: return swap_bytes(x, 2);
    case AluOp::bswap32: return swap_bytes(x, 4);
    case AluOp::bswap64: return swap_bytes(x, 8);
  }
  return 0;
}

}  // namespace

std::uint64_t concrete_alu(AluOp op, int bits, std::uint64_t dst, std::uint64_t src) {
  const u64 mask = bits == 64 ? ~u64{0} : 0xffffffffULL;
  return compute(op, bits, dst, src) & mask;  // 32-bit results are zero-extended
}

bool concrete_cmp(CmpOp op, int bits, std::uint64_t a, std::uint64_t b) {
  if (bits == 32) {
    a &= 0xffffffff;
    b &= 0xffffffff;
  }
  const s64 sa = bits == 64 ? static_cast<s64>(a) : static_cast<s32>(static_cast<u32>(a));
  const s64 sb = bits == 64 ? static_cast<s64>(b) : static_cast<s32>(static_cast<u32>(b));
  switch (op) {
    case CmpOp::eq: return a == b;
    case CmpOp::ne: return a != b;
    case CmpOp::gt: return a > b;
    case CmpOp::ge: return a >= b;
    case CmpOp::lt: return a < b;
    case CmpOp::le: return a <= b;
    case CmpOp::sgt: return sa > sb;
    case CmpOp::sge: return sa >= sb;
    case CmpOp::slt: return sa < sb;
    case CmpOp::sle: return sa <= sb;
    case CmpOp::set: return (a & b) != 0;
    case CmpOp::bits_clear: return (a & b) == 0;
  }
  return false;
}

}  // namespace bpfvm::verifier::testing
