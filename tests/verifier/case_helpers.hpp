// The helpers the verifier cases call (`call N`), with prototypes for the verifier and real
// functions for the checked-mode runs: each function checks, through
// HelperCall::accessible, that the memory its prototype promises is really there, and fails
// the run otherwise, so an unsound helper verdict shows as a fault.
//
//   1 sum(mem, const_size) -> integer          adds the bytes
//   2 fill(uninit_mem, const_size_or_zero)     writes 0xab to each byte
//   3 identity(anything) -> integer
//   4 ctx_first_byte(ctx) -> integer
//   5 store_long(long_ptr) -> integer          writes 8 bytes
//   6 sum_or_null(mem_or_null, const_size_or_zero) -> integer
//   7 stack_or_null(stack_or_null) -> void
//   8 no prototype
//   9 lookup(const_map_ptr, map_key) -> map_value_or_null  (no map: rejected)
#pragma once

#include <bpfvm/helper.hpp>

namespace bpfvm::verifier::testing {

HelperRegistry case_helpers();

}  // namespace bpfvm::verifier::testing
