// The ebpf-samples corpus (../shared/anchors/ebpf-samples) as the verifier's corpus test and
// benchmark walk it: the programs expected-prevail.tsv lists with PREVAIL's verdict, each
// found in its parsed object and verified with the options `bpfvm verify` uses.
#pragma once

#include <bpfvm/object.hpp>
#include <bpfvm/result.hpp>
#include <bpfvm/verifier.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::testing {

// One row of expected-prevail.tsv.
struct SampleRow {
  std::string project;  // the folder
  std::string object;   // the file in it
  std::string section;
  std::string function;
  std::string status;  // pass, reject, expected_failure, reject_load
  std::string intent;  // "unsafe: ...", "safe", "" (a real-world program, assumed safe)

  bool prevail_passes() const { return status == "pass"; }
  // Rejection is the right answer: PREVAIL's `reject`/`reject_load`, or an intent the
  // sources document as unsafe.
  bool must_reject() const {
    return status == "reject" || status == "reject_load" || intent.rfind("unsafe:", 0) == 0;
  }
};

// The corpus folder, or nullopt when it is absent (tests skip, saying so).
std::optional<std::filesystem::path> ebpf_samples_root();

// The rows of expected-prevail.tsv (comments and the header left out), in file order.
Result<std::vector<SampleRow>> read_expected_prevail(const std::filesystem::path& root);

// One listed program, verified.
struct SampleVerdict {
  // Set when the program could not be verified at all: the object does not parse, or has no
  // program of that section and function.
  std::optional<std::string> load_error;
  verifier::VerifyResult result;  // when loaded
  double seconds = 0;             // verification time
  std::size_t insns = 0;          // instruction slots, subprograms included
  bool accepted() const { return !load_error && result.ok(); }
  // The first reason the program was refused, for grouping ("" when accepted).
  std::string reason() const;
};

// The program of `spec` a row names (function and section), or nullptr.
const ObjectProgram* find_sample(const ObjectSpec& spec, const SampleRow& row);

// Verifies the row's program of `spec` (a parse failure passed as `spec`'s error). `budget`,
// when given, replaces the default budget of processed instructions.
SampleVerdict verify_sample(const Result<ObjectSpec>& spec, const SampleRow& row,
                            std::optional<std::uint64_t> budget = std::nullopt);

// The type a program gets when its section names none (the loader gives it raw): the type
// its own loader gives it. The folders of objects tc loads (cilium's "2/7", "from-netdev",
// ovs's "tail-3") get sched_cls, cilium's XDP objects (bpf_xdp*.o) xdp, as `tc filter add ... bpf
// obj X.o sec S` loads every section; so do the tc samples of linux and prototype-kernel;
// lwt_len_hist lwt_out; suricata's socket filters socket_filter; others none (build/'s test
// programs stay raw). (PREVAIL's linux platform gives untyped sections socket_filter, cilium's by
// file name.)
std::optional<ProgramType> untyped_section_type(const std::string& project,
                                                const std::string& object = {});

// Verifies program `index` of `spec` as `bpfvm verify --type UNTYPED` does: `untyped` is the
// type of a program whose section names none.
SampleVerdict verify_program(const ObjectSpec& spec, std::size_t index,
                             std::optional<ProgramType> untyped = std::nullopt,
                             std::optional<std::uint64_t> budget = std::nullopt);

}  // namespace bpfvm::testing
