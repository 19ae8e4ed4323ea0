// What the bpf_conformance suite expects of a runtime beyond the instruction set.
#pragma once

#include <bpfvm/helper.hpp>

namespace bpfvm {

// Helper 5, "unwind": returns its first argument and ends the program when that is 0
// (the suite's call_unwind tests). Only for running the suite; not a Linux helper.
inline constexpr std::uint32_t conformance_unwind_helper_id = 5;

HelperRegistry conformance_helpers();

}  // namespace bpfvm
