// bpf_perf_event_output (25) into a perf_event_array (PerfEventArrayMap in <bpfvm/map.hpp>),
// as kernel/trace/bpf_trace.c (tracing) and net/core/filter.c (skb, xdp) define it.
#include "helpers/helper_functions.hpp"
#include "helpers/helper_support.hpp"

#include <cerrno>

namespace bpfvm::helpers {
namespace {

constexpr u64 f_index_mask = 0xffffffffull;      // BPF_F_INDEX_MASK
constexpr u64 f_current_cpu = f_index_mask;      // BPF_F_CURRENT_CPU
constexpr u64 f_ctxlen_mask = 0xfffffull << 32;  // BPF_F_CTXLEN_MASK (skb, xdp)

}  // namespace

// bpf_perf_event_output(ctx, map, flags, data, size): the record goes to the slot
// flags & BPF_F_INDEX_MASK, or the CPU the run is on for BPF_F_CURRENT_CPU. Errors as Linux:
// -EINVAL for unknown flags, -E2BIG for a slot past max_entries, -ENOENT for a closed slot,
// -ENOSPC when the slot's buffer is full (the record is counted lost). Appending the packet
// (BPF_F_CTXLEN_MASK, skb and xdp programs) is not supported: -EOPNOTSUPP.
u64 perf_event_output(HelperCall& call, u64, u64 r2, u64 flags, u64 data, u64 size) {
  Map* map = check_map(call, "perf_event_output", r2);
  if (map == nullptr) return 0;
  auto* perf = dynamic_cast<PerfEventArrayMap*>(map);
  if (perf == nullptr) {
    call.fail("perf_event_output: the map is not a perf_event_array");
    return 0;
  }
  if (!check_pointer(call, "perf_event_output", "data", data, size, false)) return 0;
  if (flags & f_ctxlen_mask) return err(-EOPNOTSUPP);
  if (flags & ~f_index_mask) return err(-EINVAL);
  u64 index = flags & f_index_mask;
  if (index == f_current_cpu) index = current_cpu();
  return err(
      perf->output(static_cast<std::uint32_t>(index), reinterpret_cast<const void*>(data), size));
}

}  // namespace bpfvm::helpers
