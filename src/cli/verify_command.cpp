// bpfvm verify: run the verifier on the programs of an object or on one program file, print
// each verdict with its error and statistics, and exit 0 when every program is safe.
#include "cli/commands.hpp"
#include "cli/object_runner.hpp"
#include "cli/program_input.hpp"
#include "cli/verify_report.hpp"

#include <bpfvm/object_verify.hpp>
#include <bpfvm/program_type.hpp>
#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <vector>

namespace bpfvm::cli {
namespace {

inline constexpr int exit_unsafe = 1;

struct VerifyArgs {
  std::string path;
  std::string program;  // objects: function or section name; empty: every program
  std::string type;     // program files: the program type; empty: raw
  std::optional<std::size_t> context_size;
  std::uint64_t budget = 0;
  bool log = false;
  bool json = false;
};

// One verified program, for printing.
struct Verdict {
  std::string name;
  std::string section;  // objects only
  ProgramType type = ProgramType::raw;
  TimedVerification verification;
};

void print_text(const std::string& path, const Verdict& verdict, bool log) {
  std::string where = verdict.section.empty()
                          ? fmt::format("{} (type {})", path, program_type_name(verdict.type))
                          : fmt::format("{}: {} (section {}, type {})", path, verdict.name,
                                        verdict.section, program_type_name(verdict.type));
  const verifier::VerifyResult& result = verdict.verification.result;
  fmt::print("{}: {}\n", where, result.ok() ? "OK" : "REJECTED");
  if (log && !result.log.empty()) fmt::print("{}", result.log);
  if (result.error) fmt::print("  {}\n", result.error->to_string());
  fmt::print("  {}\n", stats_line(verdict.verification));
}

int report(const std::string& path, const std::vector<Verdict>& verdicts, const VerifyArgs& args) {
  std::size_t rejected = 0;
  for (const Verdict& verdict : verdicts) rejected += verdict.verification.result.ok() ? 0 : 1;
  if (args.json) {
    nlohmann::json programs = nlohmann::json::array();
    for (const Verdict& verdict : verdicts) {
      nlohmann::json one = verification_json(verdict.verification);
      one["name"] = verdict.name;
      if (!verdict.section.empty()) one["section"] = verdict.section;
      one["type"] = program_type_name(verdict.type);
      programs.push_back(std::move(one));
    }
    nlohmann::json out{{"file", path},
                       {"programs", std::move(programs)},
                       {"verified", verdicts.size() - rejected},
                       {"rejected", rejected}};
    fmt::print("{}\n", out.dump(2));
  } else {
    for (const Verdict& verdict : verdicts) print_text(path, verdict, args.log);
    if (verdicts.size() > 1)
      fmt::print("{} programs: {} OK, {} rejected\n", verdicts.size(), verdicts.size() - rejected,
                 rejected);
  }
  return rejected == 0 ? exit_ok : exit_unsafe;
}

void apply_common(const VerifyArgs& args, verifier::VerifyOptions& options) {
  options.log = args.log;
  if (args.budget != 0) options.budget = args.budget;
}

int verify_object(const VerifyArgs& args, const std::vector<std::uint8_t>& bytes) {
  if (args.context_size) {
    print_error(args.path +
                ": --context-size is for program files; an object's programs take their context "
                "from their type");
    return exit_bad_input;
  }
  // --type gives the programs of sections that name no type (tc's "from-netdev", "2/7": tc
  // loads every section of an object as the type its command line says); a section that
  // names its type keeps it.
  std::optional<ProgramType> untyped;
  if (!args.type.empty()) {
    untyped = program_type_from_name(args.type);
    if (!untyped) {
      print_error(fmt::format("unknown program type '{}'", args.type));
      return exit_bad_input;
    }
  }
  auto spec = ObjectSpec::parse(bytes);
  if (!spec) {
    print_error(describe_error(args.path, spec.error()));
    return exit_bad_input;
  }
  std::vector<std::size_t> chosen;
  if (args.program.empty()) {
    for (std::size_t i = 0; i < spec->programs.size(); ++i) chosen.push_back(i);
    if (chosen.empty()) {
      print_error(args.path + ": the object has no programs");
      return exit_bad_input;
    }
  } else {
    auto program = find_object_program(*spec, args.program);
    if (!program) {
      print_error(describe_error(args.path, program.error()));
      return exit_bad_input;
    }
    chosen.push_back(static_cast<std::size_t>(*program - spec->programs.data()));
  }
  std::vector<Verdict> verdicts;
  for (std::size_t index : chosen) {
    const ObjectProgram& program = spec->programs[index];
    auto helpers = object_program_helpers(*spec, index);
    if (!helpers) {
      print_error(describe_error(args.path, helpers.error()));
      return exit_bad_input;
    }
    verifier::VerifyOptions options = verify_options_for(*spec, index, &*helpers);
    if (untyped && program.type == ProgramType::raw) options.type = *untyped;
    apply_common(args, options);
    verdicts.push_back(
        {program.name, program.section, options.type, verify_timed(program.insns, options)});
  }
  return report(args.path, verdicts, args);
}

int verify_program_file(const VerifyArgs& args) {
  if (!args.program.empty()) {
    print_error(args.path + ": --program is for ELF objects; this is not one");
    return exit_bad_input;
  }
  ProgramType type = ProgramType::raw;
  if (!args.type.empty()) {
    auto named = program_type_from_name(args.type);
    if (!named) {
      print_error(fmt::format(
          "unknown program type '{}' (xdp, socket_filter, sched_cls, raw, or another of "
          "Linux's enum bpf_prog_type names without BPF_PROG_TYPE_, in lower case)",
          args.type));
      return exit_bad_input;
    }
    type = *named;
  }
  if (args.context_size && type != ProgramType::raw) {
    print_error("--context-size is for raw programs; the other types have their own context");
    return exit_bad_input;
  }
  auto input = read_program(args.path);
  if (!input) {
    print_error(describe_error(args.path, input.error()));
    return exit_bad_input;
  }
  // The helpers an object's program of this type gets, built-ins included.
  auto helpers = program_helpers(type);
  if (!helpers) {
    print_error(helpers.error().to_string());
    return exit_bad_input;
  }
  verifier::VerifyOptions options;
  options.type = type;
  options.context_size = args.context_size;
  options.helpers = &*helpers;
  options.linux_prototypes = true;
  apply_common(args, options);
  return report(args.path, {{args.path, "", type, verify_timed(input->insns, options)}}, args);
}

int verify(const VerifyArgs& args) {
  auto bytes = read_binary_file(args.path);
  if (!bytes) {
    print_error(describe_error(args.path, bytes.error()));
    return exit_bad_input;
  }
  return is_elf(*bytes) ? verify_object(args, *bytes) : verify_program_file(args);
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* command = app.add_subcommand(
      "verify",
      "Prove programs safe with bpfvm's verifier (docs/verifier.md), as Linux's verifier does\n"
      "at BPF_PROG_LOAD. A program it accepts runs without memory checks ('bpfvm run' does\n"
      "that by itself).\n"
      "PROGRAM is an ELF object built by clang -target bpf: every program in it (or the one\n"
      "--program names) is verified with the type its section names, the shapes of the\n"
      "object's maps, the helpers bpfvm implements and Linux's prototypes for the others.\n"
      "Or PROGRAM is a program file (.bin, .s, .asm, .data) verified as --type (raw by\n"
      "default: r1 points at memory whose length r2 holds, or at --context-size bytes).\n"
      "Each program gets OK or REJECTED with the error (instruction, its disassembly, the\n"
      "reason, the registers involved), then a line of statistics.\n"
      "Examples:\n"
      "  bpfvm verify xdp_counter.o\n"
      "  bpfvm verify xdp_counter.o --program count_packets --log\n"
      "  bpfvm verify filter.s --type socket_filter --json\n"
      "  bpfvm verify sum.s --context-size 64\n"
      "Exit status: 0 every program is safe, 1 some program was rejected, 2 bad input\n"
      "(unreadable file, malformed ELF or program, unknown program or type).");
  command->add_option("PROGRAM", args->path, "The object or program file")->required();
  command->add_option("--program", args->program,
                      "Object: verify only this program (function or section name)");
  command->add_option("--type", args->type,
                      "Program file: its type (xdp, socket_filter, sched_cls, raw, ...; default "
                      "raw). Object: the type of programs whose section names none (as tc "
                      "loads every section as sched_cls)");
  command
      ->add_option("--context-size", args->context_size,
                   "Raw program file: r1 points at a context of exactly this many bytes")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30));
  command->add_option("--budget", args->budget,
                      "Give up after this many processed instructions (default 1000000, "
                      "Linux's BPF_COMPLEXITY_LIMIT_INSNS)");
  command->add_flag("--log", args->log,
                    "Print the kernel-style trace: each processed instruction with the "
                    "registers and stack after it");
  command->add_flag("--json", args->json, "Print the verdicts as JSON");
  command->callback([args, &exit_code] { exit_code = verify(*args); });
}

}  // namespace bpfvm::cli
