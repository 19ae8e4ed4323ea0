// loader_fuzz: bytes -> ObjectSpec::parse (libelf, libbpf's BTF, our maps, functions and
// relocations). A parse either fails with an error or gives programs whose relocated form
// keeps the invariants Program::load relies on; both are checked, nothing may crash or hang.
#include <bpfvm/object.hpp>

#include <bpf/libbpf.h>

#include <cstdint>
#include <cstdlib>
#include <span>

namespace {

int quiet(enum libbpf_print_level, const char*, va_list) { return 0; }

void check(const bpfvm::ObjectSpec& spec) {
  for (const bpfvm::ObjectProgram& program : spec.programs) {
    if (program.own_insns == 0 || program.own_insns > program.insns.size()) std::abort();
    for (const bpfvm::ObjectRelocation& relocation : program.relocations) {
      if (relocation.insn >= program.insns.size()) std::abort();
      bool uses_map = relocation.kind == bpfvm::RelocationKind::map ||
                      relocation.kind == bpfvm::RelocationKind::map_value;
      if (uses_map && relocation.map_index >= spec.maps.size()) std::abort();
      if (!uses_map && relocation.target >= program.insns.size()) std::abort();
    }
  }
  for (const bpfvm::ObjectMap& map : spec.maps)
    if (map.origin == bpfvm::MapOrigin::global_data &&
        map.initial_value.size() != map.spec.value_size)
      std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  libbpf_set_print(quiet);  // libbpf's BTF parser warns on stderr about every bad input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto spec = bpfvm::ObjectSpec::parse(std::span<const std::uint8_t>(data, size));
  if (spec)
    check(*spec);
  else if (spec.error().message.empty())
    std::abort();
  return 0;
}
