// `.kconfig` externs, as libbpf resolves them (bpf_object__collect_externs,
// bpf_object__resolve_kconfig): `extern unsigned int LINUX_KERNEL_VERSION __kconfig;` and
// `extern bool CONFIG_X __kconfig __weak;` are undefined symbols whose BTF VARs sit in a
// DATASEC named ".kconfig". They become one read-only array map ".kconfig" (one element; the
// externs laid out one after the other, each aligned to its size up to 8) that programs reach
// with lddw src 2 (BPF_PSEUDO_MAP_VALUE), filled when the object is parsed:
// - LINUX_KERNEL_VERSION: KERNEL_VERSION(a, b, c) of uname's release, c capped at 255;
// - CONFIG_*: from /proc/config.gz, else /boot/config-$(uname -r): y = 1, m = 2, n = 0 for
//   bool/tristate (enum libbpf_tristate) externs, numbers (decimal or 0x hex) for integers,
//   quoted strings for char arrays (NUL-terminated, truncated to fit);
// - anything the config does not set: zero for __weak externs; a strong one cannot be
//   resolved, and the programs that use it carry a link error naming it (libbpf fails the load).
#include "loader/kconfig.hpp"

#include "helpers/kernel_config.hpp"

#include <bpf/btf.h>
#include <elf.h>
#include <fmt/format.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstring>
#include <map>

namespace bpfvm::loader {
namespace {

const std::map<std::string, std::string>& host_config() { return helpers::host_kernel_config(); }

std::uint32_t host_kernel_version() {
  utsname names{};
  if (uname(&names) != 0) return 0;
  unsigned a = 0, b = 0, c = 0;
  if (std::sscanf(names.release, "%u.%u.%u", &a, &b, &c) < 2) return 0;
  return (a << 16) | (b << 8) | (c > 255 ? 255 : c);
}

// Writes `text` (the config's spelling) into `out` as the extern's BTF type wants it; false
// when the two do not fit (libbpf: "value ... incompatible").
bool encode(const btf* btf, const btf_type* type, std::size_t size, const std::string& text,
            std::uint8_t* out) {
  const btf_type* resolved = type;
  while (resolved != nullptr &&
         (btf_is_typedef(resolved) || btf_is_const(resolved) || btf_is_volatile(resolved)))
    resolved = btf__type_by_id(btf, resolved->type);
  if (resolved == nullptr) return false;
  if (btf_is_array(resolved)) {  // char name[N]: a quoted string
    if (text.size() < 2 || text.front() != '"' || text.back() != '"') return false;
    std::string value = text.substr(1, text.size() - 2);
    std::size_t n = std::min(value.size(), size == 0 ? 0 : size - 1);
    std::memcpy(out, value.data(), n);
    return true;
  }
  std::uint64_t value = 0;
  if (text == "y") {
    value = 1;
  } else if (text == "m") {
    value = 2;  // TRI_MODULE; a plain bool cannot be m
    if (btf_is_int(resolved) && (btf_int_encoding(resolved) & BTF_INT_BOOL)) return false;
  } else if (text == "n") {
    value = 0;
  } else {
    char* end = nullptr;
    value = std::strtoull(text.c_str(), &end, 0);
    if (end == text.c_str() || *end != '\0') {
      long long as_signed = std::strtoll(text.c_str(), &end, 0);
      if (end == text.c_str() || *end != '\0') return false;
      value = static_cast<std::uint64_t>(as_signed);
    }
  }
  if (size > 8) return false;
  std::memcpy(out, &value, size);  // little-endian: the low bytes
  return true;
}

}  // namespace

Status add_kconfig(const ElfFile& file, const struct btf* btf, MapTable& table) {
  if (btf == nullptr) return Ok{};
  std::int32_t datasec_id = btf__find_by_name_kind(btf, ".kconfig", BTF_KIND_DATASEC);
  if (datasec_id <= 0) return Ok{};
  const btf_type* datasec = btf__type_by_id(btf, static_cast<std::uint32_t>(datasec_id));
  const btf_var_secinfo* vars = btf_var_secinfos(datasec);
  std::vector<std::uint8_t> value;
  for (std::uint16_t i = 0; i < btf_vlen(datasec); ++i) {
    const btf_type* var = btf__type_by_id(btf, vars[i].type);
    if (var == nullptr || !btf_is_var(var)) continue;
    const char* name = btf__name_by_offset(btf, var->name_off);
    if (name == nullptr) continue;
    long size = btf__resolve_size(btf, var->type);
    if (size <= 0 || size > 4096)
      return make_error(
          Error::Kind::parse,
          fmt::format("section '.BTF': kconfig extern '{}' has no usable size", name));
    const ElfSymbol* symbol = nullptr;
    for (const ElfSymbol& candidate : file.symbols)
      if (candidate.name == name && candidate.shndx == SHN_UNDEF) symbol = &candidate;
    KconfigExtern entry;
    std::size_t align = size >= 8 ? 8 : size >= 4 ? 4 : size >= 2 ? 2 : 1;
    entry.offset = (value.size() + align - 1) / align * align;
    value.resize(entry.offset + static_cast<std::size_t>(size), 0);
    std::uint8_t* out = value.data() + entry.offset;
    const btf_type* type = btf__type_by_id(btf, var->type);
    bool weak = symbol != nullptr && symbol->bind == STB_WEAK;
    std::string key = name;
    if (key == "LINUX_KERNEL_VERSION") {
      std::uint32_t version = host_kernel_version();
      std::memcpy(out, &version, std::min<std::size_t>(4, static_cast<std::size_t>(size)));
    } else if (auto found = host_config().find(key); found != host_config().end()) {
      if (!encode(btf, type, static_cast<std::size_t>(size), found->second, out))
        entry.error = fmt::format("kconfig extern '{}': the value '{}' does not fit its type", key,
                                  found->second);
    } else if (!weak) {
      entry.error = fmt::format(
          "kconfig extern '{}' is not set in the host's kernel config (declare it __weak to get "
          "0)",
          key);
    }
    table.kconfig[key] = entry;
  }
  if (table.kconfig.empty()) return Ok{};
  ObjectMap map;
  map.name = ".kconfig";
  map.section = ".kconfig";
  map.origin = MapOrigin::global_data;
  map.spec.type = MapType::array;
  map.spec.key_size = sizeof(std::uint32_t);
  map.spec.value_size = static_cast<std::uint32_t>(std::max<std::size_t>(value.size(), 1));
  map.spec.max_entries = 1;
  map.spec.flags = map_flag::rdonly_prog;
  map.spec.name = map.name;
  value.resize(map.spec.value_size, 0);
  map.initial_value = std::move(value);
  table.kconfig_map = table.maps.size();
  // No section holds it: section 0 (SHN_UNDEF) never names global data.
  table.add(std::move(map), {0, 0, 0, std::nullopt});
  return Ok{};
}

}  // namespace bpfvm::loader
