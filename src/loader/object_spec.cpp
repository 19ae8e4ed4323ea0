// ObjectSpec::parse: ELF -> maps (legacy, BTF, global data, in libbpf's order) -> programs.
#include <bpfvm/object.hpp>

#include "loader/elf_file.hpp"
#include "loader/functions.hpp"
#include "loader/kconfig.hpp"
#include "loader/linker.hpp"
#include "loader/map_checks.hpp"
#include "loader/map_table.hpp"

#include <bpf/btf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

namespace bpfvm {
namespace {

struct BtfDeleter {
  void operator()(struct btf* btf) const { btf__free(btf); }
};
using BtfPtr = std::unique_ptr<struct btf, BtfDeleter>;

Result<BtfPtr> parse_btf(const loader::ElfFile& file) {
  const loader::ElfSection* section = file.find_section(".BTF");
  if (section == nullptr) return BtfPtr{};
  if (section->data.empty() || section->data.size() > UINT32_MAX)
    return make_error(Error::Kind::parse, "section '.BTF': empty or too large");
  struct btf* btf =
      btf__new(section->data.data(), static_cast<std::uint32_t>(section->data.size()));
  if (btf == nullptr)  // libbpf 1.x: NULL and errno
    return make_error(Error::Kind::parse,
                      fmt::format("section '.BTF': malformed BTF ({})", std::strerror(errno)));
  return BtfPtr(btf);
}

void read_license_and_version(const loader::ElfFile& file, ObjectSpec& spec) {
  if (const loader::ElfSection* license = file.find_section("license")) {
    const auto& data = license->data;
    auto end = std::find(data.begin(), data.end(), std::uint8_t{0});
    spec.license.assign(data.begin(), end);
  }
  if (const loader::ElfSection* version = file.find_section("version")) {
    if (version->data.size() == sizeof(std::uint32_t))
      spec.kernel_version = loader::read_u32_le(version->data);
  }
}

}  // namespace

Result<ObjectSpec> ObjectSpec::parse(std::span<const std::uint8_t> bytes) {
  auto file = loader::ElfFile::parse(bytes);
  if (!file) return file.error();
  auto btf = parse_btf(*file);
  if (!btf) return btf.error();

  loader::MapTable maps;
  Status status = loader::add_legacy_maps(*file, maps);
  if (status) status = loader::add_btf_maps(*file, btf->get(), maps);
  if (status) status = loader::add_global_data(*file, maps);
  if (status) status = loader::add_kconfig(*file, btf->get(), maps);
  if (status) status = loader::add_initial_slots(*file, maps);
  if (!status) return status.error();

  auto code = loader::collect_code(*file);
  if (!code) return code.error();
  auto programs = loader::link_programs(*file, *code, maps);
  if (!programs) return programs.error();

  ObjectSpec spec;
  spec.programs = std::move(*programs);
  spec.maps = std::move(maps.maps);
  spec.has_btf = btf->get() != nullptr;
  read_license_and_version(*file, spec);
  return spec;
}

Result<ObjectSpec> ObjectSpec::parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Error::Kind::io, fmt::format("{}: cannot open", path));
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (in.bad()) return make_error(Error::Kind::io, fmt::format("{}: read error", path));
  return parse(bytes);
}

const ObjectProgram* ObjectSpec::program(std::string_view name) const {
  for (const ObjectProgram& program : programs)
    if (program.name == name) return &program;
  return nullptr;
}

std::optional<std::size_t> ObjectSpec::map_index(std::string_view name) const {
  for (std::size_t i = 0; i < maps.size(); ++i)
    if (maps[i].name == name) return i;
  return std::nullopt;
}

std::string_view relocation_kind_name(RelocationKind kind) {
  switch (kind) {
    case RelocationKind::map: return "map";
    case RelocationKind::map_value: return "map_value";
    case RelocationKind::call: return "call";
    case RelocationKind::func: return "func";
    case RelocationKind::unresolved: return "unresolved";
    case RelocationKind::builtin: return "builtin";
  }
  return "unknown";
}

}  // namespace bpfvm
