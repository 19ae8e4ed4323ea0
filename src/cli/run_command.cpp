// bpfvm run: load a program and run it once, printing r0.
#include "cli/commands.hpp"
#include "cli/engine_option.hpp"
#include "cli/file_helpers.hpp"
#include "cli/object_runner.hpp"
#include "cli/program_input.hpp"
#include "cli/run_object.hpp"

#include <bpfvm/data_file.hpp>
#include <bpfvm/jit.hpp>
#include <bpfvm/verifier.hpp>

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>

namespace bpfvm::cli {
namespace {

struct RunArgs {
  std::string program_path;
  std::string memory_file;
  std::string memory_hex;
  std::string engine;
  bool unchecked = false;
  bool check = false;
  std::uint64_t budget = 0;
  std::uint64_t repeat = 1;
  // Objects only (ELF, `bpfvm run OBJ`).
  std::string program_name;
  std::string packet_file;
  std::string packet_hex;
  bool json = false;
  bool show_maps = false;
  bool no_verify = false;
  std::string network_file;
};

// ELF objects go to run_object; the options that only make sense for one kind are refused for
// the other, so a typo does not silently do something else.
std::optional<int> run_if_object(const RunArgs& args) {
  auto bytes = read_binary_file(args.program_path);
  if (!bytes || !is_elf(*bytes)) {
    if (!args.program_name.empty() || !args.packet_file.empty() || !args.packet_hex.empty() ||
        args.json || args.show_maps || !args.network_file.empty()) {
      print_error(args.program_path +
                  ": --program, --packet, --packet-hex, --json, --show-maps and --network are "
                  "for ELF objects; this is not one");
      return exit_bad_input;
    }
    return std::nullopt;
  }
  if (!args.memory_file.empty() || !args.memory_hex.empty() || args.unchecked || args.check ||
      args.budget != 0) {
    print_error(args.program_path +
                ": --mem, --mem-hex, --unchecked, --check and --budget are for raw programs; "
                "an object's programs run on --packet or --packet-hex");
    return exit_bad_input;
  }
  return run_object(RunObjectArgs{.object_path = args.program_path,
                                  .program = args.program_name,
                                  .packet_file = args.packet_file,
                                  .packet_hex = args.packet_hex,
                                  .engine = args.engine,
                                  .repeat = args.repeat,
                                  .json = args.json,
                                  .show_maps = args.show_maps,
                                  .verify = !args.no_verify,
                                  .network_file = args.network_file});
}

// --repeat N: runs the program N more times on the engine chosen once (the JIT compiled once,
// outside the timing) and reports the mean time per run on stderr.
Status time_repeated_runs(const RunArgs& args, const Program& program, const RunInput& input,
                          const RunOptions& options) {
  bool use_jit = args.engine != "interp" && jit_supported();
  std::optional<JitProgram> jit;
  if (use_jit) {
    JitOptions jit_options;
    jit_options.memory_mode = options.memory_mode;
    auto compiled = JitProgram::compile(program, jit_options);
    if (compiled) jit = std::move(*compiled);
  }
  auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < args.repeat; ++i) {
    auto result = jit ? jit->run(input, options) : interpret(program, input, options);
    if (!result) return result.error();
  }
  std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
  double per_run = elapsed.count() / static_cast<double>(args.repeat);
  fmt::print(stderr, "{} runs on the {} ({} mode): {:.3f} us per run\n", args.repeat,
             jit ? "JIT" : "interpreter",
             options.memory_mode == MemoryMode::checked ? "checked" : "unchecked", per_run / 1000);
  return Ok{};
}

Result<std::vector<std::uint8_t>> memory_for(const RunArgs& args, const ProgramInput& input) {
  if (!args.memory_file.empty()) return read_binary_file(args.memory_file);
  if (!args.memory_hex.empty()) return parse_hex_bytes(args.memory_hex);
  return input.memory.value_or(std::vector<std::uint8_t>{});
}

// --unchecked: unchecked, on the user's word. Otherwise the verifier decides (unless
// --no-verify): a program it proves safe on a context of exactly this memory's size runs
// unchecked; one it rejects runs checked, and a note says why.
MemoryMode memory_mode_for(const RunArgs& args, const ProgramInput& input,
                           const std::vector<std::uint8_t>& memory, const HelperRegistry& helpers) {
  if (args.unchecked) return MemoryMode::unchecked;
  if (args.no_verify) return MemoryMode::checked;
  verifier::VerifyOptions verify_options;
  verify_options.context_size = memory.size();
  verify_options.helpers = &helpers;
  verifier::VerifyResult verified = verifier::verify(input.insns, verify_options);
  if (verified.ok()) return MemoryMode::unchecked;
  fmt::print(stderr,
             "bpfvm: note: the verifier rejected the program, so it runs with memory "
             "checks: {}\n",
             verified.error->to_string());
  return MemoryMode::checked;
}

int run(const RunArgs& args) {
  if (std::optional<int> status = run_if_object(args)) return *status;
  auto input = read_program(args.program_path);
  if (!input) {
    print_error(describe_error(args.program_path, input.error()));
    return exit_bad_input;
  }
  auto memory = memory_for(args, *input);
  if (!memory) {
    print_error(describe_error(args.memory_file, memory.error()));
    return exit_bad_input;
  }
  auto helpers = program_file_run_helpers();
  if (!helpers) {
    print_error(helpers.error().to_string());
    return exit_bad_input;
  }
  auto program = Program::load(input->insns, LoadOptions{.helpers = &*helpers});
  if (!program) {
    print_error(describe_error(args.program_path, program.error()));
    return exit_bad_input;
  }
  RunOptions options;
  options.memory_mode = memory_mode_for(args, *input, *memory, *helpers);
  if (args.budget != 0) options.budget = args.budget;
  auto result = run_with_engine(args.engine, *program, RunInput::raw(*memory), options);
  if (!result) {
    print_error(describe_error(args.program_path, result.error()));
    return exit_run_failed;
  }
  fmt::print("0x{:x}\n", *result);
  if (args.repeat > 1) {
    if (auto timed = time_repeated_runs(args, *program, RunInput::raw(*memory), options); !timed) {
      print_error(describe_error(args.program_path, timed.error()));
      return exit_run_failed;
    }
  }
  if (args.check) {
    if (!input->expected_result) {
      print_error(args.program_path + ": --check needs a .data file with a -- result section");
      return exit_bad_input;
    }
    if (*input->expected_result != *result) {
      print_error(fmt::format("{}: r0 is 0x{:x}, but -- result says 0x{:x}", args.program_path,
                              *result, *input->expected_result));
      return exit_run_failed;
    }
  }
  return exit_ok;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* command = app.add_subcommand(
      "run",
      "Run a program once and print r0 in hex.\n"
      "PROGRAM is raw bytecode (.bin), assembly (.s, .asm) or a bpf_conformance test (.data,\n"
      "whose -- mem section is used unless --mem or --mem-hex is given). r1 points at the\n"
      "memory and r2 holds its length. Helper 5 (the conformance suite's 'unwind') and\n"
      "bpfvm's built-ins memset, memcpy, memmove, memcmp (0x7f000001-4) are available.\n"
      "The verifier ('bpfvm verify') runs first: a program it proves safe runs without memory\n"
      "checks; one it rejects runs with every load, store and atomic checked against the\n"
      "memory, the stack (and for objects the packet, the context and map values), and a\n"
      "note on stderr says why. --no-verify skips the verifier and checks every access;\n"
      "--unchecked (raw programs) skips both.\n"
      "PROGRAM may also be an ELF object built by clang -target bpf: --program picks one of\n"
      "its programs (default: the first), which runs on --packet/--packet-hex (default: 64\n"
      "zero bytes) as BPF_PROG_TEST_RUN would run it, with Linux's helpers and the object's\n"
      "maps. It prints r0 and its action name (XDP_PASS, TC_ACT_OK, ...), the packet when\n"
      "the program changed it, and with --show-maps every map afterwards.\n"
      "Exit status: 0 ran, 1 the run failed (out-of-bounds access, budget, ...), 2 bad input.");
  command->add_option("PROGRAM", args->program_path, "The program file")->required();
  auto* mem = command->add_option("--mem", args->memory_file, "File whose bytes are the memory");
  command->add_option("--mem-hex", args->memory_hex, "The memory as hex bytes, e.g. \"aa bb 0c\"")
      ->excludes(mem);
  add_engine_option(*command, args->engine);
  auto* unchecked = command->add_flag(
      "--unchecked", args->unchecked,
      "Do not check memory accesses, without verifying (only for programs known to be safe)");
  command
      ->add_flag("--no-verify", args->no_verify,
                 "Do not verify first: run with memory checks even if the verifier would prove "
                 "the program safe")
      ->excludes(unchecked);
  command->add_flag("--check", args->check,
                    "For a .data file: fail (exit 1) unless r0 equals its -- result");
  command
      ->add_option("--repeat", args->repeat,
                   "Run N times more and print the mean time per run on stderr (the JIT is "
                   "compiled once, outside the timing)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000}));
  command->add_option("--program", args->program_name,
                      "Object: the program to run (function or section name)");
  auto* packet = command->add_option("--packet", args->packet_file,
                                     "Object: a file whose bytes are the packet");
  command->add_option("--packet-hex", args->packet_hex, "Object: the packet as hex bytes")
      ->excludes(packet);
  command->add_flag("--json", args->json, "Object: print the result (and maps) as JSON");
  command->add_option("--network", args->network_file,
                      "Object: a file describing the host network fib_lookup and "
                      "clone_redirect see (docs/network.md; default: loopback only)");
  command->add_flag("--show-maps", args->show_maps, "Object: print every map after the run");
  command->add_option("--budget", args->budget,
                      "Stop with an error after this many instructions (0: no limit)");
  command->callback([args, &exit_code] { exit_code = run(*args); });
}

}  // namespace bpfvm::cli
