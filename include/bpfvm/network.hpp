// The host's networking state as packet helpers see it (docs/network.md): interfaces, routes
// and neighbours for bpf_fib_lookup, the interfaces bpf_clone_redirect may send to, and the
// key of the flow hash bpf_get_hash_recalc computes. In Linux this is the network namespace
// the program runs in; in bpfvm the embedder builds one and hands it to a packet run
// (PacketRunInput::network).
//
//   Network net = Network::loopback();
//   net.interfaces.push_back({.ifindex = 2, .name = "eth0", .mac = {2, 0, 0, 0, 0, 1},
//                             .addresses = {{*IpAddress::parse("10.0.0.1"), 24}}});
//   net.routes.push_back({.prefix = *IpAddress::parse("0.0.0.0"), .prefix_len = 0,
//                         .gateway = IpAddress::parse("10.0.0.254"), .ifindex = 2});
//   net.neighbours.push_back({.ifindex = 2, .address = *IpAddress::parse("10.0.0.254"),
//                             .mac = {2, 0, 0, 0, 0, 0xfe}});
#pragma once

#include <bpfvm/result.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm {

using MacAddress = std::array<std::uint8_t, 6>;

// An IPv4 or IPv6 address, in network byte order (IPv4 in the first 4 bytes).
struct IpAddress {
  static constexpr std::uint8_t inet = 2;    // AF_INET
  static constexpr std::uint8_t inet6 = 10;  // AF_INET6
  std::uint8_t family = inet;
  std::array<std::uint8_t, 16> bytes{};

  // "10.0.0.1" or "fe80::1"; nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
  std::size_t size() const { return family == inet ? 4 : 16; }
  std::string to_string() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// An address on an interface (`ip addr add 10.0.0.1/24 dev eth0`): like Linux, it makes the
// address local (the local table: lookups for it are not forwarded) and its prefix reachable
// through the interface (a connected route in the main table, metric 0, no gateway).
struct InterfaceAddress {
  IpAddress address;
  std::uint8_t prefix_len = 32;
};

struct NetInterface {
  std::uint32_t ifindex = 0;
  std::string name;
  MacAddress mac{};
  std::uint32_t mtu = 1500;
  bool up = true;
  // net.ipv4.conf.<dev>.forwarding / net.ipv6.conf.<dev>.forwarding: bpf_fib_lookup returns
  // BPF_FIB_LKUP_RET_FWD_DISABLED on an input interface without it.
  bool forwarding = true;
  std::vector<InterfaceAddress> addresses = {};
};

// A route's type (uapi rtnetlink RTN_*): what bpf_fib_lookup reports for destinations it
// covers.
enum class RouteType : std::uint8_t { unicast, blackhole, unreachable, prohibit };

struct Route {
  IpAddress prefix;
  std::uint8_t prefix_len = 0;
  std::optional<IpAddress> gateway = std::nullopt;  // none: the destination is on the link
  std::uint32_t ifindex = 0;
  RouteType type = RouteType::unicast;
  std::uint32_t metric = 0;   // `metric` (IPv4 fib_priority; IPv6 routes default to 1024)
  std::uint32_t table = 254;  // RT_TABLE_MAIN
  // `mtu lock N`: the path MTU bpf_fib_lookup checks tot_len against; 0 uses the device's
  // MTU (Linux ignores an unlocked route MTU when forwarding).
  std::uint32_t mtu = 0;
  // `src`: the preferred source (BPF_FIB_LOOKUP_SRC).
  std::optional<IpAddress> source = std::nullopt;
};

// A resolved neighbour (`ip neigh add ... lladdr ... nud permanent`).
struct Neighbour {
  std::uint32_t ifindex = 0;
  IpAddress address;
  MacAddress mac{};
};

// A packet bpf_clone_redirect sent: a copy of the packet as it was at the call.
struct ClonedPacket {
  std::uint32_t ifindex = 0;
  bool ingress = false;  // BPF_F_INGRESS: delivered to the interface's receive path
  std::vector<std::uint8_t> packet;
};

struct Network {
  std::vector<NetInterface> interfaces;
  std::vector<Route> routes;
  std::vector<Neighbour> neighbours;
  // The siphash key of the flow hash (Linux: hashrnd, random per boot). Fixed here, so that
  // hashes are reproducible; set it to mimic another host's spread.
  std::array<std::uint64_t, 2> flow_hash_key{};
  // net->net_cookie (bpf_get_netns_cookie, SO_NETNS_COOKIE): the namespace's cookie, which
  // Linux draws from a counter when the namespace is made, so it is stable for its life.
  std::uint64_t netns_cookie = 1;
  // init_net's cookie, which bpf_get_netns_cookie returns for a NULL context or an skb
  // without a socket. The same as netns_cookie for a network that stands for init_net.
  std::uint64_t init_netns_cookie = 1;

  // A namespace as fresh as BPF_PROG_TEST_RUN's: `lo` (ifindex 1, MTU 65536, 127.0.0.1/8 and
  // ::1/128), forwarding off as in a new network namespace.
  static Network loopback();

  // Reads `text` as lines of a small `ip` command subset (docs/network.md):
  //   link <ifindex> <name> [mac aa:bb:cc:dd:ee:ff] [mtu N] [up|down] [forward|noforward]
  //        (an ifindex already there is changed: `link 1 lo forward`)
  //   addr <ifindex> <address>/<prefix_len>
  //   route <prefix>/<len> [via <gateway>] dev <ifindex> [metric N] [table N] [mtu N]
  //         [src <address>] [blackhole|unreachable|prohibit]
  //   neigh <ifindex> <address> <mac>
  // and adds them to this network. Blank lines and # comments are skipped; errors name the
  // line.
  Status add_lines(std::string_view text);

  const NetInterface* find_interface(std::uint32_t ifindex) const;
};

}  // namespace bpfvm
