// Accesses through the context pointer of a typed program (Linux: check_ctx_access with the
// type's is_valid_access, check_ptr_off_reg), and the program's return value
// (check_return_code). The rules themselves are data about the program type
// (progtypes/context_rules.hpp).
#pragma once

#include "verifier/verifier_state.hpp"
#include "verifier/verify.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace bpfvm::verifier {

// The verifier can describe `options.type`'s context: an error naming the type otherwise.
std::optional<std::string> check_program_type(const VerifyOptions& options);

// A load (write = false: the value it gives) or store of `size` bytes at `insn_off` from the
// context pointer `base` held in register `reg`, for a typed program.
std::variant<RegValue, std::string> typed_context_access(const VerifyOptions& options,
                                                         const RegValue& base, int reg,
                                                         std::int16_t insn_off, int size,
                                                         bool write);

// r0 at the exit of the entry frame is in the type's range of return values.
std::optional<std::string> check_return_code(const VerifyOptions& options, const RegValue& r0);

}  // namespace bpfvm::verifier
