#include "verifier/ebpf_samples.hpp"

#include <bpfvm/object_verify.hpp>

#include "support/message_reason.hpp"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>

namespace bpfvm::testing {

std::optional<std::filesystem::path> ebpf_samples_root() {
  std::filesystem::path root = std::filesystem::path(BPFVM_ANCHORS_DIR) / "ebpf-samples";
  if (!std::filesystem::is_regular_file(root / "expected-prevail.tsv")) return std::nullopt;
  return root;
}

Result<std::vector<SampleRow>> read_expected_prevail(const std::filesystem::path& root) {
  std::ifstream in(root / "expected-prevail.tsv");
  if (!in) return make_error(Error::Kind::io, "cannot open expected-prevail.tsv");
  std::vector<SampleRow> rows;
  std::string line;
  bool header_seen = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream split(line);
    for (std::string field; std::getline(split, field, '\t');) fields.push_back(field);
    if (!header_seen) {  // project object section function programs_in_section status ...
      header_seen = true;
      continue;
    }
    if (fields.size() < 6)
      return make_error(Error::Kind::parse, "expected-prevail.tsv: short row: " + line);
    rows.push_back({fields[0], fields[1], fields[2], fields[3], fields[5],
                    fields.size() > 8 ? fields[8] : ""});
  }
  return rows;
}

std::string SampleVerdict::reason() const {
  if (load_error) return "load: " + test::reason_of(*load_error);
  if (result.error) return test::reason_of(result.error->reason);
  return "";
}

const ObjectProgram* find_sample(const ObjectSpec& spec, const SampleRow& row) {
  const ObjectProgram* only = nullptr;
  std::size_t in_section = 0;
  for (const ObjectProgram& program : spec.programs) {
    if (program.section != row.section) continue;
    if (program.name == row.function) return &program;
    only = &program;
    ++in_section;
  }
  // PREVAIL names the program of a section holding one after the section ("2/1", "xdp"),
  // where bpfvm names it after its function symbol.
  return in_section == 1 ? only : nullptr;
}

SampleVerdict verify_sample(const Result<ObjectSpec>& spec, const SampleRow& row,
                            std::optional<std::uint64_t> budget) {
  SampleVerdict verdict;
  if (!spec) {
    verdict.load_error = spec.error().message;
    return verdict;
  }
  const ObjectProgram* program = find_sample(*spec, row);
  if (program == nullptr) {
    // PREVAIL verifies every function of .text on its own; bpfvm, as libbpf, loads them only
    // as subprograms of the programs that call them.
    verdict.load_error = fmt::format("no program '{}' in section '{}'{}", row.function, row.section,
                                     row.section == ".text" ? " (a subprogram for bpfvm)" : "");
    return verdict;
  }
  return verify_program(*spec, static_cast<std::size_t>(program - spec->programs.data()),
                        untyped_section_type(row.project, row.object), budget);
}

std::optional<ProgramType> untyped_section_type(const std::string& project,
                                                const std::string& object) {
  const bool cilium =
      project == "cilium" || project == "cilium-core" || project == "bpf_cilium_test";
  // cilium attaches bpf_xdp*.o with `ip link set dev D xdp obj F sec from-netdev`, which
  // loads every section of the object (its tail calls too) as XDP (PREVAIL's platform also
  // types cilium objects by "xdp" in the file name).
  if (cilium && object.find("xdp") != std::string::npos) return ProgramType::xdp;
  if (cilium || project == "ovs") return ProgramType::sched_cls;
  // Objects of other folders by how their own loaders load them (PREVAIL's linux platform
  // makes every untyped section a socket_filter, whatever loads it):
  // - tc: samples/bpf/tc_l2_redirect.sh, tcbpf1's and test_cgrp2_tc.sh's
  //   `tc filter add ... bpf da obj X.o sec S`, prototype-kernel's tc_bench01_redirect.sh;
  if ((project == "linux" && (object == "tc_l2_redirect_kern.o" || object == "tcbpf1_kern.o" ||
                              object == "test_cgrp2_tc_kern.o")) ||
      (project == "prototype-kernel" && object == "tc_bench01_redirect_kern.o"))
    return ProgramType::sched_cls;
  // - lwt: samples/bpf/lwt_len_hist.sh, `ip route add ... encap bpf out obj
  //   lwt_len_hist_kern.o section len_hist` (BPF_PROG_TYPE_LWT_OUT);
  if (project == "linux" && object == "lwt_len_hist_kern.o") return ProgramType::lwt_out;
  // - suricata's util-ebpf.c sets every program of its filter and load-balancing objects
  //   to a socket filter (bpf_program__set_socket_filter) for AF_PACKET (SO_ATTACH_BPF,
  //   PACKET_FANOUT_EBPF); its XDP object names its section.
  if (project == "suricata") return ProgramType::socket_filter;
  return std::nullopt;
}

SampleVerdict verify_program(const ObjectSpec& spec, std::size_t index,
                             std::optional<ProgramType> untyped,
                             std::optional<std::uint64_t> budget) {
  SampleVerdict verdict;
  auto helpers = object_program_helpers(spec, index);
  if (!helpers) {
    verdict.load_error = helpers.error().message;
    return verdict;
  }
  const ObjectProgram& program = spec.programs[index];
  verdict.insns = program.insns.size();
  auto start = std::chrono::steady_clock::now();
  verifier::VerifyOptions options = verify_options_for(spec, index, &*helpers);
  if (untyped && program.type == ProgramType::raw) options.type = *untyped;
  if (budget) options.budget = *budget;
  verdict.result = verifier::verify(program.insns, options);
  verdict.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return verdict;
}

}  // namespace bpfvm::testing
