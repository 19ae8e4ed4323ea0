// Helpers that change the flow of the run: bpf_tail_call (12) and bpf_loop (181).
#include "helpers/helper_functions.hpp"
#include "helpers/helper_support.hpp"

#include <cerrno>

namespace bpfvm::helpers {

// bpf_tail_call(ctx, prog_array, index): on success the engine continues with the target
// once this returns (HelperCall::tail_call); on failure the program goes on with r0 < 0.
u64 tail_call(HelperCall& call, u64, u64 prog_array, u64 index, u64, u64) {
  if (call.map(prog_array) == nullptr) {
    call.fail(fmt::format("tail_call: 0x{:x} is not a map of this program", prog_array));
    return 0;
  }
  return err(call.tail_call(prog_array, index));
}

// bpf_loop(nr_loops, callback_fn, callback_ctx, flags) (kernel/bpf/bpf_iter.c): calls
// callback_fn(i, callback_ctx) for i = 0, 1, ... until it returns non-zero or nr_loops calls
// were made; returns the number of calls.
u64 loop(HelperCall& call, u64 nr_loops, u64 callback, u64 context, u64 flags, u64) {
  if (!call.is_function(callback)) {
    call.fail(fmt::format("loop: 0x{:x} is not a function of this program", callback));
    return 0;
  }
  if (flags != 0) return err(-EINVAL);
  const auto count = static_cast<std::uint32_t>(nr_loops);  // a u32 argument in Linux
  if (count > bpf_max_loops) return err(-E2BIG);
  for (std::uint32_t i = 0; i < count; ++i) {
    auto r0 = call.call_function(callback, i, context);
    if (!r0) return 0;  // the run stops: the callback failed or ended it
    if (*r0 != 0) return i + 1;
  }
  return count;
}

}  // namespace bpfvm::helpers
