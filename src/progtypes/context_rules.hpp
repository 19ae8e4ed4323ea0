// The verifier's view of each program type (docs/verifier.md, "Program types"): which context
// accesses Linux admits (its *_is_valid_access in net/core/filter.c and
// kernel/trace/bpf_trace.c) and what a read gives (a scalar or a packet pointer), whether the
// program may touch the packet directly (may_access_direct_pkt_data), use ld_abs/ld_ind
// (may_access_skb), and the return values it may give (check_return_code).
//
// xdp, socket_filter, sched_cls (and sched_act, which shares tc's rules) go through
// plan_access (context_layout.hpp), the rewriter's rules: one source of truth. The other types
// bpfvm cannot run yet are described here.
#pragma once

#include <bpfvm/program_type.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace bpfvm::progtypes {

// What a context read gives (Linux: bpf_insn_access_aux::reg_type).
enum class ContextValue : std::uint8_t { scalar, packet, packet_end, packet_meta };

// The access is allowed: the value a read gives. Refused: why ("field mark is read-only ...").
using ContextRule = std::variant<ContextValue, std::string>;

// The uapi context's size in bytes the verifier knows for `type`; nothing for types it does
// not describe (raw included: its context is sized by VerifyOptions::context_size).
std::optional<std::size_t> verifier_context_size(ProgramType type);

// A load (or store, `write`) of `size` bytes at `offset` of `type`'s uapi context;
// `expected_attach_type` (Linux's enum bpf_attach_type) decides which bpf_sock_addr address
// fields a cgroup_sock_addr program may use.
ContextRule context_rule(ProgramType type, std::int32_t offset, int size, bool write,
                         std::uint32_t expected_attach_type = 0);

enum class PacketAccess : std::uint8_t { none, read, read_write };
// Direct packet access through data/data_end pointers (may_access_direct_pkt_data).
PacketAccess direct_packet_access(ProgramType type);

// ld_abs/ld_ind are allowed (may_access_skb: socket_filter, sched_cls, sched_act).
bool allows_ld_abs(ProgramType type);

// The range r0 must be in at exit (check_return_code), for the attach type given as Linux's
// enum bpf_attach_type value; nothing where Linux does not constrain it.
struct ReturnRange {
  std::int64_t min = 0;
  std::int64_t max = 0;
};
std::optional<ReturnRange> return_range(ProgramType type, std::uint32_t expected_attach_type);

}  // namespace bpfvm::progtypes
