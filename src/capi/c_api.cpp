// The C API (include/bpfvm/bpfvm.h) over the C++ library. Every entry point catches what the
// C++ side could throw (std::bad_alloc, mostly) and turns it into a status: no exception
// crosses into C.
#include <bpfvm/bpfvm.h>

#include <bpfvm/jit.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/progtypes.hpp>
#include <bpfvm/vm.hpp>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

struct ebpf_map {
  std::shared_ptr<bpfvm::Map> map;
};

namespace {

using namespace bpfvm;

// A helper registered from C: the function and its user pointer, reached through the
// HelperCall's user pointer by one C++ trampoline.
struct CHelper {
  ebpf_helper_fn function;
  void* user;
};

std::uint64_t call_c_helper(HelperCall& call, std::uint64_t r1, std::uint64_t r2, std::uint64_t r3,
                            std::uint64_t r4, std::uint64_t r5) {
  auto* helper = static_cast<CHelper*>(call.user());
  return helper->function(helper->user, r1, r2, r3, r4, r5);
}

// The errno a library error maps to.
int errno_for(const Error& error) {
  switch (error.kind) {
    case Error::Kind::invalid_program: return -EACCES;
    case Error::Kind::parse: return -EINVAL;
    case Error::Kind::io: return -EIO;
    case Error::Kind::out_of_bounds: return -EFAULT;
    case Error::Kind::budget_exhausted: return -ETIME;
    case Error::Kind::call_depth: return -E2BIG;
    case Error::Kind::helper: return -EINVAL;
    case Error::Kind::usage: return -EINVAL;
  }
  return -EINVAL;
}

}  // namespace

struct ebpf_vm {
  std::string error;
  Engine engine = Engine::automatic;
  std::optional<std::uint64_t> budget;
  HelperRegistry extra_helpers;  // registered from C; they win over Linux's
  std::vector<std::unique_ptr<CHelper>> c_helpers;
  std::vector<std::shared_ptr<Map>> added_maps;  // ebpf_vm_add_map, for raw programs

  // What the last successful load produced.
  ProgramType type = ProgramType::raw;
  std::unique_ptr<HelperRegistry> helpers;
  std::unique_ptr<Object> object;
  std::optional<Program> program;
  std::unique_ptr<JitProgram> jit;
  std::vector<std::unique_ptr<ebpf_map>> object_maps;

  int fail(int status, std::string message) {
    error = std::move(message);
    return status;
  }
  int fail(const Error& failure) { return fail(errno_for(failure), failure.to_string()); }
  int succeed() {
    error.clear();
    return 0;
  }

  // Linux's helpers, the packet helpers of `for_type`, then the C helpers over them.
  Result<std::unique_ptr<HelperRegistry>> make_helpers(ProgramType for_type) const {
    HelperRegistry merged;
    for (const auto& [id, helper] : extra_helpers.all())
      if (auto added = merged.add(helper); !added) return added.error();
    HelperRegistry linux = linux_helpers();
    for (const auto& [id, helper] : linux.all())
      if (merged.find(id) == nullptr) (void)merged.add(helper);
    if (auto added = add_packet_helpers(merged, for_type); !added) return added.error();
    return std::make_unique<HelperRegistry>(std::move(merged));
  }

  void forget_program() {
    object.reset();
    program.reset();
    jit.reset();
    object_maps.clear();
  }

  // Compiles the loaded program for the chosen engine; `auto` falls back quietly.
  int prepare_engine() {
    if (engine == Engine::interpreter || (engine == Engine::automatic && !jit_supported()))
      return succeed();
    JitOptions options;
    options.budget_guard = budget;
    auto compiled = JitProgram::compile(*program, options);
    if (!compiled) {
      if (engine == Engine::jit) return fail(compiled.error());
      return succeed();
    }
    jit = std::make_unique<JitProgram>(std::move(*compiled));
    return succeed();
  }

  Result<std::uint64_t> run_raw(void* memory, std::size_t size) {
    RunInput input = RunInput::raw({static_cast<std::uint8_t*>(memory), size});
    RunOptions options;
    options.budget = budget;
    return jit ? jit->run(input, options) : interpret(*program, input, options);
  }

