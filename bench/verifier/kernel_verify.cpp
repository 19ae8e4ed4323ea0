#include "kernel_verify.hpp"

#include <bpf/bpf.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace bpfvm;

// Map fds per object, created on first use and kept to the end of the run; -1 where the
// kernel refused the map.
std::vector<int>& kernel_maps(const ObjectSpec& spec) {
  static std::map<const ObjectSpec*, std::vector<int>> cache;
  auto [it, inserted] = cache.try_emplace(&spec);
  if (!inserted) return it->second;
  for (const ObjectMap& map : spec.maps) {
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = map.spec.flags);
    int fd = bpf_map_create(static_cast<bpf_map_type>(map.spec.type), nullptr, map.spec.key_size,
                            map.spec.value_size, map.spec.max_entries, &opts);
    it->second.push_back(fd < 0 ? -1 : fd);
  }
  return it->second;
}

}  // namespace

std::optional<double> kernel_verification_seconds(const ObjectSpec& spec, std::size_t index) {
  auto verification = kernel_verification(spec, index);
  if (!verification) return std::nullopt;
  return verification->seconds;
}

std::optional<KernelVerification> kernel_verification(const ObjectSpec& spec, std::size_t index,
                                                      std::optional<ProgramType> untyped) {
  const ObjectProgram& program = spec.programs[index];
  ProgramType type = program.type;
  if (type == ProgramType::raw && untyped) type = *untyped;
  if (type == ProgramType::raw) return std::nullopt;  // no such Linux type
  std::vector<int>& maps = kernel_maps(spec);
  std::vector<Insn> insns = program.insns;
  for (std::size_t i = 0; i + 1 < insns.size(); ++i) {
    Insn& insn = insns[i];
    // lddw src 1 (BPF_PSEUDO_MAP_FD) and src 2 (BPF_PSEUDO_MAP_VALUE): imm is the map's index.
    if (insn.opcode != 0x18) continue;
    if (insn.src == 1 || insn.src == 2) {
      auto map = static_cast<std::size_t>(insn.imm);
      if (map >= maps.size() || maps[map] < 0) return std::nullopt;
      insn.imm = maps[map];
    }
    ++i;
  }
  std::vector<char> log(1 << 20);
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_level = 4, .log_size = static_cast<__u32>(log.size()),
              .log_buf = log.data());
  if (spec.kernel_version) opts.kern_version = *spec.kernel_version;
  std::string license = spec.license.empty() ? "GPL" : spec.license;
  int fd = bpf_prog_load(static_cast<bpf_prog_type>(type), nullptr, license.c_str(),
                         reinterpret_cast<const bpf_insn*>(insns.data()), insns.size(), &opts);
  if (fd < 0) return std::nullopt;
  ::close(fd);
  const char* found = std::strstr(log.data(), "verification time ");
  if (found == nullptr) return std::nullopt;
  KernelVerification out;
  out.seconds = std::strtod(found + std::strlen("verification time "), nullptr) / 1e6;
  // "processed 1234 insns (limit 1000000) max_states_per_insn ..." (log_level BPF_LOG_STATS)
  if (const char* processed = std::strstr(log.data(), "processed "))
    out.insns_processed = std::strtoull(processed + std::strlen("processed "), nullptr, 10);
  return out;
}
