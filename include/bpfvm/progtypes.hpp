// Program types (docs/program-types.md): the context a program of each type sees, the
// kernel's context-access rewriting, and the helpers each type may call.
//
// Programs are written against Linux's uapi contexts (struct __sk_buff, struct xdp_md), whose
// packet pointers are 32-bit fields. bpfvm, like the kernel's convert_ctx_access, rewrites
// every context load and store to an internal context that holds 64-bit pointers. The
// pipeline is: rewrite_context_access (or load_typed_program) then Program::load.
#pragma once

#include <bpfvm/helper.hpp>
#include <bpfvm/insn.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/program_type.hpp>
#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace bpfvm {

// uapi enum xdp_action.
enum class XdpAction : std::uint32_t { aborted = 0, drop = 1, pass = 2, tx = 3, redirect = 4 };

// tc verdicts (uapi TC_ACT_*), for sched_cls programs.
namespace tc_action {
inline constexpr std::int32_t unspec = -1, ok = 0, reclassify = 1, shot = 2, pipe = 3, stolen = 4,
                              queued = 5, repeat = 6, redirect = 7;
}

// Which program types bpfvm can build a context for and rewrite accesses of.
bool program_type_supported(ProgramType type);

// One field of a uapi context as the program sees it, and who may touch it.
struct ContextField {
  std::string_view name;     // "len", "cb[2]", "data", ...
  std::uint16_t offset = 0;  // in the uapi struct
  std::uint16_t size = 0;    // in the uapi struct
  bool readable = false;
  bool writable = false;
};

// The uapi fields of `type`'s context with this type's permissions (Linux's
// *_is_valid_access); empty for raw and unsupported types.
std::span<const ContextField> context_fields(ProgramType type);
// sizeof(struct __sk_buff), sizeof(struct xdp_md); 0 for raw.
std::size_t uapi_context_size(ProgramType type);

// Rewrites every load and store whose base register holds the context pointer (found by a
// forward dataflow pass over the control-flow graph, through r10 stack spills and into
// bpf-to-bpf calls) to the internal context. Jumps and local calls are relocated when an
// access expands to several instructions. Fails, naming the instruction and the field, on
// accesses to unknown or forbidden fields, wrong sizes, atomics on the context, dereferences
// of a modified context pointer, and on instructions that see the context on one path and
// something else on another. raw programs are returned unchanged.
Result<std::vector<Insn>> rewrite_context_access(ProgramType type, std::span<const Insn> insns);

// Whether a program of `type` may call helper `id` (Linux's *_func_proto lists, as a
// privileged loader sees them). Every id for raw; bpfvm's built-ins (builtin_helpers.hpp) for
// every type.
bool helper_allowed(ProgramType type, std::uint32_t id);
// The allowed ids in increasing order (none for raw, where every id is allowed).
std::span<const std::uint32_t> allowed_helpers(ProgramType type);
// Whether helper_allowed(type, id) holds only on kernels built or booted to offer the helper:
// bpf_probe_write_user (36) for the tracing types (refused under lockdown) and
// bpf_override_return (58) for kprobe (CONFIG_BPF_KPROBE_OVERRIDE). The lists admit them, as
// Linux's *_func_proto do where the kernel has them.
bool helper_depends_on_kernel_config(ProgramType type, std::uint32_t id);

// The packet helpers with Linux's ids, semantics and prototypes: skb_store_bytes (9),
// l3_csum_replace (10), l4_csum_replace (11), skb_load_bytes (26), csum_diff (28),
// xdp_adjust_head (44), redirect_map (51), xdp_adjust_tail (65). They work on the internal
// context the run harness (packet_run.hpp) builds.
std::vector<Helper> packet_helpers();
// Adds the packet helpers `type` may call to `registry`; ids already registered are kept.
Status add_packet_helpers(HelperRegistry& registry, ProgramType type);

// The helpers bpfvm gives a program of `type` (the one place that decides it, so that every
// way of loading a program judges it alike): linux_helpers(), bpfvm's built-ins
// (builtin_helpers.hpp: memset, memcpy, memmove, memcmp) and the packet helpers `type` may call.
// object_program_helpers (an object's programs, `bpfvm verify OBJ`, `bpfvm run OBJ`) and
// `bpfvm verify` of a program file use it. Fails only if those registries clash.
Result<HelperRegistry> program_helpers(ProgramType type);

// The whole pipeline for a typed program: rewrites context accesses, then Program::load with
// `options` (whose `type` names the type) and only the helpers of `options.helpers` the type
// may call (helper_allowed): a `call` of another loads as one of an unknown id does, failing
// the run if made (the verifier refuses it where reachable, as Linux's).
Result<Program> load_typed_program(std::span<const Insn> insns, const LoadOptions& options);

}  // namespace bpfvm
