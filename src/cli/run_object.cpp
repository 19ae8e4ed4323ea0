#include "cli/run_object.hpp"

#include "cli/commands.hpp"
#include "cli/engine_option.hpp"
#include "cli/object_runner.hpp"
#include "cli/packet_effects.hpp"
#include "cli/program_input.hpp"

#include <bpfvm/data_file.hpp>
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
  int status = exit_ok;
  Engine engine = engine_from_name(args.engine);
  std::optional<ObjectRun> ran = run_once(
      *loaded, args.object_path,
      {args.program, args.packet_file, args.packet_hex, engine, args.verify, args.network_file},
      status);
  if (!ran) return status;
  const ObjectProgram& described = *ran->program;
  const PacketRunOutput& output = ran->output;

  std::optional<double> mean_ns;
  if (args.repeat > 1) {
    auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < args.repeat; ++i) {
      auto again =
          loaded->run(described, ran->packet, engine, ran->memory_mode, ran->network.get());
      if (!again) {
        print_error(describe_error(args.object_path, again.error()));
        return exit_run_failed;
      }
    }
    std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    mean_ns = elapsed.count() / static_cast<double>(args.repeat);
  }

  std::string action = action_name(described.type, output.return_value);
  // Socket filters cannot change packets; test_run's data_out for them zeroes the Ethernet
  // header, which is not the program's doing.
  bool changed = described.type != ProgramType::socket_filter && output.packet != ran->packet;
  if (args.json) {
    nlohmann::json out{{"program", described.name},
                       {"section", described.section},
                       {"type", program_type_name(described.type)},
                       {"return_value", output.return_value},
                       {"packet_changed", changed}};
    if (!action.empty()) out["action"] = action;
    add_verification_json(out, *ran);
    if (changed) out["packet"] = format_hex_bytes(output.packet);
    add_packet_effects_json(out, output);
    if (mean_ns) out["mean_ns_per_run"] = *mean_ns;
    if (args.show_maps) out["maps"] = maps_as_json(loaded->object());
    fmt::print("{}\n", out.dump(2));
    return exit_ok;
  }
  fmt::print("0x{:x}{}\n", output.return_value, action.empty() ? "" : " " + action);
  if (changed)
    fmt::print("packet ({} bytes): {}\n", output.packet.size(), format_hex_bytes(output.packet));
  for (const std::string& line : packet_effect_lines(output)) fmt::print("{}\n", line);
  if (args.show_maps) fmt::print("{}", maps_as_text(loaded->object()));
  if (mean_ns) fmt::print(stderr, "{} runs: {:.3f} us per run\n", args.repeat, *mean_ns / 1000);
  return exit_ok;
}

}  // namespace bpfvm::cli
