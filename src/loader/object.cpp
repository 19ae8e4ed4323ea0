// Object::load with a map factory: maps first (programs refer to them by index), global data
// filled, programs loaded, then the slots map definitions set (`.values`), which may name
// programs.
#include <bpfvm/builtin_helpers.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>

#include <cstring>
#include <optional>

namespace bpfvm {
namespace {

Error object_error(std::string what, const Error& cause) {
  Error error = cause;
  error.message = fmt::format("{}: {}", what, cause.to_string());
  error.insn_index.reset();
  error.line.reset();
  error.column.reset();
  return error;
}

Status fill_global_data(const ObjectMap& spec, Map& map) {
  if (spec.initial_value.empty()) return Ok{};
  if (void* value = map.direct_value()) {
    std::memcpy(value, spec.initial_value.data(), spec.initial_value.size());
    return Ok{};
  }
  std::uint32_t key = 0;
  int error = map.host_update(&key, spec.initial_value.data(), map_update::any);
  if (error != 0)
    return make_error(Error::Kind::usage, fmt::format("map '{}': setting its initial value "
                                                      "failed ({})",
                                                      spec.name, std::strerror(-error)));
  return Ok{};
}

Status set_initial_slots(const ObjectSpec& spec, const std::vector<std::shared_ptr<Map>>& maps,
                         const Object& object) {
  for (std::size_t m = 0; m < spec.maps.size(); ++m) {
    const ObjectMap& object_map = spec.maps[m];
    for (const auto& [slot, name] : object_map.initial_slots) {
      int error = -22;  // EINVAL: the map cannot take it
      if (auto* outer = dynamic_cast<MapOfMaps*>(maps[m].get())) {
        auto inner = spec.map_index(name);
        if (!inner)
          return make_error(Error::Kind::usage, fmt::format("map '{}': slot {} names '{}', "
                                                            "which is no map of the object",
                                                            object_map.name, slot, name));
        error = outer->set(&slot, maps[*inner]);
      } else if (auto* table = dynamic_cast<ProgramArrayMap*>(maps[m].get())) {
        const Program* program = nullptr;
        for (std::size_t p = 0; p < spec.programs.size(); ++p)
          if (spec.programs[p].name == name) program = object.program_at(p);
        if (program == nullptr)
          return make_error(Error::Kind::usage, fmt::format("map '{}': slot {} names '{}', "
                                                            "which is no loaded program of the "
                                                            "object",
                                                            object_map.name, slot, name));
        error = table->set(slot, std::make_shared<const Program>(*program));
      }
      if (error != 0)
        return make_error(Error::Kind::usage,
                          fmt::format("map '{}': setting slot {} to '{}' "
                                      "failed ({})",
                                      object_map.name, slot, name, std::strerror(-error)));
    }
  }
  return Ok{};
}

// ObjectLoadOptions::builtin_functions off: the built-in calls poisoned again, as the loader
// leaves calls to other functions the object lacks, and their programs given a link error.
ObjectSpec without_builtins(const ObjectSpec& spec) {
  ObjectSpec out = spec;
  for (ObjectProgram& program : out.programs)
    for (ObjectRelocation& relocation : program.relocations) {
      if (relocation.kind != RelocationKind::builtin) continue;
      relocation.kind = RelocationKind::unresolved;
      program.insns[relocation.insn].imm = static_cast<std::int32_t>(poison_helper_id);
      if (program.link_error.empty())
        program.link_error = fmt::format(
            "instruction {}: calls '{}', a function that is not in the object (bpfvm's "
            "built-in functions are off: ObjectLoadOptions::builtin_functions)",
            relocation.insn, relocation.symbol);
    }
  return out;
}

bool calls_builtins(const ObjectSpec& spec) {
  for (const ObjectProgram& program : spec.programs)
    for (const ObjectRelocation& relocation : program.relocations)
      if (relocation.kind == RelocationKind::builtin) return true;
  return false;
}

}  // namespace

Result<Object> Object::load(const ObjectSpec& spec, const ObjectLoadOptions& options,
                            const MapFactory& create_map) {
  Object object;
  const bool builtins = calls_builtins(spec);
  object.spec_ = std::make_shared<const ObjectSpec>(
      builtins && !options.builtin_functions ? without_builtins(spec) : spec);
  // The helpers the programs get: the embedder's, with the built-ins where the object calls
  // them (Program::load copies the registry anyway).
  std::optional<HelperRegistry> with_builtins;
  const HelperRegistry* helpers = options.helpers;
  if (builtins && options.builtin_functions) {
    with_builtins = options.helpers != nullptr ? *options.helpers : HelperRegistry{};
    if (Status added = add_builtin_helpers(*with_builtins); !added) return added.error();
    helpers = &*with_builtins;
  }
  for (const ObjectMap& map_spec : spec.maps) {
    auto map = create_map(map_spec);
    if (!map) return object_error(fmt::format("map '{}'", map_spec.name), map.error());
    if (*map == nullptr)
      return make_error(Error::Kind::usage, fmt::format("map '{}': not created", map_spec.name));
    Status filled = fill_global_data(map_spec, **map);
    if (!filled) return filled.error();
    object.maps_.push_back(std::move(*map));
  }
  for (const ObjectProgram& program_spec : object.spec_->programs) {
    if (options.autoload && !options.autoload(program_spec)) {
      object.program_slots_.push_back(static_cast<std::size_t>(-1));
      continue;
    }
    if (!program_spec.link_error.empty())
      return make_error(Error::Kind::parse,
                        fmt::format("program '{}' (section '{}'): {}", program_spec.name,
                                    program_spec.section, program_spec.link_error));
    LoadOptions load;
    load.helpers = helpers;
    load.type = program_type_from_section(program_spec.section) ? program_spec.type
                                                                : options.unnamed_section_type;
    load.maps = object.maps_;
    // Types bpfvm has a context for get the kernel's context-access rewriting and helper
    // checks; the others (kprobe, tracepoint, ...) load as they are, to run in checked mode.
    auto program = program_type_supported(load.type) ? load_typed_program(program_spec.insns, load)
                                                     : Program::load(program_spec.insns, load);
    if (!program)
      return object_error(
          fmt::format("program '{}' (section '{}')", program_spec.name, program_spec.section),
          program.error());
    object.program_slots_.push_back(object.programs_.size());
    object.programs_.push_back(std::move(*program));
  }
  Status slots = set_initial_slots(*object.spec_, object.maps_, object);
  if (!slots) return slots.error();
  return object;
}

Object::~Object() {
  for (const std::shared_ptr<Map>& map : maps_) {
    auto* table = dynamic_cast<ProgramArrayMap*>(map.get());
    if (table == nullptr || pinned_map(map->spec().name) == map) continue;
    for (std::uint32_t index = 0; index < map->spec().max_entries; ++index)
      (void)table->set(index, nullptr);
  }
}

const Program* Object::program(std::string_view name) const {
  for (std::size_t i = 0; i < spec_->programs.size(); ++i)
    if (spec_->programs[i].name == name) return program_at(i);
  return nullptr;
}

const Program* Object::program_at(std::size_t index) const {
  if (index >= program_slots_.size() || program_slots_[index] >= programs_.size()) return nullptr;
  return &programs_[program_slots_[index]];
}

bool autoload_linked(const ObjectProgram& program) { return program.link_error.empty(); }

std::shared_ptr<Map> Object::map(std::string_view name) const {
  auto index = spec_->map_index(name);
  return index ? maps_[*index] : nullptr;
}

}  // namespace bpfvm
