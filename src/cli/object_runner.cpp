#include "cli/object_runner.hpp"

#include "cli/commands.hpp"
#include "cli/program_input.hpp"

#include <bpfvm/data_file.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/object_verify.hpp>
#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <iterator>

namespace bpfvm::cli {

bool is_elf(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 4 && std::memcmp(bytes.data(),
                                          "\x7f"
                                          "ELF",
                                          4) == 0;
}

Result<std::vector<std::uint8_t>> read_packet(const std::string& file, const std::string& hex) {
  if (!file.empty()) return read_binary_file(file);
  if (!hex.empty()) return parse_hex_bytes(hex);
  return std::vector<std::uint8_t>(64, 0);
}

Result<LoadedObject> LoadedObject::load(const std::string& path) {
  auto spec = ObjectSpec::parse_file(path);
  if (!spec) return spec.error();
  LoadedObject loaded;
  loaded.helpers_ = std::make_unique<HelperRegistry>(linux_helpers());
  // One registry serves every program of the object: the packet helpers of each type in it.
  for (const ObjectProgram& program : spec->programs)
    if (auto added = add_packet_helpers(*loaded.helpers_, program.type); !added)
      return added.error();
  // Programs that call functions the object lacks are left out; running one says why.
  auto object = Object::load(
      *spec, ObjectLoadOptions{.helpers = loaded.helpers_.get(), .autoload = autoload_linked});
  if (!object) return object.error();
  loaded.object_ = std::make_unique<Object>(std::move(*object));
  loaded.jit_.resize(loaded.object_->spec().programs.size());
  return loaded;
}

Result<const ObjectProgram*> find_object_program(const ObjectSpec& spec, const std::string& name) {
  const std::vector<ObjectProgram>& programs = spec.programs;
  if (programs.empty()) return make_error(Error::Kind::usage, "the object has no programs");
  if (name.empty()) return &programs.front();
  const ObjectProgram* by_section = nullptr;
  int sections_matching = 0;
  for (const ObjectProgram& program : programs) {
    if (program.name == name) return &program;
    if (program.section == name) {
      by_section = &program;
      ++sections_matching;
    }
  }
  if (sections_matching == 1) return by_section;
  std::string names;
  for (const ObjectProgram& program : programs)
    names +=
        fmt::format("{}{} (section {})", names.empty() ? "" : ", ", program.name, program.section);
  return make_error(Error::Kind::usage,
                    fmt::format("no program named '{}'; the object has: {}", name, names));
}

Result<const ObjectProgram*> LoadedObject::find_program(const std::string& name) const {
  return find_object_program(object_->spec(), name);
}

TimedVerification LoadedObject::verify(const ObjectProgram& described) const {
  const ObjectSpec& spec = object_->spec();
  auto index = static_cast<std::size_t>(&described - spec.programs.data());
  auto helpers = object_program_helpers(spec, index);
  if (!helpers) {  // cannot happen: the object loaded with these helpers and more
    TimedVerification failed;
    failed.result.error = verifier::VerifyError{};
    failed.result.error->reason = helpers.error().to_string();
    return failed;
  }
  return verify_timed(described.insns, verify_options_for(spec, index, &*helpers));
}

Result<PacketRunOutput> LoadedObject::run(const ObjectProgram& described,
                                          const std::vector<std::uint8_t>& packet, Engine engine,
                                          MemoryMode memory_mode, const Network* network) {
  auto index = static_cast<std::size_t>(&described - object_->spec().programs.data());
  const Program* loaded = object_->program_at(index);
  if (loaded == nullptr)
    return make_error(Error::Kind::usage, fmt::format("program '{}' cannot load: {}",
                                                      described.name, described.link_error));
  const Program& program = *loaded;
  PacketRunInput input;
  input.type = described.type;
  input.packet = packet;
  input.network = network;
  RunOptions options;
  options.memory_mode = memory_mode;
  if (engine == Engine::interpreter || (engine == Engine::automatic && !jit_supported()))
    return run_packet(program, input, Engine::interpreter, options);
  if (jit_[index] == nullptr) {
    JitOptions jit_options;
    jit_options.memory_mode = memory_mode;
    auto compiled = JitProgram::compile(program, jit_options);
    if (!compiled) {
      if (engine == Engine::jit) return compiled.error();
      return run_packet(program, input, Engine::interpreter, options);
    }
    jit_[index] = std::make_unique<JitProgram>(std::move(*compiled));
  }
  const JitProgram& jit = *jit_[index];
  return run_packet([&](const RunInput& run_input,
                        const RunOptions& run_options) { return jit.run(run_input, run_options); },
                    input, options);
}

std::optional<ObjectRun> run_once(LoadedObject& loaded, const std::string& object_path,
                                  const ObjectRunRequest& request, int& exit_status) {
  exit_status = exit_bad_input;
  auto program = loaded.find_program(request.program);
  if (!program) {
    print_error(describe_error(object_path, program.error()));
    return std::nullopt;
  }
  auto packet = read_packet(request.packet_file, request.packet_hex);
  if (!packet) {
    print_error(describe_error(request.packet_file.empty() ? "--packet-hex" : request.packet_file,
                               packet.error()));
    return std::nullopt;
  }
  std::shared_ptr<const Network> network;
  if (!request.network_file.empty()) {
    auto read = read_network(request.network_file);
    if (!read) {
      print_error(describe_error(request.network_file, read.error()));
      return std::nullopt;
    }
    network = *read;
  }
  std::optional<TimedVerification> verification;
  MemoryMode memory_mode = MemoryMode::checked;
  if (request.verify) {
    verification = loaded.verify(**program);
    if (verification->result.ok())
      memory_mode = MemoryMode::unchecked;
    else
      fmt::print(stderr,
                 "bpfvm: note: the verifier rejected {}, so it runs with memory checks: {}\n",
                 (*program)->name, verification->result.error->to_string());
  }
  auto output = loaded.run(**program, *packet, request.engine, memory_mode, network.get());
  if (!output) {
    print_error(describe_error(object_path, output.error()));
    // A packet the harness refuses (too short, too long) is bad input; a trap is a failed run.
    Error::Kind kind = output.error().kind;
    bool bad_input = kind == Error::Kind::usage || kind == Error::Kind::parse ||
                     kind == Error::Kind::io || kind == Error::Kind::invalid_program;
    exit_status = bad_input ? exit_bad_input : exit_run_failed;
    return std::nullopt;
  }
  exit_status = exit_ok;
  return ObjectRun{*program,    std::move(*packet), std::move(*output), std::move(verification),
                   memory_mode, std::move(network)};
}

Result<std::shared_ptr<const Network>> read_network(const std::string& path) {
  std::ifstream file(path);
  if (!file) return make_error(Error::Kind::io, "cannot open the network file");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto network = std::make_shared<Network>(Network::loopback());
  if (auto added = network->add_lines(text); !added) return added.error();
  return std::shared_ptr<const Network>(std::move(network));
}

void add_verification_json(nlohmann::json& out, const ObjectRun& run) {
  out["verified"] = run.verified();
  out["memory_checks"] = run.memory_mode == MemoryMode::checked;
  if (!run.verification)
    out["verify_error"] = "not verified (--no-verify)";
  else if (run.verification->result.error)
    out["verify_error"] = run.verification->result.error->to_string();
}

std::string action_name(ProgramType type, std::uint64_t value) {
  if (type == ProgramType::xdp) {
    static const char* const names[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
                                        "XDP_REDIRECT"};
    return value < std::size(names) ? names[value] : "";
  }
  if (type == ProgramType::sched_cls || type == ProgramType::sched_act) {
    static const char* const names[] = {"TC_ACT_OK",     "TC_ACT_RECLASSIFY", "TC_ACT_SHOT",
                                        "TC_ACT_PIPE",   "TC_ACT_STOLEN",     "TC_ACT_QUEUED",
                                        "TC_ACT_REPEAT", "TC_ACT_REDIRECT"};
    auto as_int = static_cast<std::int32_t>(value);
    if (as_int == -1) return "TC_ACT_UNSPEC";
    return as_int >= 0 && static_cast<std::size_t>(as_int) < std::size(names) ? names[as_int] : "";
  }
  return "";
}

namespace {

struct Element {
  std::vector<std::uint8_t> key;
  std::vector<std::uint8_t> value;
};

// Keyless types (queue, stack, ring buffer, bloom filter) have no elements to walk.
bool has_keys(const Map& map) {
  switch (map.type()) {
    case MapType::queue:
    case MapType::stack:
    case MapType::ringbuf:
    case MapType::perf_event_array:
    case MapType::bloom_filter: return false;
    default: return true;
  }
}

std::vector<Element> elements(Map& map) {
  std::vector<Element> out;
  if (!has_keys(map)) return out;
  std::vector<std::uint8_t> key(map.spec().key_size), next(map.spec().key_size);
  const void* previous = nullptr;
  while (map.get_next_key(previous, next.data()) == 0) {
    Element element{next, std::vector<std::uint8_t>(map.host_value_size())};
    if (map.host_lookup(next.data(), element.value.data()) == 0) out.push_back(std::move(element));
    key = next;
    previous = key.data();
  }
  return out;
}

struct PerfRecord {
  std::uint32_t slot;
  std::vector<std::uint8_t> data;
};

// The records bpf_perf_event_output wrote, read as libbpf's perf_buffer__consume reads them:
// showing them consumes them.
std::vector<PerfRecord> perf_records(Map& map) {
  std::vector<PerfRecord> out;
  if (auto* perf = dynamic_cast<PerfEventArrayMap*>(&map))
    perf->consume([&](std::uint32_t slot, const void* data, std::size_t size) {
      const auto* bytes = static_cast<const std::uint8_t*>(data);
      out.push_back({slot, std::vector<std::uint8_t>(bytes, bytes + size)});
      return 0;
    });
  return out;
}

std::string map_heading(const Map& map, std::size_t count) {
  const MapSpec& spec = map.spec();
  return fmt::format("map {} ({}, key {} B, value {} B, {}/{} entries)", spec.name,
                     map_type_name(spec.type), spec.key_size, spec.value_size, count,
                     spec.max_entries);
}

template <class Visit>
void for_each_map(const Object& object, const std::string& only, Visit&& visit) {
  for (const std::shared_ptr<Map>& map : object.maps())
    if (only.empty() || map->spec().name == only) visit(*map);
}

}  // namespace

std::string maps_as_text(const Object& object, const std::string& only) {
  std::string text;
  for_each_map(object, only, [&](Map& map) {
    std::vector<Element> rows = elements(map);
    text += map_heading(map, rows.size()) + "\n";
    if (map.type() == MapType::perf_event_array) {
      for (const PerfRecord& record : perf_records(map))
        text +=
            fmt::format("  record on slot {}: {}\n", record.slot, format_hex_bytes(record.data));
      return;
    }
    if (!has_keys(map)) {
      text += fmt::format("  ({} has no keys to list)\n", map_type_name(map.type()));
      return;
    }
    for (const Element& row : rows)
      text += fmt::format("  {}: {}\n", format_hex_bytes(row.key), format_hex_bytes(row.value));
  });
  return text;
}

nlohmann::json maps_as_json(const Object& object, const std::string& only) {
  nlohmann::json out = nlohmann::json::array();
  for_each_map(object, only, [&](Map& map) {
    const MapSpec& spec = map.spec();
    nlohmann::json entries = nlohmann::json::array();
    for (const Element& row : elements(map))
      entries.push_back(
          {{"key", format_hex_bytes(row.key)}, {"value", format_hex_bytes(row.value)}});
    nlohmann::json entry{{"name", spec.name},
                         {"type", map_type_name(spec.type)},
                         {"key_size", spec.key_size},
                         {"value_size", spec.value_size},
                         {"max_entries", spec.max_entries},
                         {"entries", std::move(entries)}};
    if (map.type() == MapType::perf_event_array) {
      nlohmann::json records = nlohmann::json::array();
      for (const PerfRecord& record : perf_records(map))
        records.push_back({{"slot", record.slot}, {"data", format_hex_bytes(record.data)}});
      entry["records"] = std::move(records);
    }
    out.push_back(std::move(entry));
  });
  return out;
}

}  // namespace bpfvm::cli
