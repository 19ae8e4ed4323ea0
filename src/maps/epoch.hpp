// Epoch-based reclamation for map elements. A reader pins the current epoch (MapReadGuard, or
// an internal guard around one map operation) and may then follow element pointers without
// locks; a writer that unlinks an element retires it, and it is freed only once every thread
// that was pinned when it was retired has unpinned. This is the userspace stand-in for the
// RCU read-side critical sections that protect map values in Linux (kernel/bpf/hashtab.c).
//
// Three epochs suffice: the global epoch advances from e to e+1 only when every pinned thread
// has observed e, so an element retired in epoch e is unreachable to every thread once the
// global epoch reaches e+2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bpfvm::maps::epoch {

namespace detail {
struct ThreadRecord;
// This thread's record and pin depth. Constant-initialised, so the inline pin() and unpin()
// below reach it without a TLS guard: a nested pin (a map lookup inside a run that already
// holds a MapReadGuard) is an increment, not a call.
struct Local {
  ThreadRecord* record = nullptr;
  unsigned depth = 0;
};
extern thread_local constinit Local local;
void pin_outermost();
void unpin_outermost();
}  // namespace detail

// Pins this thread (nesting is counted; only the outermost pin publishes an epoch).
inline void pin() {
  if (detail::local.depth++ == 0) detail::pin_outermost();
}
inline void unpin() {
  if (--detail::local.depth == 0) detail::unpin_outermost();
}
bool pinned();

// Frees `object` with `release(object)` once no thread pinned now can still reach it.
// The caller must already have made `object` unreachable for new readers.
void retire(void* object, void (*release)(void*));

// Advances the epoch if possible and frees what is safe to free, on this thread. Called by
// retire() every so often; tests call it to drain.
void collect();
// Retired objects not yet freed (all threads), for tests.
std::size_t pending();

// Scoped pin.
class Guard {
 public:
  Guard() { pin(); }
  ~Guard() { unpin(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

}  // namespace bpfvm::maps::epoch