  Result<PacketRunOutput> run_packet_program(std::span<const std::uint8_t> packet) {
    PacketRunInput input;
    input.type = type;
    input.packet = packet;
    RunOptions options;
    options.budget = budget;
    if (jit)
      return run_packet(
          [this](const RunInput& run_input, const RunOptions& run_options) {
            return jit->run(run_input, run_options);
          },
          input, options);
    return run_packet(*program, input, Engine::interpreter, options);
  }
};

// Runs `body`, turning an escaping exception into -ENOMEM / -EINVAL with a message.
template <class Body>
int guarded(ebpf_vm* vm, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    if (vm != nullptr) vm->error = "out of memory";
    return -ENOMEM;
  } catch (const std::exception& failure) {
    if (vm != nullptr) vm->error = failure.what();
    return -EINVAL;
  }
}

extern "C" {

ebpf_vm* ebpf_vm_alloc(void) { return new (std::nothrow) ebpf_vm(); }

void ebpf_vm_free(ebpf_vm* vm) { delete vm; }

const char* ebpf_vm_error(const ebpf_vm* vm) { return vm == nullptr ? "no VM" : vm->error.c_str(); }

int ebpf_vm_set_engine(ebpf_vm* vm, enum ebpf_engine engine) {
  if (vm == nullptr) return -EINVAL;
  switch (engine) {
    case EBPF_ENGINE_AUTO: vm->engine = Engine::automatic; return vm->succeed();
    case EBPF_ENGINE_INTERPRETER: vm->engine = Engine::interpreter; return vm->succeed();
    case EBPF_ENGINE_JIT:
      if (!jit_supported()) return vm->fail(-EOPNOTSUPP, "no JIT for this machine");
      vm->engine = Engine::jit;
      return vm->succeed();
  }
  return vm->fail(-EINVAL, "unknown engine " + std::to_string(static_cast<int>(engine)));
}

int ebpf_vm_set_budget(ebpf_vm* vm, uint64_t max_insns) {
  if (vm == nullptr) return -EINVAL;
  vm->budget = max_insns == 0 ? std::nullopt : std::optional<std::uint64_t>(max_insns);
  return vm->succeed();
}

int ebpf_register_helper(ebpf_vm* vm, uint32_t id, const char* name, ebpf_helper_fn function,
                         void* user) {
  if (vm == nullptr) return -EINVAL;
  return guarded(vm, [&] {
    if (function == nullptr)
      return vm->fail(-EINVAL, "helper " + std::to_string(id) + " has no function");
    if (vm->extra_helpers.find(id) != nullptr)
      return vm->fail(-EEXIST, "helper " + std::to_string(id) + " is already registered");
    vm->c_helpers.push_back(std::make_unique<CHelper>(CHelper{function, user}));
    Helper helper{.id = id,
                  .name = name != nullptr ? name : "helper_" + std::to_string(id),
                  .function = &call_c_helper,
                  .user = vm->c_helpers.back().get()};
    if (auto added = vm->extra_helpers.add(std::move(helper)); !added)
      return vm->fail(added.error());
    return vm->succeed();
  });
}

int ebpf_load_prog(ebpf_vm* vm, const void* code, size_t code_size, uint32_t prog_type) {
  if (vm == nullptr) return -EINVAL;
  if (code == nullptr && code_size != 0) return vm->fail(-EINVAL, "code is NULL");
  return guarded(vm, [&] {
    auto type = static_cast<ProgramType>(prog_type);
    if (type != ProgramType::raw && !program_type_supported(type))
      return vm->fail(-EINVAL, "program type " + std::to_string(prog_type) + " is not supported");
    auto insns = insns_from_bytes({static_cast<const std::uint8_t*>(code), code_size});
    if (!insns) return vm->fail(-EINVAL, insns.error().to_string());  // not whole instructions
    auto helpers = vm->make_helpers(type);
    if (!helpers) return vm->fail(helpers.error());
    LoadOptions options;
    options.helpers = helpers->get();
    options.type = type;
    options.maps = vm->added_maps;
    auto program = load_typed_program(*insns, options);
    if (!program) return vm->fail(program.error());
    vm->forget_program();
    vm->type = type;
    vm->helpers = std::move(*helpers);
    vm->program = std::move(*program);
    return vm->prepare_engine();
  });
}

int ebpf_load_object(ebpf_vm* vm, const char* path, const char* program_name) {
  if (vm == nullptr) return -EINVAL;
  if (path == nullptr) return vm->fail(-EINVAL, "path is NULL");
  return guarded(vm, [&] {
    auto spec = ObjectSpec::parse_file(path);
    if (!spec) return vm->fail(spec.error());
    if (spec->programs.empty()) return vm->fail(-ENOENT, std::string(path) + ": no programs");
    std::size_t index = 0;
    if (program_name != nullptr) {
      const ObjectProgram* found = spec->program(program_name);
      if (found == nullptr)
        return vm->fail(-ENOENT, std::string(path) + ": no program named " + program_name);
      index = static_cast<std::size_t>(found - spec->programs.data());
    }
    ProgramType type = spec->programs[index].type;
    auto helpers = vm->make_helpers(type);
    if (!helpers) return vm->fail(helpers.error());
    if (!spec->programs[index].link_error.empty())
      return vm->fail(-ENOEXEC, std::string(path) + ": " + spec->programs[index].link_error);
    auto object = Object::load(
        *spec, ObjectLoadOptions{.helpers = helpers->get(), .autoload = autoload_linked});
    if (!object) return vm->fail(object.error());
    vm->forget_program();
    vm->type = type;
    vm->helpers = std::move(*helpers);
    vm->object = std::make_unique<Object>(std::move(*object));
    vm->program = *vm->object->program_at(index);
    for (const std::shared_ptr<Map>& map : vm->object->maps())
      vm->object_maps.push_back(std::make_unique<ebpf_map>(ebpf_map{map}));
    return vm->prepare_engine();
  });
}

int ebpf_vm_run(ebpf_vm* vm, void* memory, size_t memory_size, uint64_t* result) {
  if (vm == nullptr) return -EINVAL;
  if (!vm->program) return vm->fail(-ENOENT, "no program is loaded");
  if (memory == nullptr && memory_size != 0) return vm->fail(-EINVAL, "memory is NULL");
  return guarded(vm, [&] {
    if (vm->type == ProgramType::raw) {
      auto r0 = vm->run_raw(memory, memory_size);
      if (!r0) return vm->fail(r0.error());
      if (result != nullptr) *result = *r0;
      return vm->succeed();
    }
    std::size_t size = memory_size;
    int status = ebpf_vm_run_packet(vm, memory, &size, memory_size, result);
    if (status == 0 && size != memory_size)
      return vm->fail(-EMSGSIZE, "the program changed the packet's length; use ebpf_vm_run_packet");
    return status;
  });
}

int ebpf_vm_run_packet(ebpf_vm* vm, void* packet, size_t* packet_size, size_t capacity,
                       uint64_t* result) {
  if (vm == nullptr) return -EINVAL;
  if (!vm->program) return vm->fail(-ENOENT, "no program is loaded");
  if (packet == nullptr || packet_size == nullptr || *packet_size > capacity)
    return vm->fail(-EINVAL, "packet, packet_size or capacity is wrong");
  return guarded(vm, [&] {
    auto output = vm->run_packet_program({static_cast<const std::uint8_t*>(packet), *packet_size});
    if (!output) return vm->fail(output.error());
    if (output->packet.size() > capacity)
      return vm->fail(-EMSGSIZE, "the packet grew to " + std::to_string(output->packet.size()) +
                                     " bytes, more than the capacity");
    std::memcpy(packet, output->packet.data(), output->packet.size());
    *packet_size = output->packet.size();
    if (result != nullptr) *result = output->return_value;
    return vm->succeed();
  });
}

int ebpf_vm_find_map(ebpf_vm* vm, const char* name, ebpf_map** map) {
  if (vm == nullptr || name == nullptr || map == nullptr) return -EINVAL;
  for (const auto& handle : vm->object_maps)
    if (handle->map->spec().name == name) {
      *map = handle.get();
      return vm->succeed();
    }
  return vm->fail(-ENOENT, std::string("no map named ") + name);
}

int ebpf_map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                    uint32_t flags, ebpf_map** map) {
  if (map == nullptr) return -EINVAL;
  return guarded(nullptr, [&] {
    MapSpec spec;
    spec.type = static_cast<MapType>(type);
    spec.key_size = key_size;
    spec.value_size = value_size;
    spec.max_entries = max_entries;
    spec.flags = flags;
    auto created = Map::create(spec);
    if (!created) return -EINVAL;
    *map = new ebpf_map{std::move(*created)};
    return 0;
  });
}

