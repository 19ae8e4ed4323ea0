#include "maps/epoch.hpp"

#include <atomic>
#include <mutex>
#include <vector>

namespace bpfvm::maps::epoch {

namespace detail {
thread_local constinit Local local;
}  // namespace detail

namespace {

using detail::local;
using detail::ThreadRecord;

struct Retired {
  void* object;
  void (*release)(void*);
  std::uint64_t epoch;
};

}  // namespace

// One per thread that ever pinned or retired; records are reused after their thread exits
// and never freed, so the registry can be walked without locks.
struct detail::ThreadRecord {
  // 0 when not pinned, else (epoch << 1) | 1.
  std::atomic<std::uint64_t> state{0};
  std::atomic<bool> in_use{true};
  ThreadRecord* next = nullptr;
  std::vector<Retired> retired;  // touched only by the thread that owns the record
  unsigned unpins_since_collect = 0;
};

namespace {

// Never destroyed: threads may exit (and unpin, retire) after static destructors ran, and
// objects still pending at exit stay reachable from here rather than look leaked.
struct Globals {
  std::atomic<std::uint64_t> epoch{1};
  std::atomic<ThreadRecord*> registry{nullptr};
  std::atomic<std::size_t> pending{0};
  std::mutex orphans_mutex;
  std::vector<Retired> orphans;  // left by threads that exited
};
Globals& globals() {
  static Globals* g = new Globals;
  return *g;
}

constexpr std::size_t kCollectEvery = 64;

ThreadRecord* acquire_record();
void release_record(ThreadRecord* record);

// Hands the record back when the thread exits.
struct Releaser {
  ~Releaser() {
    if (local.record != nullptr) {
      release_record(local.record);
      local.record = nullptr;
    }
  }
  void touch() {}
};
thread_local Releaser releaser;

ThreadRecord* acquire_record() {
  releaser.touch();  // registers the thread-exit destructor
  Globals& g = globals();
  for (ThreadRecord* r = g.registry.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    bool expected = false;
    if (!r->in_use.load(std::memory_order_relaxed) &&
        r->in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      return r;
    }
  }
  auto* r = new ThreadRecord;
  ThreadRecord* head = g.registry.load(std::memory_order_relaxed);
  do {
    r->next = head;
  } while (!g.registry.compare_exchange_weak(head, r, std::memory_order_release,
                                             std::memory_order_relaxed));
  return r;
}

ThreadRecord& record() {
  if (local.record == nullptr) local.record = acquire_record();
  return *local.record;
}

// The epoch, advanced by one if every pinned thread has observed it.
std::uint64_t try_advance() {
  Globals& g = globals();
  std::uint64_t e = g.epoch.load(std::memory_order_seq_cst);
  for (ThreadRecord* r = g.registry.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    std::uint64_t s = r->state.load(std::memory_order_seq_cst);
    if ((s & 1) != 0 && (s >> 1) != e) return e;
  }
  if (g.epoch.compare_exchange_strong(e, e + 1, std::memory_order_seq_cst)) return e + 1;
  return e;  // another thread advanced it; e now holds the current value
}

// Frees the entries of `list` that no pinned thread can reach, keeping the rest.
void free_safe(std::vector<Retired>& list, std::uint64_t epoch) {
  std::size_t kept = 0;
  std::size_t freed = 0;
  for (Retired& item : list) {
    if (item.epoch + 2 <= epoch) {
      item.release(item.object);
      ++freed;
    } else {
      list[kept++] = item;
    }
  }
  list.resize(kept);
  globals().pending.fetch_sub(freed, std::memory_order_relaxed);
}

void release_record(ThreadRecord* r) {
  Globals& g = globals();
  r->state.store(0, std::memory_order_release);
  free_safe(r->retired, try_advance());
  if (!r->retired.empty()) {
    std::lock_guard lock(g.orphans_mutex);
    g.orphans.insert(g.orphans.end(), r->retired.begin(), r->retired.end());
    r->retired.clear();
  }
  r->in_use.store(false, std::memory_order_release);
}

}  // namespace

// pin() of the outermost pin (depth is 1 now).
void detail::pin_outermost() {
  ThreadRecord& r = record();
  Globals& g = globals();
  std::uint64_t e = g.epoch.load(std::memory_order_seq_cst);
  // Publish, then check the epoch did not move meanwhile: a stale pin is safe but would hold
  // back reclamation until this thread unpins.
  for (;;) {
    r.state.exchange((e << 1) | 1, std::memory_order_seq_cst);
    std::uint64_t now = g.epoch.load(std::memory_order_seq_cst);
    if (now == e) break;
    e = now;
  }
}

// unpin() of the outermost pin (depth is 0 now).
void detail::unpin_outermost() {
  ThreadRecord& r = *local.record;
  r.state.store(0, std::memory_order_release);
  // A thread that retired a few elements and then only reads would otherwise keep them until
  // it retires more or exits: now and then, try to free them on the way out.
  if (!r.retired.empty() && (++r.unpins_since_collect & 15) == 0) collect();
}

bool pinned() { return local.depth != 0; }

void retire(void* object, void (*release)(void*)) {
  Globals& g = globals();
  ThreadRecord& r = record();
  r.retired.push_back({object, release, g.epoch.load(std::memory_order_seq_cst)});
  g.pending.fetch_add(1, std::memory_order_relaxed);
  if (r.retired.size() % kCollectEvery == 0) collect();
}

void collect() {
  Globals& g = globals();
  std::uint64_t e = try_advance();
  free_safe(record().retired, e);
  std::unique_lock lock(g.orphans_mutex, std::try_to_lock);
  if (lock.owns_lock() && !g.orphans.empty()) free_safe(g.orphans, e);
}

std::size_t pending() { return globals().pending.load(std::memory_order_relaxed); }

}  // namespace bpfvm::maps::epoch
