// bpf_fib_lookup's routing (fib.hpp). The FIB is the Network's routes plus what Linux derives
// from interface addresses: a local table (255) holding every address (and, on the loopback
// device, ifindex 1, its whole prefix) and IPv4 subnet broadcast addresses, and connected
// routes in the main table (254; IPv4 metric 0, IPv6 metric 256). Without
// BPF_FIB_LOOKUP_DIRECT the default rules apply: local, then main, then default (253); with
// it, main (merged with local, as Linux keeps them without policy rules) or the table
// BPF_FIB_LOOKUP_TBID names. Longest prefix wins, then lowest metric.
#include "progtypes/fib.hpp"

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace bpfvm::progtypes {
namespace {

constexpr std::uint32_t table_local = 255, table_main = 254, table_default = 253;

// What a table lookup finds: a route, or a local/broadcast destination (RTN_LOCAL,
// RTN_BROADCAST: not forwarded).
struct Found {
  const Route* route = nullptr;
  bool local = false;
  std::uint8_t prefix_len = 0;
  std::uint32_t metric = 0;
};

bool in_prefix(const IpAddress& address, const IpAddress& prefix, std::uint8_t length) {
  if (address.family != prefix.family) return false;
  for (std::size_t bit = 0; bit < length; bit += 8) {
    const std::size_t byte = bit / 8;
    const unsigned bits = length - bit >= 8 ? 8 : length - bit;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((address.bytes[byte] & mask) != (prefix.bytes[byte] & mask)) return false;
  }
  return true;
}

class Fib {
 public:
  explicit Fib(const Network& network) : network_(network) {
    for (const NetInterface& interface : network.interfaces) {
      if (!interface.up) continue;
      for (const InterfaceAddress& address : interface.addresses) {
        const bool v4 = address.address.family == IpAddress::inet;
        connected_.push_back({.prefix = address.address,
                              .prefix_len = address.prefix_len,
                              .ifindex = interface.ifindex,
                              .metric = v4 ? 0u : 256u});
        const bool loopback = interface.ifindex == 1;  // LOOPBACK_IFINDEX
        local_.push_back(
            {address.address, loopback ? address.prefix_len
                                       : static_cast<std::uint8_t>(address.address.size() * 8)});
        if (v4 && address.prefix_len < 31) {  // the subnet's broadcast address
          IpAddress broadcast = address.address;
          for (std::size_t bit = address.prefix_len; bit < 32; ++bit)
            broadcast.bytes[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
          local_.push_back({broadcast, 32});
        }
      }
    }
  }

  bool table_exists(std::uint32_t table) const {
    if (table == table_local || table == table_main) return true;
    for (const Route& route : network_.routes)
      if (route.table == table) return true;
    return false;
  }

  // `oif`: with BPF_FIB_LOOKUP_OUTPUT, only next hops through that interface qualify
  // (fib_lookup_good_nhc's flowi4_oif test); 0 for any.
  std::optional<Found> lookup(std::uint32_t table, const IpAddress& dst, std::uint32_t oif) const {
    std::optional<Found> best;
    auto consider = [&](const Found& found) {
      if (!best || found.prefix_len > best->prefix_len ||
          (found.prefix_len == best->prefix_len && found.metric < best->metric))
        best = found;
    };
    // Linux keeps the local and main tables merged in one trie while no policy rules were
    // added (fib_unmerge), so a direct lookup in main finds local addresses too.
    if (table == table_local || table == table_main) {
      for (const InterfaceAddress& local : local_)
        if (in_prefix(dst, local.address, local.prefix_len))
          consider({.local = true, .prefix_len = local.prefix_len});
    }
    if (table == table_main) {
      for (const Route& route : connected_)
        if (in_prefix(dst, route.prefix, route.prefix_len) && (oif == 0 || route.ifindex == oif))
          consider({&route, false, route.prefix_len, route.metric});
    }
    for (const Route& route : network_.routes) {
      if (route.table != table || !in_prefix(dst, route.prefix, route.prefix_len)) continue;
      if (route.type == RouteType::unicast) {
        const NetInterface* dev = network_.find_interface(route.ifindex);
        if (dev == nullptr || !dev->up) continue;  // a dead nexthop
        if (oif != 0 && route.ifindex != oif) continue;
      }
      consider({&route, false, route.prefix_len, route.metric});
    }
    return best;
  }

 private:
  const Network& network_;
  std::vector<Route> connected_;
  std::vector<InterfaceAddress> local_;
};

IpAddress address_of(std::uint8_t family, const std::uint8_t* bytes) {
  IpAddress address;
  address.family = family;
  std::memcpy(address.bytes.data(), bytes, family == IpAddress::inet ? 4 : 16);
  return address;
}

// rt6_need_strict: multicast, link-local and loopback IPv6 addresses are never forwarded.
bool need_strict(const IpAddress& a) {
  if (a.bytes[0] == 0xff) return true;
  if (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80) return true;
  static const std::uint8_t loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(a.bytes.data(), loopback, 16) == 0;
}

// inet_select_addr / ipv6_dev_get_saddr, simplified: the device's first address of the
// family whose prefix holds `toward`, else its first address of the family (IPv6: not
// link-local).
std::optional<IpAddress> select_source(const NetInterface& dev, const IpAddress& toward) {
  std::optional<IpAddress> first;
  for (const InterfaceAddress& address : dev.addresses) {
    if (address.address.family != toward.family) continue;
    if (toward.family == IpAddress::inet6 && need_strict(address.address)) continue;
    if (in_prefix(toward, address.address, address.prefix_len)) return address.address;
    if (!first) first = address.address;
  }
  return first;
}

}  // namespace

int fib_lookup_family(const Network& network, FibParams& params, std::uint32_t flags,
                      bool check_mtu) {
  const bool v4 = params.family == IpAddress::inet;
  const IpAddress dst = address_of(params.family, params.dst);
  if (!v4 && (need_strict(dst) || need_strict(address_of(params.family, params.src))))
    return fib_ret::not_fwded;
  const NetInterface* in = network.find_interface(params.ifindex);
  if (in == nullptr) return -ENODEV;
  if (!in->forwarding) return fib_ret::fwd_disabled;

  const Fib fib(network);
  const std::uint32_t oif = (flags & fib_flag::output) ? params.ifindex : 0;
  std::optional<Found> found;
  if (flags & fib_flag::direct) {
    std::uint32_t table = table_main;
    if (flags & fib_flag::tbid) {
      table = params.vlan;
      params.vlan = 0;  // tbid shares bytes with the VLAN output
    }
    if (!fib.table_exists(table)) return fib_ret::not_fwded;
    found = fib.lookup(table, dst, oif);
  } else {
    for (std::uint32_t table : {table_local, table_main, table_default})
      if ((found = fib.lookup(table, dst, oif))) break;
  }
  // No route: -ENETUNREACH from fib_lookup (IPv6: fib6_null_entry), not forwarded.
  if (!found || found->local) return fib_ret::not_fwded;
  const Route& route = *found->route;
  switch (route.type) {
    case RouteType::blackhole: return fib_ret::blackhole;
    case RouteType::unreachable: return fib_ret::unreachable;
    case RouteType::prohibit: return fib_ret::prohibit;
    case RouteType::unicast: break;
  }
  const NetInterface* out = network.find_interface(route.ifindex);
  if (out == nullptr) return fib_ret::not_fwded;

  std::uint32_t mtu = 0;
  if (check_mtu) {
    mtu = route.mtu != 0 ? route.mtu : out->mtu;
    if (v4 && mtu > 0xffff) mtu = 0xffff;  // IP_MAX_MTU
    if (params.tot_len > mtu) {
      params.tot_len = static_cast<std::uint16_t>(mtu);  // mtu_result
      return fib_ret::frag_needed;
    }
  }
  params.tos = route.metric;  // rt_metric
  params.ifindex = out->ifindex;
  if (flags & fib_flag::src) {
    std::optional<IpAddress> source = route.source;
    if (!source) source = select_source(*out, route.gateway ? *route.gateway : dst);
    if (!source) return fib_ret::no_src_addr;
    std::memcpy(params.src, source->bytes.data(), source->size());
  }
  IpAddress next_hop = dst;
  if (route.gateway) {
    next_hop = *route.gateway;
    std::memcpy(params.dst, next_hop.bytes.data(), next_hop.size());
  }
  if (!(flags & fib_flag::skip_neigh)) {
    const Neighbour* neighbour = nullptr;
    for (const Neighbour& n : network.neighbours)
      if (n.ifindex == out->ifindex && n.address == next_hop) neighbour = &n;
    if (neighbour == nullptr) return fib_ret::no_neigh;
    std::memcpy(params.dmac, neighbour->mac.data(), 6);
    std::memcpy(params.smac, out->mac.data(), 6);
  }
  // bpf_fib_set_fwd_params: no VLAN, and the MTU when it was checked.
  params.vlan = 0;
  if (mtu != 0) params.tot_len = static_cast<std::uint16_t>(mtu);
  return fib_ret::success;
}

}  // namespace bpfvm::progtypes
