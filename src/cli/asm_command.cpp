// bpfvm asm: assemble text into raw bytecode.
#include "cli/commands.hpp"
#include "cli/program_input.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/program.hpp>

#include "isa/decoder.hpp"

#include <fmt/format.h>

#include <memory>

namespace bpfvm::cli {
namespace {

struct AsmArgs {
  std::string input_path;
  std::string output_path;
  bool no_check = false;
};

std::string default_output(const std::string& input) {
  auto dot = input.find_last_of('.');
  auto slash = input.find_last_of('/');
  bool has_extension = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_extension ? input.substr(0, dot) : input) + ".bin";
}

int assemble_file(const AsmArgs& args) {
  auto text = read_text_file(args.input_path);
  if (!text) {
    print_error(text.error().to_string());
    return exit_bad_input;
  }
  auto insns = assemble(*text);
  if (!insns) {
    print_error(describe_error(args.input_path, insns.error()));
    return exit_bad_input;
  }
  if (!args.no_check) {
    // Catch what the syntax allows but RFC 9669 forbids (a jump out of range, a missing exit).
    auto decoded = decode(*insns);
    if (!decoded) {
      print_error(describe_error(args.input_path, decoded.error()) +
                  " (use --no-check to write it anyway)");
      return exit_bad_input;
    }
  }
  std::string output =
      args.output_path.empty() ? default_output(args.input_path) : args.output_path;
  if (auto written = write_binary_file(output, bytes_from_insns(*insns)); !written) {
    print_error(written.error().to_string());
    return exit_bad_input;
  }
  fmt::print("{}: {} instruction slots written to {}\n", args.input_path, insns->size(), output);
  return exit_ok;
}

}  // namespace

void add_asm_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AsmArgs>();
  CLI::App* command = app.add_subcommand(
      "asm",
      "Assemble a program written in the bpf_conformance syntax (mov32 %r0, 1;\n"
      "ldxh %r0, [%r1+2]; jne %r1, 0, label; lock fetch add [%r10-8], %r1; ...)\n"
      "into raw little-endian bytecode. The result is checked as the loader would check it.");
  command->add_option("IN", args->input_path, "Assembly source")->required();
  command->add_option("-o,--output", args->output_path,
                      "Output file (default: IN with its extension replaced by .bin)");
  command->add_flag("--no-check", args->no_check,
                    "Write the bytecode even if the loader would reject it");
  command->callback([args, &exit_code] { exit_code = assemble_file(*args); });
}

}  // namespace bpfvm::cli
