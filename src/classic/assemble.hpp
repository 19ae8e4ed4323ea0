// Assembling generated classic-filter code into executable memory (the branch-free and the
// vector compilers share it).
#pragma once

#include <bpfvm/result.hpp>

#include "jit/exec_memory.hpp"

#include <asmjit/x86.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm::classic::detail {

// Assembles what `emit` writes into executable memory; `offsets` receives the final offsets
// of `labels` (filled by emit) and `log`, when not null, the code as text. `who` names the
// compiler in errors.
Result<jit::ExecMemory> assemble(
    std::string_view who,
    const std::function<void(asmjit::x86::Assembler&, std::vector<asmjit::Label>&)>& emit,
    std::vector<std::size_t>& offsets, std::string* log);

}  // namespace bpfvm::classic::detail
