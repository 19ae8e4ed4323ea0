// What both engine fuzzers require of a run that failed: a run-time kind of error (a loaded
// program never fails with a load-time one), an instruction index inside the program, and a
// message.
#pragma once

#include <bpfvm/result.hpp>

#include <cstddef>

namespace bpfvm::fuzz {

// The first broken invariant of `error`, or nullptr when it holds them all.
inline const char* broken_run_error(const Error& error, std::size_t program_size) {
  switch (error.kind) {
    case Error::Kind::out_of_bounds:
    case Error::Kind::budget_exhausted:
    case Error::Kind::call_depth:
    case Error::Kind::helper: break;
    default: return "a loaded program failed at run time with a load-time error kind";
  }
  if (!error.insn_index) return "a run-time error has no instruction index";
  if (*error.insn_index >= program_size) return "the instruction index is outside the program";
  if (error.message.empty()) return "a run-time error has an empty message";
  return nullptr;
}

}  // namespace bpfvm::fuzz
