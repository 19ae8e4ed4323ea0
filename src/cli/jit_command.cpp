// bpfvm jit --dump: show the machine code the JIT generates for a program.
#include "cli/commands.hpp"
#include "cli/file_helpers.hpp"
#include "cli/program_input.hpp"

#include <bpfvm/jit.hpp>

#include <fmt/format.h>

#include <memory>

namespace bpfvm::cli {
namespace {

struct JitArgs {
  std::string path;
  bool dump = false;
  bool unchecked = false;
  bool count = false;
  bool blind = false;
};

int jit_program(const JitArgs& args) {
  auto input = read_program(args.path);
  if (!input) {
    print_error(describe_error(args.path, input.error()));
    return exit_bad_input;
  }
  auto helpers = program_file_run_helpers();
  if (!helpers) {
    print_error(helpers.error().to_string());
    return exit_bad_input;
  }
  auto program = Program::load(input->insns, LoadOptions{.helpers = &*helpers});
  if (!program) {
    print_error(describe_error(args.path, program.error()));
    return exit_bad_input;
  }
  JitOptions options;
  options.memory_mode = args.unchecked ? MemoryMode::unchecked : MemoryMode::checked;
  options.count_instructions = args.count;
  options.blind_constants = args.blind;
  if (!args.dump) {
    auto compiled = JitProgram::compile(*program, options);
    if (!compiled) {
      print_error(describe_error(args.path, compiled.error()));
      return exit_run_failed;
    }
    fmt::print("{} instructions, {} bytes of machine code\n", program->size(),
               compiled->code_size());
    return exit_ok;
  }
  auto dump = jit_dump(*program, options);
  if (!dump) {
    print_error(describe_error(args.path, dump.error()));
    return exit_run_failed;
  }
  fmt::print("{}", *dump);
  return exit_ok;
}

}  // namespace

void add_jit_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<JitArgs>();
  CLI::App* command = app.add_subcommand(
      "jit",
      "Compile a program to x86-64 machine code (.bin, .s, .asm or .data).\n"
      "With --dump, print each instruction followed by the code generated for it, then the\n"
      "out-of-line paths; without, print the code size. Helper 5 ('unwind') is available.");
  command->add_option("PROGRAM", args->path, "The program file")->required();
  command->add_flag("--dump", args->dump, "Print the generated code, instruction by instruction");
  command->add_flag("--unchecked", args->unchecked,
                    "Generate code without memory checks (for verified programs)");
  command->add_flag("--count", args->count,
                    "Generate the instruction-counting code runs with --budget use");
  command->add_flag("--blind", args->blind, "Blind constants (hardening; see docs/jit.md)");
  command->callback([args, &exit_code] { exit_code = jit_program(*args); });
}

}  // namespace bpfvm::cli
