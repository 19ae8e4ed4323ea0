// Running a typed program on a packet, as Linux's BPF_PROG_TEST_RUN does
// (net/bpf/test_run.c): the harness builds the packet buffer with the kernel's headroom and
// tailroom, the internal context (kernel-style, 64-bit packet pointers) the rewritten program
// reads, and the regions checked mode admits; after the run it returns r0, the packet as
// data_out would hold it, and the context fields ctx_out would.
#pragma once

#include <bpfvm/jit.hpp>
#include <bpfvm/network.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/program_type.hpp>
#include <bpfvm/result.hpp>
#include <bpfvm/vm.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace bpfvm {

class Map;

// The __sk_buff fields BPF_PROG_TEST_RUN's ctx_in may set and ctx_out returns
// (convert___skb_to_skb / convert_skb_to___skb). Defaults are what a run without ctx_in sees.
struct SkbMetadata {
  std::uint32_t mark = 0;
  std::uint32_t priority = 0;
  std::uint32_t ingress_ifindex = 0;
  std::uint32_t ifindex = 1;  // the loopback device test_run uses
  std::uint32_t cb[5] = {};
  std::uint64_t tstamp = 0;
  std::uint32_t wire_len = 0;  // 0: the packet's length
  std::uint32_t gso_segs = 0;
  std::uint32_t gso_size = 0;
  std::uint64_t hwtstamp = 0;
  // Not settable by ctx_in, but readable after the run.
  std::uint32_t tc_index = 0;
  std::uint32_t tc_classid = 0;
  std::uint32_t queue_mapping = 0;

  friend bool operator==(const SkbMetadata&, const SkbMetadata&) = default;
};

// The xdp_md fields ctx_in may set (ingress_ifindex names the receiving device; test_run
// uses the loopback device, 1, when none is given).
struct XdpMetadata {
  std::uint32_t ingress_ifindex = 1;
  std::uint32_t rx_queue_index = 0;
  std::uint32_t metadata_size = 0;  // bytes of data_meta before the packet (ctx_in data_meta)
};

struct PacketRunInput {
  ProgramType type = ProgramType::raw;
  // raw: the memory r1 points at (r2 holds its length). Other types: the frame, starting
  // with its Ethernet header (and, for xdp, `xdp.metadata_size` bytes of metadata first).
  std::span<const std::uint8_t> packet;
  SkbMetadata skb;
  XdpMetadata xdp;
  // Runs of the program, as BPF_PROG_TEST_RUN's `repeat`: the buffer and context are built
  // once and every run sees what the previous one left (test_run does not rebuild them
  // either); the output is the last run's. 0 counts as 1. A failing run ends the repeat.
  std::uint32_t repeat = 1;
  // The host network the helpers see: fib_lookup's routes and neighbours, the interfaces
  // clone_redirect may send to, the flow hash key (docs/network.md). nullptr:
  // Network::loopback(). Must outlive the run.
  const Network* network = nullptr;
  // socket_filter, sched_cls: the cookie of the socket BPF_PROG_TEST_RUN attaches to the skb
  // (its dummy socket, skb->sk), which bpf_get_socket_cookie returns (sock_gen_cookie:
  // Linux numbers sockets from a counter on first use, never 0). 0: the skb has no socket,
  // as on tc ingress: bpf_get_socket_cookie returns 0 and bpf_get_netns_cookie(skb) gives
  // init_net's cookie.
  std::uint64_t socket_cookie = 1;
};

// Where an xdp program redirected the packet (XDP_REDIRECT): bpf_redirect_map's map and key,
// or, when `map` is nullptr, bpf_redirect's interface (`ifindex`).
struct XdpRedirect {
  Map* map = nullptr;
  std::uint32_t key = 0;
  std::uint64_t flags = 0;
  std::uint32_t ifindex = 0;  // bpf_redirect (map == nullptr)
};