void ebpf_map_free(ebpf_map* map) { delete map; }

int ebpf_map_info(const ebpf_map* map, uint32_t* type, uint32_t* key_size, uint32_t* value_size,
                  uint32_t* max_entries) {
  if (map == nullptr) return -EINVAL;
  const MapSpec& spec = map->map->spec();
  if (type != nullptr) *type = static_cast<uint32_t>(spec.type);
  if (key_size != nullptr) *key_size = spec.key_size;
  if (value_size != nullptr) *value_size = spec.value_size;
  if (max_entries != nullptr) *max_entries = spec.max_entries;
  return 0;
}

size_t ebpf_map_value_size(const ebpf_map* map) {
  return map == nullptr ? 0 : map->map->host_value_size();
}

int ebpf_map_lookup(ebpf_map* map, const void* key, void* value) {
  if (map == nullptr || value == nullptr) return -EINVAL;
  return guarded(nullptr, [&] { return map->map->host_lookup(key, value); });
}

int ebpf_map_update(ebpf_map* map, const void* key, const void* value, uint64_t flags) {
  if (map == nullptr || value == nullptr) return -EINVAL;
  return guarded(nullptr, [&] { return map->map->host_update(key, value, flags); });
}

int ebpf_map_delete(ebpf_map* map, const void* key) {
  if (map == nullptr) return -EINVAL;
  return guarded(nullptr, [&] { return map->map->host_erase(key); });
}

