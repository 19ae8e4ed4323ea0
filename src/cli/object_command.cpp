// bpfvm object show: what an ELF object holds, as the loader sees it.
#include "cli/commands.hpp"

#include <bpfvm/map.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/program_type.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <array>
#include <memory>

namespace bpfvm::cli {
namespace {

std::string origin_label(MapOrigin origin) {
  switch (origin) {
    case MapOrigin::btf: return "btf";
    case MapOrigin::legacy: return "legacy";
    case MapOrigin::global_data: return "data";
  }
  return "unknown";
}

std::string pinning_label(MapPinning pinning) {
  if (pinning == MapPinning::none) return "none";
  if (pinning == MapPinning::by_name) return "by_name";
  return std::to_string(static_cast<std::uint32_t>(pinning));
}

std::string relocation_target(const ObjectSpec& spec, const ObjectRelocation& relocation) {
  switch (relocation.kind) {
    case RelocationKind::map: return spec.maps[relocation.map_index].name;
    case RelocationKind::map_value:
      return fmt::format("{}+{}", spec.maps[relocation.map_index].name, relocation.offset);
    case RelocationKind::call:
    case RelocationKind::func:
      return fmt::format("{} (insn {})", relocation.symbol, relocation.target);
    case RelocationKind::unresolved:
      return fmt::format("{} (not in the object)", relocation.symbol);
    case RelocationKind::builtin: return fmt::format("{} (bpfvm built-in)", relocation.symbol);
  }
  return "";
}

nlohmann::json to_json(const ObjectSpec& spec) {
  nlohmann::json out;
  out["license"] = spec.license;
  out["kernel_version"] = spec.kernel_version ? nlohmann::json(*spec.kernel_version) : nullptr;
  out["btf"] = spec.has_btf;
  out["programs"] = nlohmann::json::array();
  for (const ObjectProgram& program : spec.programs) {
    nlohmann::json relocations = nlohmann::json::array();
    for (const ObjectRelocation& relocation : program.relocations) {
      nlohmann::json entry{{"insn", relocation.insn},
                           {"kind", relocation_kind_name(relocation.kind)},
                           {"symbol", relocation.symbol}};
      if (relocation.kind == RelocationKind::map || relocation.kind == RelocationKind::map_value)
        entry["map"] = spec.maps[relocation.map_index].name;
      if (relocation.kind == RelocationKind::map_value) entry["offset"] = relocation.offset;
      if (relocation.kind == RelocationKind::call || relocation.kind == RelocationKind::func)
        entry["target"] = relocation.target;
      relocations.push_back(entry);
    }
    out["programs"].push_back(
        {{"name", program.name},
         {"section", program.section},
         {"type", std::string(program_type_name(program.type))},
         {"insns", program.insns.size()},
         {"own_insns", program.own_insns},
         {"relocations", relocations},
         {"link_error", program.link_error.empty() ? nlohmann::json(nullptr)
                                                   : nlohmann::json(program.link_error)}});
  }
  out["maps"] = nlohmann::json::array();
  for (const ObjectMap& map : spec.maps) {
    nlohmann::json entry{{"name", map.name},
                         {"section", map.section},
                         {"origin", origin_label(map.origin)},
                         {"type", std::string(map_type_name(map.spec.type))},
                         {"key_size", map.spec.key_size},
                         {"value_size", map.spec.value_size},
                         {"max_entries", map.spec.max_entries},
                         {"flags", map.spec.flags},
                         {"pinning", pinning_label(map.pinning)}};
    if (map.spec.inner)
      entry["inner"] = {{"type", std::string(map_type_name(map.spec.inner->type))},
                        {"key_size", map.spec.inner->key_size},
                        {"value_size", map.spec.inner->value_size},
                        {"max_entries", map.spec.inner->max_entries}};
    out["maps"].push_back(entry);
  }
  return out;
}

void print_text(const ObjectSpec& spec) {
  fmt::print("license: {}\n", spec.license.empty() ? "(none)" : spec.license);
  if (spec.kernel_version) fmt::print("kernel version: {:#x}\n", *spec.kernel_version);
  fmt::print("\nprograms: {}\n", spec.programs.size());
  if (!spec.programs.empty())
    fmt::print("  {:<28} {:<28} {:<16} {:>7}\n", "NAME", "SECTION", "TYPE", "INSNS");
  for (const ObjectProgram& program : spec.programs)
    fmt::print("  {:<28} {:<28} {:<16} {:>7}\n", program.name, program.section,
               std::string(program_type_name(program.type)), program.insns.size());
  fmt::print("\nmaps: {}\n", spec.maps.size());
  if (!spec.maps.empty())
    fmt::print("  {:<28} {:<22} {:>5} {:>7} {:>9} {:>7}  {}\n", "NAME", "TYPE", "KEY", "VALUE",
               "ENTRIES", "FLAGS", "FROM");
  for (const ObjectMap& map : spec.maps) {
    std::string type = std::string(map_type_name(map.spec.type));
    if (map.spec.inner) type += "(" + std::string(map_type_name(map.spec.inner->type)) + ")";
    fmt::print("  {:<28} {:<22} {:>5} {:>7} {:>9} {:>#7x}  {}{}\n", map.name, type,
               map.spec.key_size, map.spec.value_size, map.spec.max_entries, map.spec.flags,
               origin_label(map.origin),
               map.pinning == MapPinning::none ? "" : ", pinning " + pinning_label(map.pinning));
  }
  std::size_t total = 0;
  for (const ObjectProgram& program : spec.programs) total += program.relocations.size();
  fmt::print("\nrelocations: {}\n", total);
  for (const ObjectProgram& program : spec.programs)
    for (const ObjectRelocation& relocation : program.relocations)
      fmt::print("  {}+{:<6} {:<10} {}\n", program.name, relocation.insn,
                 relocation_kind_name(relocation.kind), relocation_target(spec, relocation));
}

struct ObjectArgs {
  std::string path;
  bool json = false;
};

int show_object(const ObjectArgs& args) {
  auto spec = ObjectSpec::parse_file(args.path);
  if (!spec) {
    print_error(fmt::format("{}: {}", args.path, spec.error().to_string()));
    return exit_bad_input;
  }
  if (args.json)
    fmt::print("{}\n", to_json(*spec).dump(2));
  else
    print_text(*spec);
  return exit_ok;
}

}  // namespace

void add_object_command(CLI::App& app, int& exit_code) {
  CLI::App* object = app.add_subcommand(
      "object", "Inspect ELF objects built with clang -target bpf (see 'object show --help').");
  object->require_subcommand(1);
  auto args = std::make_shared<ObjectArgs>();
  CLI::App* show = object->add_subcommand(
      "show",
      "List an object's programs (name, section, type, instruction count with subprograms),\n"
      "maps (name, type, key and value size, max entries, flags, where defined) and the\n"
      "relocations the loader applied. A malformed object is reported with the section and\n"
      "offset at fault, exit status 2.");
  show->add_option("OBJ", args->path, "The ELF object")->required();
  show->add_flag("--json", args->json, "Print JSON instead of tables");
  show->callback([args, &exit_code] { exit_code = show_object(*args); });
}

}  // namespace bpfvm::cli
