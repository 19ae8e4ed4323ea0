// The runtime errors both engines report, built in one place so that the interpreter and the
// JIT give the same kind, instruction index and message for the same failure.
#pragma once

#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bpfvm::detail {

struct RunState;

// Checked mode: a load, store or atomic (`what`) of `size` bytes at `address`, computed as
// r<base_register> + offset, lies outside every admitted region (or, for a store, in a
// read-only one).
Error access_error(const RunState& state, std::size_t index, const char* what,
                   std::uint64_t address, int size, bool write, std::uint8_t base_register,
                   std::int16_t offset);

// Checked mode: an atomic operation whose address is not a multiple of its size.
Error misaligned_atomic_error(std::size_t index, std::uint64_t address, int size);

// The instruction budget ran out before instruction `index`.
Error budget_error(std::size_t index, std::uint64_t budget);

// A local call at `index` would nest deeper than max_call_frames.
Error call_depth_error(std::size_t index);

// callx r<dst> with a value that names no registered helper.
Error callx_unknown_error(std::size_t index, std::uint8_t dst, std::uint64_t id);

// A helper called HelperCall::fail(message).
Error helper_failed_error(std::size_t index, std::string_view message);

}  // namespace bpfvm::detail
