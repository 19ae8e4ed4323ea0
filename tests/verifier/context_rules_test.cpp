// The verifier's context descriptions (src/progtypes/context_rules.hpp) against the system's
// uapi headers where they define the structs, and against plan_access for the types the
// rewriter knows: sizes, the offsets the rules name, attach types, packet pointer fields, and
// that nothing accepted ever lies outside the context or is misaligned.
#include "progtypes/context_rules.hpp"
#include "progtypes/context_layout.hpp"

#include <bpfvm/progtypes.hpp>

#include <gtest/gtest.h>

#include <asm/ptrace.h>
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>

#include <cstddef>
#include <string>
#include <variant>

namespace bpfvm::progtypes {
namespace {

using T = ProgramType;

bool accepted(T type, int off, int size, bool write) {
  return std::holds_alternative<ContextValue>(context_rule(type, off, size, write));
}

ContextValue value_of(T type, int off, int size) {
  auto r = context_rule(type, off, size, false);
  EXPECT_TRUE(std::holds_alternative<ContextValue>(r))
      << program_type_name(type) << " off " << off << ": " << std::get<std::string>(r);
  return std::holds_alternative<ContextValue>(r) ? std::get<ContextValue>(r) : ContextValue::scalar;
}

TEST(ContextRules, SizesMatchTheUapiHeaders) {
  EXPECT_EQ(verifier_context_size(T::kprobe), sizeof(struct pt_regs));
  EXPECT_EQ(verifier_context_size(T::perf_event), sizeof(struct bpf_perf_event_data));
  EXPECT_EQ(verifier_context_size(T::cgroup_sock_addr), sizeof(struct bpf_sock_addr));
  EXPECT_EQ(verifier_context_size(T::cgroup_sock), sizeof(struct bpf_sock));
  EXPECT_EQ(verifier_context_size(T::cgroup_skb), sizeof(struct __sk_buff));
  EXPECT_EQ(verifier_context_size(T::xdp), sizeof(struct xdp_md));
  // struct bpf_sock_ops grew skb_hwtstamp (u64) in Linux 6.2; older headers stop before it.
  EXPECT_GE(*verifier_context_size(T::sock_ops), sizeof(struct bpf_sock_ops));
  EXPECT_FALSE(verifier_context_size(T::cgroup_device));
  EXPECT_FALSE(verifier_context_size(T::raw));
}

TEST(ContextRules, SockOpsOffsetsMatchTheHeader) {
  const T t = T::sock_ops;
  EXPECT_TRUE(accepted(t, offsetof(struct bpf_sock_ops, reply), 4, true));
  EXPECT_TRUE(accepted(t, offsetof(struct bpf_sock_ops, sk_txhash), 4, true));
  EXPECT_FALSE(accepted(t, offsetof(struct bpf_sock_ops, op), 4, true));
  EXPECT_TRUE(accepted(t, offsetof(struct bpf_sock_ops, bytes_received), 8, false));
  EXPECT_TRUE(accepted(t, offsetof(struct bpf_sock_ops, bytes_acked), 8, false));
  EXPECT_FALSE(accepted(t, offsetof(struct bpf_sock_ops, bytes_acked), 4, false));
  EXPECT_FALSE(accepted(t, offsetof(struct bpf_sock_ops, sk), 8, false));
  EXPECT_EQ(value_of(t, offsetof(struct bpf_sock_ops, skb_data), 8), ContextValue::packet);
  EXPECT_EQ(value_of(t, offsetof(struct bpf_sock_ops, skb_data_end), 8), ContextValue::packet_end);
  EXPECT_TRUE(accepted(t, offsetof(struct bpf_sock_ops, skb_tcp_flags), 1, false));
  EXPECT_TRUE(accepted(t, offsetof(struct bpf_sock_ops, skb_len), 4, false));
}

TEST(ContextRules, SockAddrAndPerfEventOffsetsMatchTheHeaders) {
  auto sock_addr = [](std::size_t off, int size, bool write, std::uint32_t attach) {
    return std::holds_alternative<ContextValue>(
        context_rule(T::cgroup_sock_addr, static_cast<std::int32_t>(off), size, write, attach));
  };
  EXPECT_TRUE(sock_addr(offsetof(struct bpf_sock_addr, user_port), 4, true, 0));
  EXPECT_TRUE(
      sock_addr(offsetof(struct bpf_sock_addr, user_ip6), 8, true, BPF_CGROUP_INET6_CONNECT));
  EXPECT_FALSE(
      sock_addr(offsetof(struct bpf_sock_addr, user_ip6), 8, true, BPF_CGROUP_INET4_CONNECT));
  EXPECT_TRUE(
      sock_addr(offsetof(struct bpf_sock_addr, user_ip4), 4, false, BPF_CGROUP_INET4_GETSOCKNAME));
  EXPECT_TRUE(
      sock_addr(offsetof(struct bpf_sock_addr, msg_src_ip4), 4, true, BPF_CGROUP_UDP4_SENDMSG));
  EXPECT_FALSE(
      sock_addr(offsetof(struct bpf_sock_addr, msg_src_ip4), 4, true, BPF_CGROUP_UDP4_RECVMSG));
  EXPECT_TRUE(
      sock_addr(offsetof(struct bpf_sock_addr, msg_src_ip6), 4, false, BPF_CGROUP_UDP6_SENDMSG));
  EXPECT_FALSE(accepted(T::cgroup_sock_addr, offsetof(struct bpf_sock_addr, family), 4, true));
  EXPECT_TRUE(accepted(T::cgroup_sock_addr, offsetof(struct bpf_sock_addr, protocol), 4, false));
  EXPECT_FALSE(accepted(T::cgroup_sock_addr, offsetof(struct bpf_sock_addr, sk), 8, false));
  EXPECT_TRUE(
      accepted(T::perf_event, offsetof(struct bpf_perf_event_data, sample_period), 4, false));
  EXPECT_TRUE(accepted(T::perf_event, offsetof(struct bpf_perf_event_data, addr), 8, false));
  EXPECT_FALSE(accepted(T::perf_event, offsetof(struct bpf_perf_event_data, regs), 4, false));
}

TEST(ContextRules, BpfSockOffsetsMatchTheHeader) {
  auto sock = [](std::size_t off, int size, bool write, std::uint32_t attach) {
    return std::holds_alternative<ContextValue>(
        context_rule(T::cgroup_sock, static_cast<std::int32_t>(off), size, write, attach));
  };
  EXPECT_TRUE(sock(offsetof(struct bpf_sock, mark), 4, true, BPF_CGROUP_INET_SOCK_CREATE));
  EXPECT_TRUE(sock(offsetof(struct bpf_sock, priority), 4, true, BPF_CGROUP_INET_SOCK_RELEASE));
  EXPECT_FALSE(sock(offsetof(struct bpf_sock, mark), 4, false, BPF_CGROUP_INET4_POST_BIND));
  EXPECT_TRUE(sock(offsetof(struct bpf_sock, src_ip4), 4, false, BPF_CGROUP_INET4_POST_BIND));
  EXPECT_TRUE(sock(offsetof(struct bpf_sock, src_ip6), 4, false, BPF_CGROUP_INET6_POST_BIND));
  EXPECT_TRUE(sock(offsetof(struct bpf_sock, src_port), 4, false, BPF_CGROUP_INET6_POST_BIND));
  EXPECT_TRUE(sock(offsetof(struct bpf_sock, dst_port), 2, false, BPF_CGROUP_INET_SOCK_CREATE));
  EXPECT_TRUE(sock(offsetof(struct bpf_sock, dst_ip4), 4, false, BPF_CGROUP_INET_SOCK_CREATE));
  EXPECT_TRUE(sock(offsetof(struct bpf_sock, dst_ip6), 4, false, BPF_CGROUP_INET_SOCK_CREATE));
  EXPECT_TRUE(sock(offsetof(struct bpf_sock, state), 4, false, BPF_CGROUP_INET_SOCK_CREATE));
  EXPECT_TRUE(
      sock(offsetof(struct bpf_sock, rx_queue_mapping), 4, false, BPF_CGROUP_INET_SOCK_CREATE));
  EXPECT_FALSE(sock(offsetof(struct bpf_sock, family), 4, true, BPF_CGROUP_INET_SOCK_CREATE));
}

TEST(ContextRules, ReturnRangesFollowTheAttachType) {
  auto range = [](T type, std::uint32_t attach) {
    auto r = return_range(type, attach);
    return r ? std::to_string(r->min) + "," + std::to_string(r->max) : std::string("none");
  };
  EXPECT_EQ(range(T::cgroup_skb, BPF_CGROUP_INET_INGRESS), "0,1");
  EXPECT_EQ(range(T::cgroup_skb, BPF_CGROUP_INET_EGRESS), "0,3");
  EXPECT_EQ(range(T::cgroup_sock_addr, BPF_CGROUP_INET4_CONNECT), "0,1");
  EXPECT_EQ(range(T::cgroup_sock_addr, BPF_CGROUP_INET4_BIND), "0,3");
  EXPECT_EQ(range(T::cgroup_sock_addr, BPF_CGROUP_INET6_BIND), "0,3");
  EXPECT_EQ(range(T::cgroup_sock_addr, BPF_CGROUP_UDP4_RECVMSG), "1,1");
  EXPECT_EQ(range(T::cgroup_sock_addr, BPF_CGROUP_UDP6_RECVMSG), "1,1");
  EXPECT_EQ(range(T::cgroup_sock_addr, BPF_CGROUP_INET4_GETPEERNAME), "1,1");
  EXPECT_EQ(range(T::cgroup_sock_addr, BPF_CGROUP_INET6_GETSOCKNAME), "1,1");
  EXPECT_EQ(range(T::sock_ops, 0), "0,1");
  EXPECT_EQ(range(T::xdp, 0), "none");
  EXPECT_EQ(range(T::kprobe, 0), "none");
}

// One source of truth: for the types the rewriter knows, the verifier admits exactly what
// plan_access admits, and types data, data_end and data_meta as packet pointers.
TEST(ContextRules, RewriterTypesFollowPlanAccess) {
  for (T type : {T::xdp, T::socket_filter, T::sched_cls}) {
    const int bytes = static_cast<int>(*verifier_context_size(type));
    for (int off = -8; off < bytes + 8; ++off)
      for (int size : {1, 2, 4, 8})
        for (bool write : {false, true}) {
          const bool planned =
              std::holds_alternative<AccessPlan>(plan_access(type, off, size, write));
          EXPECT_EQ(accepted(type, off, size, write), planned)
              << program_type_name(type) << " off " << off << " size " << size << " write "
              << write;
        }
    for (const ContextField& f : context_fields(type)) {
      if (!f.readable) continue;
      const ContextValue want = f.name == "data"        ? ContextValue::packet
                                : f.name == "data_end"  ? ContextValue::packet_end
                                : f.name == "data_meta" ? ContextValue::packet_meta
                                                        : ContextValue::scalar;
      if (f.size == 4 || f.size == 8) {
        EXPECT_EQ(value_of(type, f.offset, f.size == 8 ? 8 : 4), want) << f.name;
      }
    }
  }
}

TEST(ContextRules, NothingAcceptedOutsideTheContextOrMisaligned) {
  for (T type :
       {T::xdp, T::socket_filter, T::sched_cls, T::sched_act, T::cgroup_skb, T::sk_skb, T::lwt_in,
        T::lwt_out, T::lwt_xmit, T::lwt_seg6local, T::kprobe, T::tracepoint, T::raw_tracepoint,
        T::perf_event, T::sock_ops, T::cgroup_sock_addr, T::cgroup_sock}) {
    const int bytes = static_cast<int>(*verifier_context_size(type));
    for (int off = -16; off < bytes + 16; ++off)
      for (int size : {1, 2, 4, 8})
        for (bool write : {false, true}) {
          if (!accepted(type, off, size, write)) continue;
          EXPECT_TRUE(off >= 0 && off + size <= bytes && off % size == 0)
              << program_type_name(type) << " off " << off << " size " << size;
        }
  }
}

}  // namespace
}  // namespace bpfvm::progtypes
