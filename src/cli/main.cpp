// bpfvm: run, assemble and disassemble eBPF programs in userspace.
#include "cli/commands.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace bpfvm::cli {

void print_error(const std::string& message) { fmt::print(stderr, "bpfvm: error: {}\n", message); }

}  // namespace bpfvm::cli

int main(int argc, char** argv) {
  CLI::App app{
      "bpfvm: the BPF virtual machine in userspace.\n"
      "Runs, assembles and disassembles eBPF programs (RFC 9669).\n"
      "Run 'bpfvm COMMAND --help' for each command's options.",
      "bpfvm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "bpfvm 0.1.0");

  int exit_code = bpfvm::cli::exit_ok;
  bpfvm::cli::add_run_command(app, exit_code);
  bpfvm::cli::add_asm_command(app, exit_code);
  bpfvm::cli::add_disasm_command(app, exit_code);
  bpfvm::cli::add_conformance_plugin_command(app, exit_code);
  bpfvm::cli::add_jit_command(app, exit_code);
  bpfvm::cli::add_filter_command(app, exit_code);
  bpfvm::cli::add_object_command(app, exit_code);
  bpfvm::cli::add_map_command(app, exit_code);
  bpfvm::cli::add_verify_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : bpfvm::cli::exit_bad_input;
  }
  return exit_code;
}
