// The `bpfvm` subcommands. Each adds itself to the app; its callback sets the exit code:
// 0 success, 1 the program ran and failed (a trap), 2 bad input or usage.
#pragma once

#include <CLI/CLI.hpp>

namespace bpfvm::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_run_failed = 1;
inline constexpr int exit_bad_input = 2;

void add_run_command(CLI::App& app, int& exit_code);
void add_asm_command(CLI::App& app, int& exit_code);
void add_disasm_command(CLI::App& app, int& exit_code);
void add_conformance_plugin_command(CLI::App& app, int& exit_code);
void add_jit_command(CLI::App& app, int& exit_code);
void add_filter_command(CLI::App& app, int& exit_code);
void add_object_command(CLI::App& app, int& exit_code);
void add_map_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);

// "bpfvm: error: <message>" on stderr.
void print_error(const std::string& message);

}  // namespace bpfvm::cli
