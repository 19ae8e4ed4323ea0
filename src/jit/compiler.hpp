// From pre-decoded code to executable machine code: runs the emitter into an asmjit
// CodeHolder, then copies the result into W^X memory.
#pragma once

#include "jit/emitter.hpp"
#include "jit/exec_memory.hpp"

#include <bpfvm/vm.hpp>

#include <optional>
#include <string>

namespace bpfvm::jit {

struct CompiledCode {
  ExecMemory memory;
  EmitLayout layout;

  // The entry point: u64 entry(JitRunState*, u64 r1, u64 r2, u64 r10).
  using Entry = std::uint64_t (*)(JitRunState*, std::uint64_t, std::uint64_t, std::uint64_t);
  Entry entry() const { return reinterpret_cast<Entry>(const_cast<std::uint8_t*>(memory.data())); }
};

// `log`, when not null, receives asmjit's listing (instructions with their bytes); the
// layout then holds offsets into it.
Result<CompiledCode> compile_code(const detail::Code& code, const EmitOptions& options,
                                  std::string* log = nullptr);

// Runs compiled code like the interpreter runs `code` (trampoline.cpp). `budget` is the
// effective budget; the code must count instructions when it is set.
Result<std::uint64_t> run_compiled(const CompiledCode& compiled, const detail::Code& code,
                                   const RunInput& input, const RunOptions& options,
                                   const std::optional<std::uint64_t>& budget);

// JitProgram::run_direct: enters unchecked, uncounted code of a program that calls nothing,
// with one stack frame and the packet bounds as its only per-run state (trampoline.cpp).
std::uint64_t run_direct(CompiledCode::Entry entry, const RunInput& input);

}  // namespace bpfvm::jit
