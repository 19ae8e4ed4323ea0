// The packet context of the run in progress on this thread. The run harness sets it for the
// duration of a run; packet helpers find their internal context through it, and refuse to
// work when r1 is not that context (a raw program, or a helper called outside a packet run).
#pragma once

#include "progtypes/kernel_context.hpp"

#include <bpfvm/network.hpp>
#include <bpfvm/program_type.hpp>

#include <vector>

namespace bpfvm::progtypes {

struct ActiveContext {
  ProgramType type = ProgramType::raw;
  SkbKernelContext* skb = nullptr;
  XdpKernelContext* xdp = nullptr;
  // The network the run's helpers see (fib_lookup, clone_redirect, get_hash_recalc's key),
  // and where clone_redirect records its clones.
  const Network* network = nullptr;
  std::vector<ClonedPacket>* clones = nullptr;
};

ActiveContext& active_context();

// The network a run's helpers see: the run's, or Network::loopback() when it gave none.
inline const Network& network_of(const ActiveContext& active) {
  static const Network loopback = Network::loopback();
  return active.network != nullptr ? *active.network : loopback;
}

// Installs `context` as this thread's active context and restores the previous one after.
class ActiveContextScope {
 public:
  explicit ActiveContextScope(const ActiveContext& context) : previous_(active_context()) {
    active_context() = context;
  }
  ~ActiveContextScope() { active_context() = previous_; }
  ActiveContextScope(const ActiveContextScope&) = delete;
  ActiveContextScope& operator=(const ActiveContextScope&) = delete;

 private:
  ActiveContext previous_;
};

}  // namespace bpfvm::progtypes
