// The helpers `bpfvm run` and `bpfvm jit` give a program file (raw bytecode, assembly, a
// conformance .data file) run on raw memory: the conformance suite's "unwind" (id 5) and
// bpfvm's built-ins (memset, memcpy, memmove, memcmp at 0x7f000001-4), which need no context.
// `bpfvm verify` of a program file and every object program take program_helpers(type)
// (progtypes.hpp), which holds the same built-ins.
#pragma once

#include <bpfvm/helper.hpp>
#include <bpfvm/result.hpp>

namespace bpfvm::cli {

Result<HelperRegistry> program_file_run_helpers();

}  // namespace bpfvm::cli
