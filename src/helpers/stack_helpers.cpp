// bpf_get_stackid (27) into a BPF_MAP_TYPE_STACK_TRACE (StackTraceMap in <bpfvm/map.hpp>).
//
// In Linux the helper walks the kernel (or, with BPF_F_USER_STACK, the user) call chain of
// the event that ran the program. A userspace run has no such chain: the frames come from
// HelperOptions::stack_trace, the embedder's (for example the traced process's stack it
// sampled); without one the stack is empty and the helper returns -EFAULT, as Linux does
// when get_perf_callchain finds no frames.
#include "helpers/helper_functions.hpp"
#include "helpers/helper_support.hpp"

#include <algorithm>
#include <cerrno>
#include <vector>

namespace bpfvm::helpers {
namespace {

// uapi bpf_get_stackid flags.
constexpr u64 f_skip_field_mask = 0xff;    // BPF_F_SKIP_FIELD_MASK
constexpr u64 f_user_stack = 1u << 8;      // BPF_F_USER_STACK
constexpr u64 f_fast_stack_cmp = 1u << 9;  // BPF_F_FAST_STACK_CMP
constexpr u64 f_reuse_stackid = 1u << 10;  // BPF_F_REUSE_STACKID
constexpr std::size_t max_stack = 127;     // sysctl_perf_event_max_stack

}  // namespace

// bpf_get_stackid(ctx, map, flags), as bpf_get_stackid / __bpf_get_stackid: -EINVAL for
// unknown flags; the chain is taken to value_size / 8 + skip frames (capped at 127); -EFAULT
// when it has no more than `skip` frames; then the frames after the skipped ones are stored
// (StackTraceMap::store: the id, or -EEXIST on a collision without BPF_F_REUSE_STACKID).
u64 get_stackid(HelperCall& call, u64, u64 r2, u64 flags, u64, u64) {
  Map* map = check_map(call, "get_stackid", r2);
  if (map == nullptr) return 0;
  auto* stacks = dynamic_cast<StackTraceMap*>(map);
  if (stacks == nullptr) {
    call.fail("get_stackid: the map is not a stack_trace map");
    return 0;
  }
  if (flags & ~(f_skip_field_mask | f_user_stack | f_fast_stack_cmp | f_reuse_stackid))
    return err(-EINVAL);
  const std::size_t skip = flags & f_skip_field_mask;
  const std::size_t depth = std::min(map->spec().value_size / 8 + skip, max_stack);
  std::vector<std::uint64_t> frames(depth);
  std::size_t got = 0;
  if (const auto& source = helper_state(call).options.stack_trace; source)
    got = std::min(source((flags & f_user_stack) != 0, frames), depth);
  if (got <= skip) return err(-EFAULT);
  const std::span<const std::uint64_t> ips(frames.data() + skip, got - skip);
  return err(static_cast<int>(stacks->store(ips, flags & (f_fast_stack_cmp | f_reuse_stackid))));
}

}  // namespace bpfvm::helpers
