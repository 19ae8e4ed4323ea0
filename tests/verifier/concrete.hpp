// The concrete semantics the abstract domain must cover, written from RFC 9669 section 4
// independently of the domain (and checked against the interpreter in concrete_test.cpp).
#pragma once

#include "verifier/scalar_alu.hpp"
#include "verifier/scalar_branch.hpp"

#include <cstdint>

namespace bpfvm::verifier::testing {

std::uint64_t concrete_alu(AluOp op, int bits, std::uint64_t dst, std::uint64_t src);
bool concrete_cmp(CmpOp op, int bits, std::uint64_t a, std::uint64_t b);

}  // namespace bpfvm::verifier::testing
