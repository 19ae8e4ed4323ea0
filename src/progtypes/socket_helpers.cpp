// bpf_get_socket_cookie (46), bpf_get_netns_cookie (122) and bpf_setsockopt (49)
// (net/core/filter.c). bpfvm models one socket: the one BPF_PROG_TEST_RUN attaches to the
// skb of a socket_filter or sched_cls run (PacketRunInput::socket_cookie), in the run's
// network namespace (Network::netns_cookie). The socket-typed programs (cgroup_sock,
// cgroup_sock_addr, sock_ops) have no context bpfvm builds, so no socket either: their
// calls get what Linux answers where it has none to act on (docs/network.md).
#include "progtypes/active_context.hpp"
#include "progtypes/helper_arguments.hpp"
#include "progtypes/skb_helpers.hpp"

#include <fmt/format.h>

#include <cerrno>

namespace bpfvm::progtypes {
namespace {

using u64 = std::uint64_t;

// The skb of the packet run r1 is the context of, or nullptr.
SkbKernelContext* run_skb(HelperCall& call, u64 r1) {
  ActiveContext& active = active_context();
  if (active.skb == nullptr || reinterpret_cast<void*>(r1) != &active.skb->view ||
      call.context() != &active.skb->view)
    return nullptr;
  return active.skb;
}

}  // namespace

// bpf_get_socket_cookie(ctx): for an skb, its socket's cookie, 0 without a socket
// (skb->sk ? __sock_gen_cookie(skb->sk) : 0). The other contexts always have a socket in
// Linux and none in bpfvm: the run fails, saying so, rather than invent a cookie.
u64 get_socket_cookie(HelperCall& call, u64 r1, u64, u64, u64, u64) {
  if (SkbKernelContext* skb = run_skb(call, r1)) return skb->socket_cookie;
  call.fail(
      "get_socket_cookie: bpfvm models the socket of socket_filter and sched_cls runs only "
      "(r1 is not the context of one)");
  return 0;
}

// bpf_get_netns_cookie(ctx or NULL): the cookie of the namespace of the context's socket;
// init_net's for NULL or an skb without a socket. A socket-typed context (no packet run)
// stands for a socket in the run's network.
u64 get_netns_cookie(HelperCall& call, u64 r1, u64, u64, u64, u64) {
  const Network& network = network_of(active_context());
  if (r1 == 0) return network.init_netns_cookie;
  if (SkbKernelContext* skb = run_skb(call, r1))
    return skb->socket_cookie != 0 ? network.netns_cookie : network.init_netns_cookie;
  if (reinterpret_cast<void*>(r1) != call.context()) {
    call.fail("get_netns_cookie: r1 is neither the context nor NULL");
    return 0;
  }
  return network.netns_cookie;
}

// bpf_setsockopt(ctx, level, optname, optval, optlen) for cgroup_sock_addr and sock_ops:
// optval must be readable (ARG_PTR_TO_MEM); then -EINVAL, Linux's answer for a level or
// option it does not support (__bpf_setsockopt), since bpfvm has no socket to set options
// on.
u64 setsockopt(HelperCall& call, u64, u64, u64, u64 optval, u64 optlen) {
  if (optlen == 0 || memory_arg(call, optval, optlen, false, "setsockopt") == nullptr) {
    if (optlen == 0) call.fail("setsockopt: optlen is 0 (ARG_CONST_SIZE)");
    return 0;
  }
  return errno_result(EINVAL);
}

}  // namespace bpfvm::progtypes