// What bpf_redirect, bpf_redirect_neigh or bpf_redirect_peer recorded in a sched_cls run
// (struct bpf_redirect_info: tgt_index, flags and the next hop); the kernel acts on it when
// the program returns TC_ACT_REDIRECT. `flags` is Linux's ri->flags: BPF_F_INGRESS (1) from
// bpf_redirect, or the internal BPF_F_NEIGH (2, with BPF_F_NEXTHOP 8 when a next hop was
// given) and BPF_F_PEER (4).
struct TcRedirect {
  std::uint32_t ifindex = 0;
  bool ingress = false;  // BPF_F_INGRESS: into the interface's receive path
  std::uint64_t flags = 0;
  bool neigh = false;  // bpf_redirect_neigh: out through the neighbour subsystem
  bool peer = false;   // bpf_redirect_peer: into the peer of a veth/netkit device
  // bpf_redirect_neigh's struct bpf_redir_neigh: AF_INET (2) or AF_INET6 (10) and the next
  // hop's address in network byte order; family 0 when none was given (a FIB lookup picks it).
  std::uint32_t nexthop_family = 0;
  std::uint8_t nexthop[16] = {};
};

// The tunnel metadata bpf_skb_set_tunnel_key attached to the packet (struct ip_tunnel_key of
// the metadata dst, IP_TUNNEL_INFO_TX): addresses in network byte order (IPv4 in the first 4
// bytes), `flags` the TUNNEL_* bits (include/net/ip_tunnels.h: CSUM 0x1, KEY 0x4, SEQ 0x8,
// DONT_FRAGMENT 0x100, NOCACHE 0x2000).
struct TunnelKey {
  std::uint64_t id = 0;
  bool ipv6 = false;
  std::uint8_t remote[16] = {};  // ip_tunnel_key.u.ipv4/ipv6.dst
  std::uint8_t local[16] = {};   // .src
  std::uint8_t tos = 0;
  std::uint8_t ttl = 0;
  std::uint32_t label = 0;  // IPv6 flow label (20 bits)
  std::uint16_t flags = 0;
  // bpf_skb_set_tunnel_opt: the tunnel options (Geneve, VXLAN GBP, ERSPAN), up to 252 bytes;
  // setting them adds the options-present bits (0x0800 | 0x1000 | 0x4000 | 0x8000) to `flags`.
  std::vector<std::uint8_t> options;

  friend bool operator==(const TunnelKey&, const TunnelKey&) = default;
};

struct PacketRunOutput {
  std::uint64_t return_value = 0;  // r0 (test_run reports its low 32 bits)
  // data_out: the packet after the run (after xdp_adjust_head/tail/meta and
  // skb_change_head/tail; xdp metadata included; for socket_filter, the Ethernet header zeroed
  // as test_run does).
  std::vector<std::uint8_t> packet;
  SkbMetadata skb;  // socket_filter / sched_cls: ctx_out
  std::optional<XdpRedirect> redirect;
  // sched_cls: the last bpf_redirect that succeeded (TC_ACT_REDIRECT).
  std::optional<TcRedirect> tc_redirect;
  // sched_cls: the tunnel key bpf_skb_set_tunnel_key set last.
  std::optional<TunnelKey> tunnel_key;
  // What bpf_clone_redirect sent, in call order (every repeat's).
  std::vector<ClonedPacket> clones;
};

// Runs the program on a RunInput with RunOptions: the interpreter, a JitProgram, or any
// engine the caller picks.
using ProgramRunner = std::function<Result<std::uint64_t>(const RunInput&, const RunOptions&)>;

// Builds the context for `input.type`, runs, and collects the output. `options.regions` are
// kept and the packet buffer is added to them. Fails on packets test_run would refuse
// (shorter than an Ethernet header, longer than a page allows).
Result<PacketRunOutput> run_packet(const ProgramRunner& runner, const PacketRunInput& input,
                                   const RunOptions& options = {});

// The same with one of bpfvm's engines (run_program).
Result<PacketRunOutput> run_packet(const Program& program, const PacketRunInput& input,
                                   Engine engine = Engine::interpreter,
                                   const RunOptions& options = {});

}  // namespace bpfvm
