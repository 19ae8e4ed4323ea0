// BPF_MAP_TYPE_RINGBUF helpers: bpf_ringbuf_output (130), reserve (131), submit (132),
// discard (133), query (134). Records are admitted while open and tracked per run, so a
// program cannot submit what it did not reserve (Linux's verifier tracks the reference).
#include "helpers/helper_functions.hpp"
#include "helpers/helper_support.hpp"

#include <cerrno>

namespace bpfvm::helpers {
namespace {

RingBufferMap* ring_of(HelperCall& call, const char* helper, u64 value) {
  Map* map = check_map(call, helper, value);
  if (map == nullptr) return nullptr;
  auto* ring = map->type() == MapType::ringbuf ? dynamic_cast<RingBufferMap*>(map) : nullptr;
  if (ring == nullptr)
    call.fail(fmt::format("{}: map 0x{:x} is a {} map, not a ringbuf", helper, value,
                          map_type_name(map->type())));
  return ring;
}

}  // namespace

u64 ringbuf_output(HelperCall& call, u64 r1, u64 data, u64 size, u64 flags, u64) {
  RingBufferMap* ring = ring_of(call, "ringbuf_output", r1);
  if (ring == nullptr) return 0;
  if (!check_pointer(call, "ringbuf_output", "data", data, size, false)) return 0;
  return err(ring->output(reinterpret_cast<const void*>(data), size, flags));
}

u64 ringbuf_reserve(HelperCall& call, u64 r1, u64 size, u64 flags, u64, u64) {
  RingBufferMap* ring = ring_of(call, "ringbuf_reserve", r1);
  if (ring == nullptr) return 0;
  void* record = ring->reserve(size, flags);
  if (record == nullptr) return 0;
  call.open_record(record, size, ring);
  return reinterpret_cast<u64>(record);
}

namespace {
u64 release(HelperCall& call, const char* helper, u64 record, u64 flags, bool submit) {
  Map* map = call.close_record(reinterpret_cast<const void*>(record));
  if (map == nullptr) {
    call.fail(fmt::format("{}: 0x{:x} is not a record this run reserved and still holds", helper,
                          record));
    return 0;
  }
  auto* ring = static_cast<RingBufferMap*>(map);
  if (submit)
    ring->submit(reinterpret_cast<void*>(record), flags);
  else
    ring->discard(reinterpret_cast<void*>(record), flags);
  return 0;
}
}  // namespace

u64 ringbuf_submit(HelperCall& call, u64 record, u64 flags, u64, u64, u64) {
  return release(call, "ringbuf_submit", record, flags, true);
}

u64 ringbuf_discard(HelperCall& call, u64 record, u64 flags, u64, u64, u64) {
  return release(call, "ringbuf_discard", record, flags, false);
}

u64 ringbuf_query(HelperCall& call, u64 r1, u64 flags, u64, u64, u64) {
  RingBufferMap* ring = ring_of(call, "ringbuf_query", r1);
  if (ring == nullptr) return 0;
  return ring->query(flags);
}

}  // namespace bpfvm::helpers
