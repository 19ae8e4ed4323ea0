// Maps defined in `.maps` with BTF, as <bpf/bpf_helpers.h> writes them:
//   __uint(name, N)    int (*name)[N]        a number, carried by an array's length
//   __type(name, T)    typeof(T) *name       a type, whose size is the key or value size
//   __array(name, T)   typeof(T) *name[]     inner map definitions (map-in-map) or program
//                                            prototypes (prog_array)
// Fields as libbpf's parse_btf_map_def(): type, max_entries, map_flags, numa_node, key_size,
// key, value_size, value, values, pinning, map_extra.
#include "loader/map_checks.hpp"
#include "loader/map_table.hpp"

#include <bpf/btf.h>
#include <elf.h>
#include <fmt/format.h>

namespace bpfvm::loader {
namespace {

// Typedefs, const, volatile, restrict and type tags chain at most this deep in sane BTF.
constexpr int max_modifier_depth = 32;

struct BtfMapContext {
  const struct btf* btf;
  std::string where;  // "section '.maps': map 'name'"
};

Error btf_error(const BtfMapContext& context, std::string what) {
  return make_error(Error::Kind::parse, fmt::format("{}: {}", context.where, what));
}

const btf_type* skip_modifiers(const struct btf* btf, std::uint32_t id, std::uint32_t* out_id) {
  const btf_type* type = btf__type_by_id(btf, id);
  for (int depth = 0; type != nullptr && depth < max_modifier_depth; ++depth) {
    if (!btf_is_mod(type) && !btf_is_typedef(type)) {
      if (out_id != nullptr) *out_id = id;
      return type;
    }
    id = type->type;
    type = btf__type_by_id(btf, id);
  }
  return nullptr;
}

// __uint(name, N): a pointer to an array of N ints.
Result<std::uint32_t> uint_field(const BtfMapContext& context, const btf_member& member,
                                 std::string_view name) {
  const btf_type* ptr = skip_modifiers(context.btf, member.type, nullptr);
  if (ptr == nullptr || !btf_is_ptr(ptr))
    return btf_error(context, fmt::format("field '{}' is not __uint() (a pointer)", name));
  const btf_type* array = skip_modifiers(context.btf, ptr->type, nullptr);
  if (array == nullptr || !btf_is_array(array))
    return btf_error(context, fmt::format("field '{}' is not __uint() (an array)", name));
  return btf_array(array)->nelems;
}

// __type(name, T): a pointer to T; gives T's size.
Result<std::uint32_t> type_size_field(const BtfMapContext& context, const btf_member& member,
                                      std::string_view name) {
  const btf_type* ptr = skip_modifiers(context.btf, member.type, nullptr);
  if (ptr == nullptr || !btf_is_ptr(ptr))
    return btf_error(context, fmt::format("field '{}' is not __type() (a pointer)", name));
  long long size = btf__resolve_size(context.btf, ptr->type);
  if (size < 0 || size > UINT32_MAX)
    return btf_error(context, fmt::format("field '{}': the size of type {} cannot be resolved",
                                          name, ptr->type));
  return static_cast<std::uint32_t>(size);
}

Status set_size(const BtfMapContext& context, std::uint32_t& field, std::uint32_t value,
                std::string_view name) {
  if (field != 0 && field != value)
    return btf_error(context, fmt::format("{} is {} and {} at once", name, field, value));
  field = value;
  return Ok{};
}

struct ParsedDef {
  ObjectMap map;
  std::optional<std::uint64_t> values_offset;
};

Result<ParsedDef> parse_definition(const BtfMapContext& context, std::uint32_t struct_id,
                                   bool inner, int depth);

// __array(values, T): T is an inner map definition (struct) or a function prototype.
Status parse_values(const BtfMapContext& context, const btf_member& member, ParsedDef& def,
                    int depth) {
  const btf_type* array = skip_modifiers(context.btf, member.type, nullptr);
  if (array == nullptr || !btf_is_array(array))
    return btf_error(context, "field 'values' is not __array() (an array)");
  const btf_type* ptr = skip_modifiers(context.btf, btf_array(array)->type, nullptr);
  if (ptr == nullptr || !btf_is_ptr(ptr))
    return btf_error(context, "field 'values' is not __array() (an array of pointers)");
  std::uint32_t target_id = 0;
  const btf_type* target = skip_modifiers(context.btf, ptr->type, &target_id);
  if (target == nullptr)
    return btf_error(context, "field 'values': the element type cannot be resolved");
  if (btf_is_func_proto(target)) {
    if (def.map.spec.type != MapType::prog_array)
      return btf_error(context, "field 'values' holds programs, but the map is no prog_array");
    return Ok{};
  }
  if (!btf_is_struct(target))
    return btf_error(context, "field 'values' is neither map definitions nor programs");
  if (!is_map_of_maps(def.map.spec.type))
    return btf_error(context, "field 'values' holds maps, but the map is no map-of-maps");
  if (depth > 0) return btf_error(context, "an inner map cannot have inner maps of its own");
  BtfMapContext inner_context{context.btf, context.where + " (inner map)"};
  auto inner = parse_definition(inner_context, target_id, true, depth + 1);
  if (!inner) return inner.error();
  inner->map.spec.name = def.map.name + ".inner";
  def.map.spec.inner = std::make_shared<MapSpec>(inner->map.spec);
  return Ok{};
}

Result<ParsedDef> parse_definition(const BtfMapContext& context, std::uint32_t struct_id,
                                   bool inner, int depth) {
  const btf_type* def_type = skip_modifiers(context.btf, struct_id, nullptr);
  if (def_type == nullptr || !btf_is_struct(def_type))
    return btf_error(context, "the definition is not a struct");
  ParsedDef def;
  MapSpec& spec = def.map.spec;
  const btf_member* members = btf_members(def_type);
  std::optional<std::size_t> values_member;
  for (std::uint16_t i = 0; i < btf_vlen(def_type); ++i) {
    const btf_member& member = members[i];
    const char* raw_name = btf__name_by_offset(context.btf, member.name_off);
    std::string_view name = raw_name != nullptr ? raw_name : "";
    if (name == "values") {
      values_member = i;
      continue;  // once the type is known
    }
    bool is_type = name == "key" || name == "value";
    auto value =
        is_type ? type_size_field(context, member, name) : uint_field(context, member, name);
    if (!value) return value.error();
    if (name == "type") {
      if (!known_map_type(*value))
        return btf_error(context, fmt::format("unknown map type {}", *value));
      spec.type = static_cast<MapType>(*value);
    } else if (name == "max_entries") {
      spec.max_entries = *value;
    } else if (name == "map_flags") {
      spec.flags = *value;
    } else if (name == "numa_node") {
      // NUMA placement means nothing here.
    } else if (name == "key_size" || name == "key") {
      Status status = set_size(context, spec.key_size, *value, "key_size");
      if (!status) return status.error();
    } else if (name == "value_size" || name == "value") {
      Status status = set_size(context, spec.value_size, *value, "value_size");
      if (!status) return status.error();
    } else if (name == "pinning") {
      if (inner) return btf_error(context, "an inner map cannot be pinned");
      def.map.pinning = static_cast<MapPinning>(*value);
    } else if (name == "map_extra") {
      spec.map_extra = *value;
    } else {
      return btf_error(context, fmt::format("unknown field '{}'", name));
    }
  }
  if (spec.type == MapType::unspec) return btf_error(context, "no map type (__uint(type, ...))");
  // A ring buffer has no keys or values; bpf_helpers.h users still write __type(value, ...)
  // for documentation, which BPF_MAP_CREATE would refuse (cilium/ebpf drops it the same way).
  if (spec.type == MapType::ringbuf) spec.key_size = spec.value_size = 0;
  if (values_member) {
    const btf_member& member = members[*values_member];
    Status status = parse_values(context, member, def, depth);
    if (!status) return status.error();
    def.values_offset = btf_member_bit_offset(def_type, *values_member) / 8;
  }
  // Map-in-map and prog_array values are ids, 4 bytes (libbpf sets them when `values` is
  // given; the kernel requires them).
  if ((is_map_of_maps(spec.type) || spec.type == MapType::prog_array) && spec.value_size == 0)
    spec.value_size = sizeof(std::uint32_t);
  if (is_map_of_maps(spec.type) && !spec.inner)
    return btf_error(context, "a map-of-maps needs its inner map: __array(values, ...)");
  return def;
}

}  // namespace

Status add_btf_maps(const ElfFile& file, const struct btf* btf, MapTable& table) {
  const ElfSection* section = file.find_section(".maps");
  if (section == nullptr) return Ok{};
  if (btf == nullptr)
    return make_error(Error::Kind::parse,
                      "section '.maps': BTF map definitions need a .BTF section");
  int datasec_id = btf__find_by_name_kind(btf, ".maps", BTF_KIND_DATASEC);
  if (datasec_id < 0)
    return make_error(Error::Kind::parse, "section '.maps': .BTF has no DATASEC '.maps'");
  const btf_type* datasec = btf__type_by_id(btf, datasec_id);
  const btf_var_secinfo* vars = btf_var_secinfos(datasec);
  for (std::uint16_t i = 0; i < btf_vlen(datasec); ++i) {
    const btf_type* var = btf__type_by_id(btf, vars[i].type);
    if (var == nullptr || !btf_is_var(var))
      return make_error(Error::Kind::parse,
                        fmt::format("section '.maps': DATASEC entry {} is not a variable", i));
    const char* raw_name = btf__name_by_offset(btf, var->name_off);
    std::string name = raw_name != nullptr ? raw_name : "";
    // The ELF symbol says where the definition is; BTF from clang may leave offsets at 0.
    const ElfSymbol* symbol = nullptr;
    for (const ElfSymbol& candidate : file.symbols)
      if (candidate.shndx == section->index && candidate.name == name &&
          candidate.type != STT_SECTION)
        symbol = &candidate;
    std::uint64_t offset = symbol != nullptr ? symbol->value : vars[i].offset;
    BtfMapContext context{btf, fmt::format("section '.maps': map '{}'", name)};
    auto def = parse_definition(context, var->type, false, 0);
    if (!def) return def.error();
    long long size = btf__resolve_size(btf, var->type);
    // `values` is a flexible array: initialised slots lie past the struct's BTF size.
    if (symbol != nullptr && static_cast<long long>(symbol->size) > size)
      size = static_cast<long long>(symbol->size);
    if (size <= 0 || offset > section->size ||
        static_cast<std::uint64_t>(size) > section->size - offset)
      return btf_error(
          context, fmt::format("the definition at offset {:#x} is outside the section", offset));
    ObjectMap& map = def->map;
    map.name = name;
    map.section = section->name;
    map.origin = MapOrigin::btf;
    map.spec.name = name;
    table.add(std::move(map),
              {section->index, offset, static_cast<std::uint64_t>(size), def->values_offset});
  }
  return Ok{};
}

}  // namespace bpfvm::loader
