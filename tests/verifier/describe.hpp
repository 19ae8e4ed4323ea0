// Failure messages: every field of an abstract value, and operation names.
#pragma once

#include "verifier/scalar_alu.hpp"
#include "verifier/scalar_branch.hpp"

#include <ostream>
#include <string>

#include <vector>

#include <fmt/format.h>

namespace bpfvm::verifier::testing {

// Random iteration counts: in full in optimised builds, a quarter in debug builds (the
// sanitizer suite), so that both run in seconds. Exhaustive loops are not scaled.
inline constexpr int iterations(int n) {
#ifdef NDEBUG
  return n;
#else
  return n / 4;
#endif
}

inline std::string describe(const ScalarValue& v) {
  return fmt::format("{} [var_off={} u=[{:#x},{:#x}] s=[{},{}] u32=[{:#x},{:#x}] s32=[{},{}]]",
                     to_string(v), to_string(v.var_off), v.umin, v.umax, v.smin, v.smax, v.u32_min,
                     v.u32_max, v.s32_min, v.s32_max);
}

inline const char* name(AluOp op) {
  constexpr const char* names[] = {"add",  "sub",  "mul",  "div",     "sdiv",    "mod",
                                   "smod", "or",   "and",  "lsh",     "rsh",     "arsh",
                                   "neg",  "xor",  "mov",  "movsx8",  "movsx16", "movsx32",
                                   "le16", "le32", "le64", "bswap16", "bswap32", "bswap64"};
  return names[static_cast<int>(op)];
}

inline const char* name(CmpOp op) {
  constexpr const char* names[] = {"eq",  "ne",  "gt",  "ge",  "lt",  "le",
                                   "sgt", "sge", "slt", "sle", "set", "bits_clear"};
  return names[static_cast<int>(op)];
}

// Every ALU operation with the widths it exists in.
struct AluCase {
  AluOp op;
  int bits;
};
inline std::vector<AluCase> all_alu_cases() {
  std::vector<AluCase> cases;
  for (AluOp op : {AluOp::add, AluOp::sub, AluOp::mul, AluOp::div, AluOp::sdiv, AluOp::mod,
                   AluOp::smod, AluOp::bit_or, AluOp::bit_and, AluOp::lsh, AluOp::rsh, AluOp::arsh,
                   AluOp::neg, AluOp::bit_xor, AluOp::mov, AluOp::movsx8, AluOp::movsx16}) {
    cases.push_back({op, 64});
    cases.push_back({op, 32});
  }
  for (AluOp op : {AluOp::movsx32, AluOp::le16, AluOp::le32, AluOp::le64, AluOp::bswap16,
                   AluOp::bswap32, AluOp::bswap64})
    cases.push_back({op, 64});
  return cases;
}

inline constexpr CmpOp all_cmp_ops[] = {CmpOp::eq,  CmpOp::ne,  CmpOp::gt,  CmpOp::ge,
                                        CmpOp::lt,  CmpOp::le,  CmpOp::sgt, CmpOp::sge,
                                        CmpOp::slt, CmpOp::sle, CmpOp::set, CmpOp::bits_clear};

}  // namespace bpfvm::verifier::testing

namespace bpfvm::verifier {
// GoogleTest prints values with this.
inline void PrintTo(const ScalarValue& v, std::ostream* os) { *os << testing::describe(v); }
inline void PrintTo(const Tnum& t, std::ostream* os) { *os << to_string(t); }
}  // namespace bpfvm::verifier
