// A helper call checked against its prototype (Linux: check_helper_call, check_func_arg,
// check_helper_mem_access): each argument register's kind, memory arguments readable (mem),
// writable (uninit_mem, long_ptr, int_ptr) or both (writable_mem: initialised, then written
// by the helper) over the size the next argument gives, then r1-r5 unset and r0 set from the
// return kind.
//
// Supported argument kinds: none, anything, mem, mem_or_null, uninit_mem, writable_mem,
// writable_mem_or_null, fixed_size_mem, const_size, const_size_or_zero, ctx, ctx_or_null,
// stack_or_null, long_ptr, int_ptr; return kinds integer and void_. The map, callback,
// string and ring buffer kinds, and their return kinds, are helper_args.hpp's.
#pragma once

#include "verifier/verifier_state.hpp"
#include "verifier/verify.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace bpfvm::verifier {

// Applies `call id` (at instruction `pc`, which references it acquires name) to `state`; an
// error message when the call breaks its prototype.
std::optional<std::string> check_helper_call(const VerifyOptions& options, std::int32_t id,
                                             VerifierState& state, std::size_t pc = 0);

}  // namespace bpfvm::verifier