int ebpf_map_next_key(ebpf_map* map, const void* key, void* next_key) {
  if (map == nullptr || next_key == nullptr) return -EINVAL;
  return guarded(nullptr, [&] { return map->map->get_next_key(key, next_key); });
}

int ebpf_map_lookup_batch(ebpf_map* map, const void* cursor, void* next_cursor, void* keys,
                          void* values, uint32_t* count) {
  if (map == nullptr || next_cursor == nullptr || keys == nullptr || values == nullptr ||
      count == nullptr)
    return -EINVAL;
  return guarded(nullptr,
                 [&] { return map->map->lookup_batch(cursor, next_cursor, keys, values, *count); });
}

int ebpf_map_update_batch(ebpf_map* map, const void* keys, const void* values, uint32_t* count,
                          uint64_t flags) {
  if (map == nullptr || keys == nullptr || values == nullptr || count == nullptr) return -EINVAL;
  return guarded(nullptr, [&] { return map->map->update_batch(keys, values, *count, flags); });
}

int ebpf_map_pin(ebpf_map* map, const char* name) {
  if (map == nullptr || name == nullptr) return -EINVAL;
  return guarded(nullptr, [&] { return pin_map(name, map->map).ok() ? 0 : -EEXIST; });
}

int ebpf_map_get_pinned(const char* name, ebpf_map** map) {
  if (name == nullptr || map == nullptr) return -EINVAL;
  return guarded(nullptr, [&] {
    std::shared_ptr<Map> found = pinned_map(name);
    if (found == nullptr) return -ENOENT;
    *map = new ebpf_map{std::move(found)};
    return 0;
  });
}

int ebpf_map_unpin(const char* name) {
  if (name == nullptr) return -EINVAL;
  return guarded(nullptr, [&] { return unpin_map(name).ok() ? 0 : -ENOENT; });
}

int ebpf_vm_add_map(ebpf_vm* vm, ebpf_map* map, uint32_t* index) {
  if (vm == nullptr || map == nullptr) return -EINVAL;
  return guarded(vm, [&] {
    vm->added_maps.push_back(map->map);
    if (index != nullptr) *index = static_cast<uint32_t>(vm->added_maps.size() - 1);
    return vm->succeed();
  });
}

}  // extern "C"
