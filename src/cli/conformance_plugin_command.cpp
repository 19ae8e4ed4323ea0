// bpfvm conformance-plugin: the bpf_conformance suite's plugin protocol.
//
// The suite's runner starts the plugin once per test, writes the program to its stdin as
// space-separated hex bytes, passes the memory as one argument of space-separated hex bytes,
// and reads r0 in hex (without 0x) from stdout. Any failure exits non-zero with a message.
#include "cli/commands.hpp"
#include "cli/engine_option.hpp"

#include <bpfvm/conformance.hpp>
#include <bpfvm/data_file.hpp>

#include <fmt/format.h>

#include <iostream>
#include <iterator>
#include <memory>

namespace bpfvm::cli {
namespace {

struct PluginArgs {
  std::string memory_hex;
  std::string engine;
};

int run_plugin(const PluginArgs& args) {
  std::string program_hex((std::istreambuf_iterator<char>(std::cin)),
                          std::istreambuf_iterator<char>());
  auto program_bytes = parse_hex_bytes(program_hex);
  if (!program_bytes) {
    print_error("program on stdin: " + program_bytes.error().to_string());
    return exit_bad_input;
  }
  auto memory = parse_hex_bytes(args.memory_hex);
  if (!memory) {
    print_error("memory argument: " + memory.error().to_string());
    return exit_bad_input;
  }
  HelperRegistry helpers = conformance_helpers();
  auto program = Program::load_bytes(*program_bytes, LoadOptions{.helpers = &helpers});
  if (!program) {
    print_error(program.error().to_string());
    return exit_bad_input;
  }
  auto result = run_with_engine(args.engine, *program, RunInput::raw(*memory), RunOptions{});
  if (!result) {
    print_error(result.error().to_string());
    return exit_run_failed;
  }
  fmt::print("{:x}\n", *result);
  return exit_ok;
}

}  // namespace

void add_conformance_plugin_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PluginArgs>();
  CLI::App* command = app.add_subcommand(
      "conformance-plugin",
      "Act as a bpf_conformance plugin: read the program from stdin as hex bytes\n"
      "(\"b7 00 00 00 2a 00 00 00 95 00 ...\"), take the memory as one argument of hex\n"
      "bytes, run in checked mode and print r0 in hex without 0x. Helper 5 ('unwind')\n"
      "ends the program when it returns 0.");
  command->add_option("MEMORY", args->memory_hex, "The memory as hex bytes (may be empty)");
  add_engine_option(*command, args->engine);
  command->callback([args, &exit_code] { exit_code = run_plugin(*args); });
}

}  // namespace bpfvm::cli
