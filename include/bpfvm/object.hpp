// ELF objects as `clang -O2 -g -target bpf` builds them for Linux with <bpf/bpf_helpers.h>:
// programs (one per function symbol of each program section), bpf-to-bpf subprograms, maps
// (BTF `.maps`, the legacy `maps` section, global data) and the relocations that tie them.
//
// Two steps, as libbpf's bpf_object__open / bpf_object__load:
// - ObjectSpec::parse: a plain description, nothing created. Instructions are already in the
//   form Program::load takes: map references are `lddw` src 1 (BPF_PSEUDO_MAP_FD) with imm =
//   the index into ObjectSpec::maps, global data references src 2 (BPF_PSEUDO_MAP_VALUE) with
//   the offset in the second slot's imm, function addresses src 4 (BPF_PSEUDO_FUNC) and local
//   calls `call` src 1 (BPF_PSEUDO_CALL), both relative to the next instruction, with every
//   subprogram a program reaches appended after it.
// - Object::load: creates the maps, fills global data, loads the programs.
#pragma once

#include <bpfvm/insn.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/program_type.hpp>
#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm {

// The BTF map attribute `__uint(pinning, ...)`: libbpf's enum libbpf_pin_type. Other values
// are kept as they are (iproute2's PIN_GLOBAL_NS is 2, Cilium's loader uses its own bits) and
// pinned by nobody; Object::load pins `by_name` maps only.
enum class MapPinning : std::uint32_t { none = 0, by_name = 1 };

// Where a map of the object comes from.
enum class MapOrigin : std::uint8_t {
  btf,          // a variable in `.maps`, described by BTF
  legacy,       // a struct bpf_map_def in the `maps` section (or `maps/...`)
  global_data,  // .data, .rodata, .bss and their `.name` variants: one-element array maps
};

struct ObjectMap {
  std::string name;     // the symbol; for global data, the section name (".rodata")
  std::string section;  // the ELF section it was described in
  MapOrigin origin = MapOrigin::btf;
  MapSpec spec;  // spec.name == name
  MapPinning pinning = MapPinning::none;
  // Global data: the initial value (the section's bytes; zeros for .bss). Empty otherwise.
  std::vector<std::uint8_t> initial_value;
  // Map-in-map and prog_array slots set in the definition (`.values = { [2] = &inner }`):
  // slot -> the name of a map (map-in-map) or of a program (prog_array).
  std::map<std::uint32_t, std::string> initial_slots;
};

enum class RelocationKind : std::uint8_t {
  map,         // lddw src 1: the map itself (imm = map index)
  map_value,   // lddw src 2: address of the map's value + offset (global data)
  call,        // call src 1: a bpf-to-bpf call (imm = target - insn - 1)
  func,        // lddw src 4: a function address, for callbacks (bpf_loop, for_each_map_elem)
  unresolved,  // call to a function not in the object: poisoned (call poison_helper_id)
  builtin,     // call to memset/memcpy/memmove/memcmp, which the object lacks: a call of
               // bpfvm's built-in function (builtin_helpers.hpp; imm = its id, src 0)
};

// The helper id libbpf writes into an instruction it could not relocate (an unresolved CO-RE
// relocation, a call to a function the object lacks): no helper has it, so a program that
// reaches it cannot load.
inline constexpr std::uint32_t poison_helper_id = 0xbad2310;
std::string_view relocation_kind_name(RelocationKind kind);

// One relocation the loader applied, for listings (`bpfvm object show`) and tests.
struct ObjectRelocation {
  std::size_t insn = 0;  // slot index in ObjectProgram::insns
  RelocationKind kind = RelocationKind::map;
  std::string symbol;         // the symbol the ELF relocation names (or the callee)
  std::size_t map_index = 0;  // map, map_value: index into ObjectSpec::maps
  std::uint64_t offset = 0;   // map_value: offset into the value
  std::size_t target = 0;     // call, func: slot index of the target in the program
};

struct ObjectProgram {
  std::string name;                     // the function symbol (the section name when there is none)
  std::string section;                  // the ELF section, as SEC("...") named it
  ProgramType type = ProgramType::raw;  // from the section name; raw when it names none
  std::uint64_t section_offset = 0;     // byte offset of the function in its section
  std::size_t own_insns = 0;            // slots of the function itself; subprograms follow
  std::vector<Insn> insns;
  std::vector<ObjectRelocation> relocations;
  // Why the program cannot load although the object parsed, "" when it can: it reaches a call
  // to a function the object does not define (the first such relocation, named with its
  // section, offset and symbol). Object::load refuses it; the object's other programs load.
  std::string link_error;
};

