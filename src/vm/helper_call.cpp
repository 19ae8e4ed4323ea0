// What helpers may ask of the run that called them beyond memory: maps, callbacks, tail
// calls, ring buffer records (include/bpfvm/helper.hpp, docs/helpers.md).
#include <bpfvm/helper.hpp>
#include <bpfvm/map.hpp>

#include "vm/code.hpp"
#include "vm/engine_support.hpp"
#include "vm/run_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace bpfvm {

bool HelperCall::checked() const { return state_.checked; }

void HelperCall::set_packet(const void* data, std::size_t size) {
  state_.packet = {static_cast<const std::uint8_t*>(data), size};
  state_.packet_moved = true;
}

void HelperCall::revoke(const void* base, std::size_t size, bool writable) {
  auto begin = reinterpret_cast<std::uintptr_t>(base);
  state_.regions.revoke({begin, begin + size, writable});
}

Map* HelperCall::map(std::uint64_t value) const {
  if (value == 0) return nullptr;
  if (state_.code != nullptr)
    if (Map* map = state_.code->map_at(value)) return map;
  for (Map* inner : state_.inner_maps)
    if (reinterpret_cast<std::uint64_t>(inner) == value) return inner;
  return nullptr;
}

void HelperCall::adopt_map(Map* inner) {
  if (inner == nullptr || map(reinterpret_cast<std::uint64_t>(inner)) != nullptr) return;
  state_.inner_maps.push_back(inner);
}

bool HelperCall::is_function(std::uint64_t value) const {
  return state_.code != nullptr && state_.code->function_at(value) >= 0;
}

std::optional<std::uint64_t> HelperCall::call_function(std::uint64_t function, std::uint64_t r1,
                                                       std::uint64_t r2, std::uint64_t r3,
                                                       std::uint64_t r4, std::uint64_t r5) {
  std::int64_t entry = state_.code != nullptr ? state_.code->function_at(function) : -1;
  if (entry < 0) {
    fail(fmt::format("0x{:x} is not a function of this program (lddw src 4)", function));
    return std::nullopt;
  }
  // The callback's frame lies below the caller's; like a local call it may not be the 9th.
  if (state_.frame_pointer - 2 * stack_frame_size < state_.stack_floor) {
    fail(fmt::format("a callback would nest deeper than {} frames", max_call_frames));
    return std::nullopt;
  }
  const std::uint64_t args[5] = {r1, r2, r3, r4, r5};
  Result<std::uint64_t> result =
      detail::run_function(state_, static_cast<std::size_t>(entry), args);
  if (!result) {
    // The innermost error wins: it names the instruction that failed.
    if (!state_.pending_error) state_.pending_error = result.error();
    state_.end_requested = true;  // engines check this one flag after every helper
    return std::nullopt;
  }
  if (state_.end_requested || state_.helper_failure || state_.pending_error) return std::nullopt;
  return *result;
}

int HelperCall::tail_call(std::uint64_t prog_array, std::uint64_t index) {
  Map* target_map = map(prog_array);
  auto* array = target_map != nullptr && target_map->type() == MapType::prog_array
                    ? dynamic_cast<ProgramArrayMap*>(target_map)
                    : nullptr;
  if (array == nullptr) return -EINVAL;
  // Callbacks cannot tail call (Linux's verifier refuses it).
  if (state_.callback_depth != 0) return -EINVAL;
  // The order of Linux's checks (kernel/bpf/core.c, JMP_TAIL_CALL): the index is a u32;
  // the count grows even when the slot turns out to be empty.
  auto slot = static_cast<std::uint32_t>(index);
  if (slot >= array->spec().max_entries) return -ENOENT;
  if (state_.tail_calls >= max_tail_calls) return -ELOOP;
  ++state_.tail_calls;
  const Program* program = array->get(slot);
  if (program == nullptr) return -ENOENT;
  const std::uint64_t entry = state_.entry_frame != 0 ? state_.entry_frame : state_.stack_end;
  if (state_.frame_pointer == entry) {
    // From the entry frame: the engine continues with the target once the helper returns.
    state_.tail_call = *program;
    state_.end_requested = true;
    return 0;
  }
  // From a subprogram: Linux replaces only that subprogram's frame, and the target's r0 is
  // what the subprogram returns to its caller. The target runs now, in that frame.
  const Program target = *program;  // the slot may change while it runs
  Result<std::uint64_t> result = detail::run_tail_call_in_frame(state_, target);
  if (!result) {
    if (!state_.pending_error) state_.pending_error = result.error();
    state_.end_requested = true;
    return 0;
  }
  state_.frame_return = *result;
  state_.end_requested = true;
  return 0;
}

void HelperCall::open_record(void* record, std::size_t size, Map* ringbuf) {
  auto* ring = dynamic_cast<RingBufferMap*>(ringbuf);
  if (record == nullptr || ring == nullptr) return;
  state_.open_records.push_back({record, size, ring});
  grant(record, size, true);
}

Map* HelperCall::close_record(const void* record) {
  auto& records = state_.open_records;
  auto it = std::find_if(records.begin(), records.end(),
                         [&](const auto& open) { return open.record == record; });
  if (it == records.end()) return nullptr;
  Map* ring = it->ring;
  revoke(it->record, it->size, true);
  records.erase(it);
  return ring;
}

namespace detail {

RunState::~RunState() {
  for (const OpenRecord& open : open_records) open.ring->discard(open.record, 0);
}

}  // namespace detail
}  // namespace bpfvm
