// Map pointers and the memory behind them (Linux: resolve_pseudo_ldimm64 and check_ld_imm,
// check_map_access, check_mem_region_access, adjust_ptr_min_max_vals' type rules,
// mark_ptr_or_null_regs): what `lddw` with a pseudo source loads, which loads and stores
// through a map value, map key or ring buffer record are inside it, which pointers may
// take part in arithmetic, and what a null check teaches.
#pragma once

#include "isa/decoder.hpp"
#include "verifier/verifier_state.hpp"
#include "verifier/verify.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace bpfvm::verifier {

// The register `lddw` with pseudo source d.insn.src (1, 2, 4, 5, 6) loads, or why it cannot.
std::variant<RegValue, std::string> lddw_pointer(const VerifyOptions& options, const DecodedInsn& d,
                                                 std::size_t pc);

// An access of `size` bytes at `base` + `off` through register `reg`, for the map kinds
// (map_value, map_key, ringbuf_mem; the others are refused by name). `read` and `write`
// both for atomics. The whole range the offset may take must be inside the object.
std::optional<std::string> check_object_access(const RegValue& base, int reg, std::int64_t off,
                                               std::int64_t size, bool read, bool write);

// Whether a stored register may go into that object: never a pointer (Linux's rule for
// programs without allow_ptr_leaks).
std::optional<std::string> check_object_store(const RegValue& base, const RegValue& value,
                                              int value_reg);

// Pointer arithmetic on `p` (register `reg`): refused on map pointers, functions and
// pointers that may still be null.
std::optional<std::string> check_pointer_arithmetic(const RegValue& p, int reg);

// Whether the comparison `dst op src` (JmpImm: src is the immediate) is a null check of a
// pointer that may be null: a 64-bit jeq/jne of such a pointer with the constant 0.
// Returns the id and whether the taken edge is the null one.
struct NullCheck {
  std::uint32_t id = 0;
  bool taken_is_null = false;
};
std::optional<NullCheck> null_check(const DecodedInsn& d, const RegValue& dst, const RegValue& src);

// Every register and spilled slot with `id` (in every frame) becomes the scalar 0 (`is_null`)
// or the pointer it is when not null; on the null edge the reference it carried is gone.
void mark_ptr_or_null(VerifierState& st, std::uint32_t id, bool is_null);

// PTR_MAYBE_NULL kinds: no access or arithmetic before a null check.
bool may_be_null(RegKind k);

// Linux's reg_type_str names: "map_value", "map_value_or_null", "fp", "scalar", ...
std::string_view kind_name(RegKind k);

}  // namespace bpfvm::verifier