struct ObjectSpec {
  std::vector<ObjectProgram> programs;
  std::vector<ObjectMap> maps;
  std::string license;                          // the `license` section, "" when absent
  std::optional<std::uint32_t> kernel_version;  // the `version` section
  // Whether the object carries .BTF. Its CO-RE relocations (.BTF.ext) are not applied:
  // field offsets stay as compiled.
  bool has_btf = false;

  // Errors name the ELF section and the offset or relocation at fault (Error::Kind::parse),
  // or the file (Error::Kind::io).
  static Result<ObjectSpec> parse(std::span<const std::uint8_t> bytes);
  static Result<ObjectSpec> parse_file(const std::string& path);

  const ObjectProgram* program(std::string_view name) const;
  std::optional<std::size_t> map_index(std::string_view name) const;
};

// The program type libbpf's section table gives a SEC() name ("xdp", "kprobe/sys_open",
// "tc", "cgroup/connect4", ...), falling back to the prefixes older loaders accepted
// ("socket1", "xdp_prog"); nullopt when the name names no type.
std::optional<ProgramType> program_type_from_section(std::string_view section);

// The expected_attach_type (enum bpf_attach_type) libbpf loads a SEC() name's program with,
// for the cgroup and socket hooks whose context fields or return values depend on it
// ("cgroup/post_bind4": BPF_CGROUP_INET4_POST_BIND = 12); 0 for every other name.
std::uint32_t attach_type_from_section(std::string_view section);

// Creates one map of the object (Map::create in Object::load; a test double in tests).
using MapFactory = std::function<Result<std::shared_ptr<Map>>(const ObjectMap& map)>;

struct ObjectLoadOptions {
  // Helpers the programs may call (LoadOptions::helpers).
  const HelperRegistry* helpers = nullptr;
  // The type of programs whose section names none (iproute2's tc and cilium load these as
  // sched_cls); raw by default.
  ProgramType unnamed_section_type = ProgramType::raw;
  // Which programs to load (libbpf's bpf_program__set_autoload); every program when empty.
  // A program left out is not loaded: Object::program(name) and program_at give nullptr.
  std::function<bool(const ObjectProgram&)> autoload = nullptr;
  // Calls to memset, memcpy, memmove and memcmp that the object lacks (RelocationKind::builtin)
  // reach bpfvm's built-in functions: Object::load adds them to the helpers the programs get
  // (builtin_helpers.hpp; a function the registry has under the same id is kept). false: such
  // calls are poisoned as Linux's loader leaves them (RelocationKind::unresolved, call
  // poison_helper_id) and their programs get a link error, as ObjectSpec::program shows
  // through Object::spec().
  bool builtin_functions = true;
};

// Loads the programs that can load: those without a link error (ObjectProgram::link_error).
bool autoload_linked(const ObjectProgram& program);

class Object {
 public:
  // Creates every map with Map::create (maps pinned by name are reused when pinned_map has
  // them, pinned otherwise), fills global data, loads every program.
  static Result<Object> load(const ObjectSpec& spec, const ObjectLoadOptions& options = {});
  // The same with the maps made by `create_map`.
  static Result<Object> load(const ObjectSpec& spec, const ObjectLoadOptions& options,
                             const MapFactory& create_map);

  // A program array's slots hold programs, which hold their maps, the array among them: a
  // cycle. As Linux empties a program array when its last user reference goes, destroying the
  // object empties the program arrays it made, unless they are pinned.
  ~Object();
  Object(Object&&) = default;
  Object& operator=(Object&&) = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  const ObjectSpec& spec() const { return *spec_; }
  const std::vector<std::shared_ptr<Map>>& maps() const { return maps_; }
  // The loaded programs in the order of spec().programs: parallel to it when every program is
  // loaded (ObjectLoadOptions::autoload left empty); use program_at otherwise.
  const std::vector<Program>& programs() const { return programs_; }
  // The program of spec().programs[index]; nullptr when it was not loaded or out of range.
  const Program* program_at(std::size_t index) const;

  // By name; nullptr when there is none.
  const Program* program(std::string_view name) const;
  std::shared_ptr<Map> map(std::string_view name) const;

 private:
  Object() = default;
  std::shared_ptr<const ObjectSpec> spec_;
  std::vector<std::shared_ptr<Map>> maps_;
  std::vector<Program> programs_;  // the loaded ones, in spec_->programs order
  // spec_->programs index -> index in programs_, or npos when not loaded.
  std::vector<std::size_t> program_slots_;
};

}  // namespace bpfvm
