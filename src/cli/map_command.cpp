// bpfvm map dump: an object's maps, after running one of its programs on a packet if asked.
#include "cli/commands.hpp"
#include "cli/engine_option.hpp"
#include "cli/object_runner.hpp"
#include "cli/program_input.hpp"

#include <fmt/format.h>

#include <memory>

namespace bpfvm::cli {
namespace {

struct MapDumpArgs {
  std::string object_path;
  std::string program;
  std::string packet_file;
  std::string packet_hex;
  std::string engine;
  std::string map;
  bool json = false;
};

int dump(const MapDumpArgs& args) {
  auto loaded = LoadedObject::load(args.object_path);
  if (!loaded) {
    print_error(describe_error(args.object_path, loaded.error()));
    return exit_bad_input;
  }
  if (!args.map.empty() && loaded->object().map(args.map) == nullptr) {
    print_error(fmt::format("{}: no map named '{}'", args.object_path, args.map));
    return exit_bad_input;
  }
  bool run = !args.program.empty() || !args.packet_file.empty() || !args.packet_hex.empty();
  if (run) {
    int status = exit_ok;
    ObjectRunRequest request{args.program, args.packet_file, args.packet_hex,
                             engine_from_name(args.engine)};
    if (!run_once(*loaded, args.object_path, request, status)) return status;
  }
  if (args.json)
    fmt::print("{}\n", maps_as_json(loaded->object(), args.map).dump(2));
  else
    fmt::print("{}", maps_as_text(loaded->object(), args.map));
  return exit_ok;
}

}  // namespace

void add_map_command(CLI::App& app, int& exit_code) {
  CLI::App* map = app.add_subcommand("map", "Inspect the maps of an object");
  map->require_subcommand(1);
  auto args = std::make_shared<MapDumpArgs>();
  CLI::App* dump_command = map->add_subcommand(
      "dump",
      "Load OBJ (a clang -target bpf object), optionally run one of its programs once on a\n"
      "packet, and print every element of its maps (keys and values in hex) as a table or\n"
      "JSON. Per-CPU maps show one value per possible CPU, each padded to 8 bytes.\n"
      "Exit status: 0 done, 1 the run failed, 2 bad input.");
  dump_command->add_option("OBJ", args->object_path, "The BPF object file")->required();
  dump_command->add_option("--program", args->program,
                           "Run this program (function or section name) first");
  auto* file = dump_command->add_option("--packet", args->packet_file,
                                        "Run on this packet (a file of raw bytes)");
  dump_command->add_option("--packet-hex", args->packet_hex, "Run on this packet, as hex bytes")
      ->excludes(file);
  dump_command->add_option("--map", args->map, "Only this map");
  dump_command->add_flag("--json", args->json, "Print JSON");
  add_engine_option(*dump_command, args->engine);
  dump_command->callback([args, &exit_code] { exit_code = dump(*args); });
}

}  // namespace bpfvm::cli
