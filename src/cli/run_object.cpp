#include "cli/run_object.hpp"

#include "cli/commands.hpp"
#include "cli/engine_option.hpp"
#include "cli/object_runner.hpp"
#include "cli/program_input.hpp"

#include <bpfvm/program_type.hpp>

#include <fmt/format.h>

#include <chrono>

namespace bpfvm::cli {
int run_object(const RunObjectArgs& args) {
  auto loaded = LoadedObject::load(args.object_path);
  if (!loaded) {
    print_error(describe_error(args.object_path, loaded.error()));
    return exit_bad_input;
  }
  auto program = loaded->find_program(args.program);
  if (!program) {
    print_error(describe_error(args.object_path, program.error()));
    return exit_bad_input;
  }
  auto packet = read_packet(args.packet_file, args.packet_hex);
  if (!packet) {
    print_error(describe_error(args.packet_file.empty() ? "--packet-hex" : args.packet_file,
                               packet.error()));
    return exit_bad_input;
  }
  Engine engine = engine_from_name(args.engine);
  auto output = loaded->run(**program, *packet, engine);
  if (!output) {
    print_error(describe_error(args.object_path, output.error()));
    return exit_run_failed;
  }

  std::optional<double> mean_ns;
  if (args.repeat > 1) {
    auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < args.repeat; ++i) {
      auto again = loaded->run(**program, *packet, engine);
      if (!again) {
        print_error(describe_error(args.object_path, again.error()));
        return exit_run_failed;
      }
    }
    std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    mean_ns = elapsed.count() / static_cast<double>(args.repeat);
  }

  const ObjectProgram& described = **program;
  std::string action = action_name(described.type, output->return_value);
  bool changed = output->packet != *packet;
  if (args.json) {
    nlohmann::json out{{"program", described.name},
                       {"section", described.section},
                       {"type", program_type_name(described.type)},
                       {"return_value", output->return_value},
                       {"packet_changed", changed}};
    if (!action.empty()) out["action"] = action;
    if (changed) out["packet"] = hex_bytes(output->packet.data(), output->packet.size());
    if (mean_ns) out["mean_ns_per_run"] = *mean_ns;
    if (args.show_maps) out["maps"] = maps_as_json(loaded->object());
    fmt::print("{}\n", out.dump(2));
    return exit_ok;
  }
  fmt::print("0x{:x}{}\n", output->return_value, action.empty() ? "" : " " + action);
  if (changed)
    fmt::print("packet ({} bytes): {}\n", output->packet.size(),
               hex_bytes(output->packet.data(), output->packet.size()));
  if (args.show_maps) fmt::print("{}", maps_as_text(loaded->object()));
  if (mean_ns)
    fmt::print(stderr, "{} runs: {:.3f} us per run\n", args.repeat, *mean_ns / 1000);
  return exit_ok;
}

}  // namespace bpfvm::cli
