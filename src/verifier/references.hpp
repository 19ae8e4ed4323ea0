// References the program must give back (Linux: acquire_reference_state,
// release_reference, check_reference_leak): a ring buffer record from ringbuf_reserve is
// held until ringbuf_submit or ringbuf_discard takes that very pointer, on every path; a
// path that exits with one still held, or tail-calls away, is rejected.
#pragma once

#include "verifier/verifier_state.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace bpfvm::verifier {

// A new reference acquired by the call at `insn` in the current frame: its id.
std::uint32_t acquire_reference(VerifierState& st, std::size_t insn);

// Releases `id`: every register and spilled slot carrying it becomes an unknown scalar (the
// memory is gone; Linux with allow_ptr_leaks marks them unknown too). An error when the
// state does not hold it.
std::optional<std::string> release_reference(VerifierState& st, std::uint32_t id);

// At an exit: from the entry frame every reference must be released; from a callback's
// frame, every reference acquired in it. "Unreleased reference id=2 alloc_insn=5".
std::optional<std::string> check_reference_leak(const VerifierState& st, bool callback_exit);

}  // namespace bpfvm::verifier
