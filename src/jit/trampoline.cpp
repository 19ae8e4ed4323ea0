// The C++ side of a JIT run: sets up the per-run state and the stack exactly as the
// interpreter does, enters the code, and turns an early stop into the interpreter's error.
// Also the bridges JIT code calls: helpers, callx, and the checked-mode slow path.
#include "jit/compiler.hpp"

#include "vm/engine_support.hpp"
#include "vm/run_errors.hpp"
#include "vm/run_state.hpp"

#include <bpfvm/map.hpp>

#include <algorithm>
#include <span>

namespace bpfvm::jit {
namespace {

using u64 = std::uint64_t;

// Valid start positions of an access of `size` bytes in `length` bytes.
u64 starts(u64 length, u64 size) { return length >= size ? length - size + 1 : 0; }

// JitRunState's recent region (checked by the access stubs before they call C++).
void set_recent(JitRunState& state, const detail::Region& region) {
  const u64 length = region.end - region.begin;
  state.recent_begin = region.begin;
  for (u64 size : {1, 2, 4, 8}) {
    int i = size_index(static_cast<int>(size));
    state.recent_starts[0][i] = starts(length, size);
    state.recent_starts[1][i] = region.writable ? state.recent_starts[0][i] : 0;
  }
}
void clear_recent(JitRunState& state) {
  for (auto& row : state.recent_starts)
    for (u64& count : row) count = 0;
}

// Helpers run with the run's RunState, which knows the active stack frames from r10.
u64 call_helper_bridge(JitRunState* state, u64 r1, u64 r2, u64 r3, u64 r4, u64 r5) {
  detail::RunState& run = *state->run_state;
  run.stack_begin = state->frame_pointer - stack_frame_size;
  // What the interpreter publishes at a helper call: callbacks run below this frame and
  // consume this budget (docs/helpers.md).
  run.frame_pointer = state->frame_pointer;
  run.budget = state->budget;
  HelperCall call(run, state->helper->user);
  u64 r0 = state->helper->function(call, r1, r2, r3, r4, r5);
  state->budget = run.budget;
  if (run.checked) clear_recent(*state);  // the helper may have revoked the recent region
  if (run.packet_moved) {  // skb_change_head/tail, adjust_room, ...: LD_ABS reads the new one
    run.packet_moved = false;
    state->packet_data = reinterpret_cast<std::uintptr_t>(run.packet.data());
    for (u64 size : {1, 2, 4, 8})
      state->packet_starts[size_index(static_cast<int>(size))] = starts(run.packet.size(), size);
  }
  if (run.frame_return && !run.helper_failure && !run.pending_error) {
    // A tail call from a subprogram ran its target: the helper_stop stub returns from the
    // subprogram with this r0 (stop 2).
    r0 = *run.frame_return;
    run.frame_return.reset();
    run.end_requested = false;
    state->stop = 2;
    return r0;
  }
  if (run.helper_failure || run.end_requested || run.pending_error) state->stop = 1;
  return r0;
}

// bpf_map_lookup_elem with r1 a map from lddw (Helper::fast_path, emit_map_lookup.cpp): the
// emitter proved r1 is one of the program's maps, so the helper's map check holds; what is
// left of helpers::map_lookup_elem is the key check, the lookup and the grant, without a
// HelperCall or publishing the run state. A key the run may not read goes to the helper
// itself, which fails the run with its message.
u64 map_lookup_bridge(JitRunState* state, u64 r1, u64 r2, u64 r3, u64 r4, u64 r5) {
  Map& map = *reinterpret_cast<Map*>(r1);
  detail::RunState& run = *state->run_state;
  if (run.checked) {
    run.stack_begin = state->frame_pointer - stack_frame_size;
    if (!run.admits_range(r2, map.spec().key_size, false))
      return call_helper_bridge(state, r1, r2, r3, r4, r5);
  }
  // The run holds a MapReadGuard: the map is named by `lddw` (Code::needs_read_guard).
  const Map::PinnedLookup pinned = map.pinned_lookup();
  void* value = pinned != nullptr ? pinned(&map, reinterpret_cast<const void*>(r2))
                                  : map.lookup(reinterpret_cast<const void*>(r2));
  if (value == nullptr) return 0;
  // As the helper: the whole value storage of maps that have one, else the value.
  const bool writable = (map.spec().flags & map_flag::rdonly_prog) == 0;
  std::span<std::uint8_t> storage = map.value_storage();
  auto begin = reinterpret_cast<std::uintptr_t>(storage.empty() ? value : storage.data());
  const detail::Region granted{
      begin, begin + (storage.empty() ? map.spec().value_size : storage.size()), writable};
  if (granted.end != granted.begin) {
    run.regions.add_deferred(granted);
    // The program reads the value next, most likely.
    if (run.checked) set_recent(*state, granted);
  }
  return reinterpret_cast<u64>(value);
}

// Unchecked code's lookup in a map with a pinned lookup and no value storage (hash maps,
// emit_map_lookup.cpp): the lookup and the grant (helpers still ask whether the value is
// this run's memory, e.g. bpf_probe_read_kernel), nothing else.
u64 pinned_lookup_bridge(JitRunState* state, u64 r1, u64 r2) {
  Map* map = reinterpret_cast<Map*>(r1);
  void* value = map->pinned_lookup()(map, reinterpret_cast<const void*>(r2));
  if (value == nullptr) return 0;
  const auto begin = reinterpret_cast<std::uintptr_t>(value);
  const MapSpec& spec = map->spec();
  if (spec.value_size != 0)
    state->run_state->regions.add_deferred(
        {begin, begin + spec.value_size, (spec.flags & map_flag::rdonly_prog) == 0});
  return reinterpret_cast<u64>(value);
}

u64 callx_bridge(JitRunState* state, u64 r1, u64 r2, u64 r3, u64 r4, u64 r5) {
  const Helper* helper = state->code->helpers.find(static_cast<std::uint32_t>(state->callx_id));
  if (helper == nullptr) {
    state->callx_missing = true;
    state->stop = 1;
    return 0;
  }
  state->helper = helper;
  return call_helper_bridge(state, r1, r2, r3, r4, r5);
}

// Whether any region of the run admits the access of instruction error_index at
// error_address (the inline checks have refused it).
std::uint32_t access_slow_bridge(JitRunState* state) {
  const detail::CodeInsn& insn = state->code->slots[state->error_index];
  const OpcodeInfo& row = info(insn.op);
  detail::RunState& run = *state->run_state;
  run.stack_begin = state->frame_pointer - stack_frame_size;
  const auto size = static_cast<std::size_t>(access_size(row));
  if (!run.admits(state->error_address, size, row.shape != Shape::Load)) return 0;
  // The region that admitted it serves the next accesses inline (when it was not the stack).
  const detail::Region* hit = run.regions.last();
  if (hit != nullptr && state->error_address - hit->begin < hit->end - hit->begin)
    set_recent(*state, *hit);
  return 1;
}

Error stop_error(const JitRunState& state, const detail::Code& code, detail::RunState& run,
                 u64 budget) {
  const std::size_t index = state.error_index;
  const detail::CodeInsn& insn = code.slots[index];
  const OpcodeInfo& row = info(insn.op);
  switch (state.status) {
    case StopReason::out_of_bounds: {
      run.stack_begin = state.frame_pointer - stack_frame_size;
      bool is_load = row.shape == Shape::Load;
      const char* what = is_load ? "load" : row.shape == Shape::Atomic ? "atomic" : "store";
      return detail::access_error(run, index, what, state.error_address, access_size(row), !is_load,
                                  is_load ? insn.src : insn.dst, insn.offset);
    }
    case StopReason::misaligned_atomic:
      return detail::misaligned_atomic_error(index, state.error_address, access_size(row));
    case StopReason::budget_exhausted: return detail::budget_error(index, budget);
    case StopReason::call_depth: return detail::call_depth_error(index);
    default:  // helper_stop with an error
      if (run.pending_error) return *run.pending_error;
      if (state.callx_missing) return detail::callx_unknown_error(index, insn.dst, state.callx_id);
      return detail::helper_failed_error(index, *run.helper_failure);
  }
}

}  // namespace

Bridges default_bridges() {
  return {reinterpret_cast<std::uint64_t>(&call_helper_bridge),
          reinterpret_cast<std::uint64_t>(&callx_bridge),
          reinterpret_cast<std::uint64_t>(&access_slow_bridge),
          reinterpret_cast<std::uint64_t>(&map_lookup_bridge),
          reinterpret_cast<std::uint64_t>(&pinned_lookup_bridge)};
}

Result<std::uint64_t> run_compiled(const CompiledCode& compiled, const detail::Code& code,
                                   const RunInput& input, const RunOptions& options,
                                   const std::optional<std::uint64_t>& budget) {
  detail::RunState run;
  alignas(16) std::uint8_t stack[max_call_frames * stack_frame_size];
  auto stack_floor = reinterpret_cast<std::uintptr_t>(stack);
  auto stack_top = stack_floor + sizeof stack;
  run.stack_end = stack_top;
  run.stack_begin = stack_top - stack_frame_size;
  run.entry_frame = stack_top;

  JitRunState state;
  state.code = &code;
  state.run_state = &run;
  state.stack_floor = stack_floor;
  for (u64 size : {1, 2, 4, 8})
    state.stack_last_start[size_index(static_cast<int>(size))] = stack_top - size;
  state.packet_data = reinterpret_cast<std::uintptr_t>(input.packet.data());
  for (u64 size : {1, 2, 4, 8})
    state.packet_starts[size_index(static_cast<int>(size))] = starts(input.packet.size(), size);
  state.budget = budget.value_or(0);

  // The interpreter's regions, in its order, in both modes: helpers ask
  // HelperCall::accessible either way.
  auto add_region = [&](const void* base, std::size_t size, bool writable) {
    if (base == nullptr || size == 0) return;
    auto begin = reinterpret_cast<std::uintptr_t>(base);
    run.regions.push_back({begin, begin + size, writable});
  };
  run.context = input.context;
  add_region(input.context, input.context_size, input.context_writable);
  add_region(input.packet.data(), input.packet.size(), false);
  for (const MemoryRegion& region : options.regions)
    add_region(region.base, region.size, region.writable);
  // Maps, callbacks and tail calls (vm/engine_support.hpp).
  run.stack_floor = stack_floor;
  run.code = &code;
  run.input = &input;
  run.packet = input.packet;
  run.checked = options.memory_mode == MemoryMode::checked;
  run.budgeted = budget.has_value();
  run.budget_limit = budget.value_or(0);
  detail::RunGuard guard;
  guard.enter(run, code);
  if (options.memory_mode == MemoryMode::checked) {
    // The first region the caller gave (run_packet's packet buffer: what packet programs
    // read most) starts as the recent region, else the packet LD_ABS reads.
    if (!options.regions.empty() && options.regions.front().base != nullptr &&
        options.regions.front().size != 0) {
      auto begin = reinterpret_cast<std::uintptr_t>(options.regions.front().base);
      set_recent(state,
                 {begin, begin + options.regions.front().size, options.regions.front().writable});
    } else if (!input.packet.empty()) {
      auto begin = reinterpret_cast<std::uintptr_t>(input.packet.data());
      set_recent(state, {begin, begin + input.packet.size(), false});
    }
    // The context is the inline fast path.
    if (input.context != nullptr && input.context_size != 0) {
      state.context_begin = reinterpret_cast<std::uintptr_t>(input.context);
      state.context_bias = 0 - state.context_begin;
      for (u64 size : {1, 2, 4, 8}) {
        int i = size_index(static_cast<int>(size));
        state.context_starts[0][i] = starts(input.context_size, size);
        state.context_starts[1][i] = input.context_writable ? state.context_starts[0][i] : 0;
      }
    }
  }

  u64 r0 = compiled.entry()(&state, reinterpret_cast<std::uintptr_t>(input.context), input.r2,
                            stack_top);
  if (state.status == StopReason::ok) return r0;
  if (state.status == StopReason::helper_stop && !state.callx_missing && !run.helper_failure &&
      !run.pending_error) {
    // bpf_tail_call: the targets run in the interpreter, on this run's state and stack.
    if (run.tail_call) {
      run.budget = state.budget;
      return detail::run_tail_calls(run, guard);
    }
    return r0;
  }
  return stop_error(state, code, run, budget.value_or(0));
}

std::uint64_t run_direct(CompiledCode::Entry entry, const RunInput& input) {
  // Without calls a run uses one frame, and unchecked code never reads the stack bounds, the
  // regions or the budget; what it may read is the packet (LD_ABS / LD_IND) and saved_rsp
  // (written by the prologue, read by the packet exit). The state lives per thread: a local
  // one would be zeroed on every run (its 200 bytes cost more than a small filter), and no
  // run can re-enter this thread's state, as the program calls nothing.
  static thread_local JitRunState state;
  alignas(16) std::uint8_t stack[stack_frame_size];
  auto stack_top = reinterpret_cast<std::uintptr_t>(stack) + sizeof stack;
  state.stack_floor = reinterpret_cast<std::uintptr_t>(stack);
  const u64 packet_size = input.packet.size();
  state.packet_data = reinterpret_cast<std::uintptr_t>(input.packet.data());
  state.packet_starts[0] = starts(packet_size, 1);
  state.packet_starts[1] = starts(packet_size, 2);
  state.packet_starts[2] = starts(packet_size, 4);
  state.packet_starts[3] = starts(packet_size, 8);
  return entry(&state, reinterpret_cast<std::uintptr_t>(input.context), input.r2, stack_top);
}

}  // namespace bpfvm::jit
