#include <bpfvm/object_verify.hpp>
#include <bpfvm/progtypes.hpp>

#include <cassert>

namespace bpfvm {

Result<HelperRegistry> object_program_helpers(const ObjectSpec& spec, std::size_t program) {
  assert(program < spec.programs.size());
  return program_helpers(spec.programs[program].type);
}

verifier::VerifyOptions verify_options_for(const ObjectSpec& spec, std::size_t program,
                                           const HelperRegistry* helpers) {
  assert(program < spec.programs.size());
  verifier::VerifyOptions options;
  options.type = spec.programs[program].type;
  // As libbpf loads it: the hook its section names decides which context fields it may read
  // (bpf_sock's src_ip4 for post_bind4) and the return range (cgroup_skb egress).
  options.expected_attach_type = attach_type_from_section(spec.programs[program].section);
  options.helpers = helpers;
  // Linux checks calls to helpers bpfvm lacks against their prototypes too: an object meant
  // for the kernel is judged whole, even where bpfvm could not run every call yet.
  options.linux_prototypes = true;
  // The loader numbers maps by their place in ObjectSpec::maps and writes that number into
  // the imm of every `lddw` src 1 (BPF_PSEUDO_MAP_FD) and src 2 (BPF_PSEUDO_MAP_VALUE), as
  // Object::load passes them to LoadOptions::maps.
  options.maps.reserve(spec.maps.size());
  for (const ObjectMap& map : spec.maps) options.maps.push_back(map.spec);
  return options;
}

}  // namespace bpfvm
