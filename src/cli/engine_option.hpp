// The --engine option shared by the commands that run programs.
#pragma once

#include <bpfvm/jit.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/result.hpp>
#include <bpfvm/vm.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

namespace bpfvm::cli {

// "auto" (the default) runs the JIT where it compiles the program and the interpreter
// otherwise, saying why on stderr; "jit" fails when the JIT cannot compile the program.
inline void add_engine_option(CLI::App& command, std::string& engine) {
  command
      .add_option("--engine", engine,
                  "Execution engine: interp, jit, or auto (the default: the JIT where it "
                  "compiles the program, else the interpreter)")
      ->check(CLI::IsMember({"interp", "jit", "auto"}))
      ->default_val("auto");
}

inline Engine engine_from_name(const std::string& engine) {
  return engine == "interp" ? Engine::interpreter
         : engine == "jit"  ? Engine::jit
                            : Engine::automatic;
}

inline Result<std::uint64_t> run_with_engine(const std::string& engine, const Program& program,
                                             const RunInput& input, const RunOptions& options) {
  Engine chosen = engine_from_name(engine);
  std::string note;
  auto result = run_program(chosen, program, input, options, &note);
  if (!note.empty()) fmt::print(stderr, "bpfvm: note: {}\n", note);
  return result;
}

}  // namespace bpfvm::cli
