// How many captured bytes the program has already proven to exist when each instruction runs:
// a packet load that returned, rather than rejecting, proves caplen >= its end. Loads the
// translation can show in bounds on every path need no check of their own.
#pragma once

#include <bpfvm/classic.hpp>

#include "classic/code.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace bpfvm::classic::detail {

// For each instruction, the captured length every path reaching it has proven (0 at entry, at
// targets of backward jumps, and in unreachable code).
std::vector<std::uint64_t> proven_lengths(std::span<const Insn> insns, std::span<const Step> steps);

// What a load at instruction i proves once it succeeded, given what was proven before: the end
// of an absolute load (or of the ldxb 4*([k]&0xf) byte), else nothing new.
std::uint64_t proven_after(const Insn& insn, std::uint64_t before);

}  // namespace bpfvm::classic::detail
