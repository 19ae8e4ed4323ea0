// The JIT compiler: a loaded program as x86-64 machine code (docs/jit.md).
//
// A JitProgram runs exactly like interpret(): the same r0, the same memory effects, the same
// errors (kind, instruction index and message) in checked and unchecked mode, with or
// without a budget. Machine code is never writable and executable at once.
#pragma once

#include <bpfvm/program.hpp>
#include <bpfvm/result.hpp>
#include <bpfvm/vm.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace bpfvm {

struct JitOptions {
  // The code compiled up front by compile(): checked or unchecked memory accesses, with or
  // without instruction counting. A run that needs another variant (RunOptions asks for
  // another memory mode, or for a budget) compiles it on first use.
  MemoryMode memory_mode = MemoryMode::checked;
  bool count_instructions = false;

  // Hardening for untrusted programs (docs/jit.md, "Threat model").
  //
  // Constant blinding: no immediate the program chose appears in executable memory; each is
  // emitted XORed with a random key and decoded into a scratch register at run time, so a
  // program cannot plant machine code in its constants (JIT spraying).
  bool blind_constants = false;
  // An instruction budget every run obeys, whatever RunOptions says: a run stops with
  // budget_exhausted after this many instructions (or RunOptions::budget, when smaller), so a
  // program that loops forever cannot hold the host's thread.
  std::optional<std::uint64_t> budget_guard;
};

// A program compiled to machine code. Immutable once compiled; copies share the code, and
// one JitProgram may run on many threads at once.
class JitProgram {
 public:
  // Fails (saying why) when the host is not x86-64, when executable memory cannot be had, or
  // when the compiler meets a case it does not support; callers then use interpret().
  static Result<JitProgram> compile(const Program& program, const JitOptions& options = {});

  // Runs like interpret(program, input, options).
  Result<std::uint64_t> run(const RunInput& input, const RunOptions& options = {}) const;

  // The lean entry for per-packet use (classic filters): a direct call into the unchecked
  // machine code with one stack frame on the caller's stack, and nothing else set up: no
  // regions, no budget, no error reporting. Only for a program that calls nothing (no helper,
  // callx or local call; so no run can stop early) and that compile() built unchecked without
  // instruction counting or budget guard; its memory accesses must be safe by construction
  // (the classic translation checks every packet access itself). direct_supported() says
  // whether this program qualifies; run_direct() must not be called when it does not.
  bool direct_supported() const;
  std::uint64_t run_direct(const RunInput& input) const;

  const Program& program() const;
  const JitOptions& options() const;

  // Bytes of machine code of the variant compile() built.
  std::size_t code_size() const;

 private:
  struct Impl;
  explicit JitProgram(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// Whether this build can run JIT code on this host (x86-64 only, for now).
bool jit_supported();

// Each instruction's disassembly followed by the x86-64 code generated for it, then the
// out-of-line paths (checked-mode slow paths, error exits).
Result<std::string> jit_dump(const Program& program, const JitOptions& options = {});

// The engines a caller can pick (bpfvm run --engine).
enum class Engine { interpreter, jit, automatic };

// Runs with the chosen engine. `automatic` uses the JIT when it compiles the program and the
// interpreter otherwise; `note`, when not null, then receives why the JIT was not used.
Result<std::uint64_t> run_program(Engine engine, const Program& program, const RunInput& input,
                                  const RunOptions& options = {}, std::string* note = nullptr);

}  // namespace bpfvm
