// The maps, map contents and pseudo instructions of verifier cases (docs/verifier.md,
// "Cases as data"), shared by the case runner and the kernel comparison:
//
//   @map TYPE key=K value=V entries=N [rdonly] [wronly] [inner=I] [name=NAME]
//       declares map number 0, 1, ... in order (TYPE as map_type_name: array, hash,
//       ringbuf, queue, array_of_maps, ...; inner=I: the inner spec is map I's)
//   @contents I HEX      entry 0 of map I (an array) holds these bytes (frozen, for const_str)
//   @helpers linux       calls reach linux_helpers() (implied by any @map)
//   @helpers prototypes  calls to helpers bpfvm does not implement are checked against
//                        Linux's prototypes (VerifyOptions::linux_prototypes); verified
//                        only, never run (the kernel comparison is their oracle)
//
//   ldmap %rN, I         lddw %rN with src 1 (BPF_PSEUDO_MAP_FD): map I
//   ldmapval %rN, I, OFF lddw %rN with src 2 (BPF_PSEUDO_MAP_VALUE): map I's value + OFF
//   ldfunc %rN, LABEL    lddw %rN with src 4 (BPF_PSEUDO_FUNC): the function at LABEL
//   ldpseudo %rN, SRC, IMM, IMM2  any lddw src with raw immediates (for unsafe cases)
#pragma once

#include <bpfvm/insn.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/result.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bpfvm::verifier::testing {

struct CaseMaps {
  std::vector<MapSpec> specs;
  std::vector<std::vector<std::uint8_t>> contents;  // per map, empty when not given
  bool linux_helpers = false;
  bool linux_prototypes = false;  // @helpers prototypes
};

// Consumes a `@map`, `@contents` or `@helpers` line: nothing when it is not one, else
// whether it parsed (an error names what is wrong).
Result<bool> parse_map_directive(std::string_view line, CaseMaps& maps);

// The case's program with the pseudo instructions above resolved.
Result<std::vector<Insn>> assemble_case(std::string_view source);

// Small mutants of a program, each with what changed: every memory access moved by a few
// bytes, every `mov rX, imm` and conditional jump's immediate changed a little, every
// map value lddw's offset moved.
std::vector<std::pair<std::vector<Insn>, std::string>> case_mutants(
    const std::vector<Insn>& original);

// Real maps for a run (Map::create), contents written to entry 0.
Result<std::vector<std::shared_ptr<Map>>> create_maps(const CaseMaps& maps);

}  // namespace bpfvm::verifier::testing
