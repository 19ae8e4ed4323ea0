// The per-run state JIT code reads and writes through r12: fast-path bounds, the budget,
// and what a stub left behind when the run stopped early. Plain data with a fixed layout;
// the emitter addresses its fields with offsetof.
#pragma once

#include <bpfvm/helper.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace bpfvm::detail {
struct Code;
struct RunState;
}  // namespace bpfvm::detail

namespace bpfvm::jit {

// Why JIT code returned to the trampoline before the program's last exit.
enum class StopReason : std::uint8_t {
  ok = 0,
  out_of_bounds,      // checked mode: no region admits the access at error_index
  misaligned_atomic,  // checked mode: atomic at error_address not aligned to its size
  budget_exhausted,   // the budget ran out before error_index
  call_depth,         // a local call at error_index would nest too deep
  helper_stop,        // the helper (or callx) at error_index ended or failed the run
};

// Access sizes 1, 2, 4, 8 as indices 0..3.
inline constexpr int size_index(int size) {
  return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
}

struct JitRunState {
  // Fast region (the context): an access of `size` bytes at `address` lies inside when
  // address - context_begin < context_starts[write][size_index(size)], unsigned. The count
  // of valid start addresses is 0 when the region is smaller than the access or, for writes,
  // read-only.
  std::uint64_t context_begin = 0;
  std::uint64_t context_starts[2][4] = {};
  // 0 - context_begin: what rdi holds in checked code.
  std::uint64_t context_bias = 0;
  // The active stack frames are [r10 - 512, stack_top): the last valid start address of
  // each access size, stack_top - size.
  std::uint64_t stack_last_start[4] = {};
  // Lowest address of the whole stack area: a local call whose new frame would begin
  // below it nests too deep.
  std::uint64_t stack_floor = 0;
  // LD_ABS / LD_IND: the packet and, per access size, the count of valid start offsets.
  std::uint64_t packet_data = 0;
  std::uint64_t packet_starts[4] = {};

  // Instructions the run may still execute (budgeted code only).
  std::uint64_t budget = 0;

  // rsp right before the program's body was called: error exits unwind to it.
  std::uint64_t saved_rsp = 0;
  // r10 at the last call out of JIT code, so the C++ side knows the active stack frames.
  std::uint64_t frame_pointer = 0;

  // Calls out of JIT code: the helper `call` binds, or the id `callx` looks up.
  const Helper* helper = nullptr;
  std::uint64_t callx_id = 0;

  // Set by the bridges: nonzero when the run must stop after a helper call.
  std::uint8_t stop = 0;
  bool callx_missing = false;
  // Set by the stub that returned early.
  StopReason status = StopReason::ok;
  std::uint32_t error_index = 0;
  std::uint64_t error_address = 0;

  const detail::Code* code = nullptr;
  detail::RunState* run_state = nullptr;

  // Inline array lookups (emit_map_lookup.cpp): bit k is set once the value storage of the
  // k-th inlined array map has been granted in this run, as the helper's first lookup does.
  std::uint64_t inline_grants = 0;

  // A second fast region, checked by the out-of-line access path before it calls C++: the
  // last region that admitted an access there, or that a map lookup granted (a value the
  // program reads right after looking it up). Same encoding as the context's; all zero
  // when there is none. Cleared after every call of a helper, which may revoke regions.
  std::uint64_t recent_begin = 0;
  std::uint64_t recent_starts[2][4] = {};
};
static_assert(std::is_standard_layout_v<JitRunState>);

// Offsets the emitter uses (disp32 from r12).
#define BPFVM_JIT_FIELD(field) static_cast<std::int32_t>(offsetof(::bpfvm::jit::JitRunState, field))

}  // namespace bpfvm::jit
