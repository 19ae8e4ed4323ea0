// The verifier (docs/verifier.md): proves an eBPF program safe before it runs, in the style
// of the Linux verifier (kernel/bpf/verifier.c, bpf_check): the control-flow checks, then a
// path-sensitive exploration of every path from instruction 0 with abstract registers and
// stack, refined at every conditional jump, pruned where a state already proven safe
// includes the new one. A program it accepts may run in MemoryMode::unchecked.
#pragma once

#include <bpfvm/helper.hpp>
#include <bpfvm/insn.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/program_type.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bpfvm::verifier {

struct VerifyOptions {
  // The program type: its context (what r1 points at and which fields may be read or
  // written, packet pointers included), the helpers it may call, the return values it may
  // give. raw: r1 is memory of r2 bytes, a length known only at run time, unless
  // context_size says otherwise.
  ProgramType type = ProgramType::raw;
  // raw programs only: with a size here r1 is a context of exactly that many bytes (and r2
  // that constant): loads and stores at constant offsets within it are accepted. Without
  // one, no access through r1 can be proven and every one is rejected.
  std::optional<std::size_t> context_size;
  bool context_writable = true;
  // Linux's expected_attach_type (enum bpf_attach_type): only the return value ranges of
  // cgroup_skb (egress: [0, 3]) and cgroup_sock_addr (bind: [0, 3], recvmsg and
  // getpeername/getsockname: [1, 1]) depend on it. 0 is what Linux assumes when none is given.
  std::uint32_t expected_attach_type = 0;
  // The helpers `call imm` may reach, checked against their prototypes (helper_call.hpp).
  // Null: every helper call is rejected.
  const HelperRegistry* helpers = nullptr;
  // Calls to ids `helpers` does not have are checked against Linux's own prototype for that
  // id (the table of every Linux helper): for programs meant for the kernel, or objects
  // bpfvm cannot run yet. Off: such calls are rejected.
  bool linux_prototypes = false;
  // The maps `lddw` pseudo sources name, indexed by the instruction's imm as
  // LoadOptions::maps is (src 1/5 a map, src 2/6 a pointer into its value). Only the shapes
  // are needed, no map is created.
  std::vector<MapSpec> maps = {};
  // The frozen value (entry 0) of read-only single-entry array maps, indexed as `maps`
  // (empty for the others): what a const_str argument (snprintf's format, strncmp's
  // string) points into must hold a NUL, and only these bytes show it (Linux reads the
  // frozen map, check_reg_const_str).
  std::vector<std::vector<std::uint8_t>> map_contents = {};
  // Processed instructions before giving up (Linux: BPF_COMPLEXITY_LIMIT_INSNS).
  std::uint64_t budget = 1'000'000;
  // Keep a per-instruction log of states like the kernel's verbose log (log_level 2).
  bool log = false;
  // States cached per instruction and in all (listed at once: states evicted after
  // repeated misses no longer count), to bound memory; past either no more are kept
  // (pruning only gets weaker, never unsound). Linux caps a list at 64 states
  // (BPF_COMPLEXITY_LIMIT_STATES) only for unprivileged loaders; 1024 lets a loop run its
  // ~1000 distinct iterations as root's verifier does.
  std::size_t max_states_per_insn = 1024;
  std::size_t max_states = 16384;
};

struct VerifyStats {
  std::uint64_t insns_processed = 0;  // Linux: "processed N insns"
  std::size_t states_kept = 0;        // states cached for pruning ("total_states")
  std::size_t states_pruned = 0;      // paths ended by a cached state including them
  std::size_t peak_pending = 0;       // most paths waiting on the worklist at once
  int max_stack_depth = 0;            // deepest byte written below any one frame pointer
};

struct VerifyError {
  std::size_t insn = 0;
  std::string disassembly;  // the instruction, in the kernel's (LLVM) syntax
  std::string reason;       // "invalid read from stack R10 off=-8 size=8", ...
  std::string registers;    // "R1=fp-8 R2=scalar(...)": the operands' abstract values
  // "insn 3 (r0 = *(u64 *)(r10 -8)): invalid read ... [R10=fp0]"
  std::string to_string() const;
};

struct VerifyResult {
  std::optional<VerifyError> error;  // nothing: the program is safe
  VerifyStats stats;
  std::string log;  // with VerifyOptions::log
  bool ok() const { return !error.has_value(); }
};

VerifyResult verify(std::span<const Insn> insns, const VerifyOptions& options = {});

}  // namespace bpfvm::verifier
