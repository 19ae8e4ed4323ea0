// bpfvm disasm: print a program's instructions.
#include "cli/commands.hpp"
#include "cli/program_input.hpp"

#include <bpfvm/disassembler.hpp>

#include "isa/opcode_table.hpp"

#include <fmt/format.h>

#include <map>
#include <memory>

namespace bpfvm::cli {
namespace {

struct DisasmArgs {
  std::string path;
  Syntax syntax = Syntax::conformance;
  bool addresses = false;
};

int disassemble_file(const DisasmArgs& args) {
  auto input = read_program(args.path);
  if (!input) {
    print_error(describe_error(args.path, input.error()));
    return exit_bad_input;
  }
  const std::vector<Insn>& insns = input->insns;
  for (std::size_t i = 0; i < insns.size(); ++i) {
    std::string line = disassemble_insn(insns, i, args.syntax);
    if (args.addresses)
      fmt::print("{:>5}: {}\n", i, line);
    else
      fmt::print("{}\n", line);
    // A decodable lddw fills two slots and its line covers both; one the disassembler could
    // not describe prints as raw .8byte words, one slot per line.
    bool raw = line.rfind(".8byte", 0) == 0;
    if (!raw && insns[i].opcode == info(Op::LDDW).opcode && i + 1 < insns.size()) ++i;
  }
  return exit_ok;
}

}  // namespace

void add_disasm_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DisasmArgs>();
  CLI::App* command = app.add_subcommand(
      "disasm",
      "Disassemble a program (.bin, .s, .asm or .data), one instruction per line.\n"
      "The conformance syntax assembles back with 'bpfvm asm' to the same bytes; the llvm\n"
      "syntax is the one llvm-objdump and the kernel's verifier log print.");
  command->add_option("FILE", args->path, "The program file")->required();
  std::map<std::string, Syntax> syntaxes{{"conformance", Syntax::conformance},
                                         {"llvm", Syntax::llvm}};
  command->add_option("--syntax", args->syntax, "conformance (the default) or llvm")
      ->transform(CLI::CheckedTransformer(syntaxes, CLI::ignore_case));
  command->add_flag("-a,--addresses", args->addresses, "Prefix each line with its slot index");
  command->callback([args, &exit_code] { exit_code = disassemble_file(*args); });
}

}  // namespace bpfvm::cli
