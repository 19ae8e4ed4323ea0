// The embedder's network model (network.hpp): addresses, the loopback default and the line
// format `bpfvm run --network` reads.
#include <bpfvm/network.hpp>

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <sstream>

namespace bpfvm {
namespace {

std::optional<std::uint32_t> number(std::string_view text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<MacAddress> parse_mac(std::string_view text) {
  MacAddress mac{};
  if (text.size() != 17) return std::nullopt;
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && text[3 * i - 1] != ':') return std::nullopt;
    std::uint8_t byte = 0;
    auto [end, ec] = std::from_chars(text.data() + 3 * i, text.data() + 3 * i + 2, byte, 16);
    if (ec != std::errc{} || end != text.data() + 3 * i + 2) return std::nullopt;
    mac[i] = byte;
  }
  return mac;
}

// "10.0.0.0/24" -> address and prefix length (checked against the family's size).
std::optional<InterfaceAddress> parse_prefix(std::string_view text) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = IpAddress::parse(text.substr(0, slash));
  auto length = number(text.substr(slash + 1));
  if (!address || !length || *length > address->size() * 8) return std::nullopt;
  return InterfaceAddress{*address, static_cast<std::uint8_t>(*length)};
}

Error line_error(std::size_t line, std::string_view text, std::string_view why) {
  return make_error(Error::Kind::usage, fmt::format("network line {}: '{}': {}", line, text, why));
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string copy(text);
  IpAddress address;
  if (inet_pton(AF_INET, copy.c_str(), address.bytes.data()) == 1) {
    address.family = inet;
    return address;
  }
  if (inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) == 1) {
    address.family = inet6;
    return address;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == inet ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
  return text;
}

Network Network::loopback() {
  Network network;
  NetInterface lo{.ifindex = 1, .name = "lo", .mtu = 65536, .forwarding = false};
  lo.addresses.push_back({*IpAddress::parse("127.0.0.1"), 8});
  lo.addresses.push_back({*IpAddress::parse("::1"), 128});
  network.interfaces.push_back(std::move(lo));
  return network;
}

const NetInterface* Network::find_interface(std::uint32_t ifindex) const {
  for (const NetInterface& interface : interfaces)
    if (interface.ifindex == ifindex) return &interface;
  return nullptr;
}

Status Network::add_lines(std::string_view text) {
  std::istringstream lines{std::string(text)};
  std::string raw;
  for (std::size_t line_number = 1; std::getline(lines, raw); ++line_number) {
    std::string_view line = raw;
    if (std::size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    std::istringstream words{std::string(line)};
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.empty()) continue;
    auto fail = [&](std::string_view why) { return line_error(line_number, raw, why); };
    // The value after keyword w[i], or an error.
    auto value_after = [&](std::size_t& i) -> std::optional<std::string> {
      if (i + 1 >= w.size()) return std::nullopt;
      return w[++i];
    };
    if (w[0] == "link") {
      if (w.size() < 3) return fail("expected: link <ifindex> <name> ...");
      auto ifindex = number(w[1]);
      if (!ifindex || *ifindex == 0) return fail("bad ifindex");
      // A known ifindex is changed (`link 1 lo forward` turns forwarding on for lo), a new
      // one added.
      auto existing = std::find_if(interfaces.begin(), interfaces.end(),
                                   [&](const NetInterface& i) { return i.ifindex == *ifindex; });
      NetInterface interface { .ifindex = *ifindex, .name = w[2] };
      if (existing != interfaces.end()) {
        interface = *existing;
        interface.name = w[2];
      }
      for (std::size_t i = 3; i < w.size(); ++i) {
        if (w[i] == "down" || w[i] == "up") {
          interface.up = w[i] == "up";
        } else if (w[i] == "noforward" || w[i] == "forward") {
          interface.forwarding = w[i] == "forward";
        } else if (w[i] == "mac") {
          auto v = value_after(i);
          auto mac = v ? parse_mac(*v) : std::nullopt;
          if (!mac) return fail("bad mac (aa:bb:cc:dd:ee:ff)");
          interface.mac = *mac;
        } else if (w[i] == "mtu") {
          auto v = value_after(i);
          auto mtu = v ? number(*v) : std::nullopt;
          if (!mtu) return fail("bad mtu");
          interface.mtu = *mtu;
        } else {
          return fail(fmt::format("unknown word '{}'", w[i]));
        }
      }
      if (existing != interfaces.end())
        *existing = std::move(interface);
      else
        interfaces.push_back(std::move(interface));
    } else if (w[0] == "addr") {
      auto ifindex = w.size() == 3 ? number(w[1]) : std::nullopt;
      auto prefix = w.size() == 3 ? parse_prefix(w[2]) : std::nullopt;
      if (!ifindex || !prefix) return fail("expected: addr <ifindex> <address>/<prefix_len>");
      auto found = std::find_if(interfaces.begin(), interfaces.end(),
                                [&](const NetInterface& i) { return i.ifindex == *ifindex; });
      if (found == interfaces.end()) return fail("no such ifindex (add its link line first)");
      found->addresses.push_back(*prefix);
    } else if (w[0] == "route") {
      auto prefix = w.size() >= 2 ? parse_prefix(w[1]) : std::nullopt;
      if (!prefix) return fail("expected: route <prefix>/<len> ...");
      Route route{.prefix = prefix->address, .prefix_len = prefix->prefix_len};
      bool has_dev = false;
      for (std::size_t i = 2; i < w.size(); ++i) {
        if (w[i] == "blackhole") {
          route.type = RouteType::blackhole;
        } else if (w[i] == "unreachable") {
          route.type = RouteType::unreachable;
        } else if (w[i] == "prohibit") {
          route.type = RouteType::prohibit;
        } else if (w[i] == "via" || w[i] == "src") {
          const bool via = w[i] == "via";
          auto v = value_after(i);
          auto address = v ? IpAddress::parse(*v) : std::nullopt;
          if (!address) return fail("bad address");
          (via ? route.gateway : route.source) = *address;
        } else if (w[i] == "dev" || w[i] == "metric" || w[i] == "table" || w[i] == "mtu") {
          const std::string key = w[i];
          auto v = value_after(i);
          auto n = v ? number(*v) : std::nullopt;
          if (!n) return fail(fmt::format("bad {}", key));
          if (key == "dev") route.ifindex = *n, has_dev = true;
          if (key == "metric") route.metric = *n;
          if (key == "table") route.table = *n;
          if (key == "mtu") route.mtu = *n;
        } else {
          return fail(fmt::format("unknown word '{}'", w[i]));
        }
      }
      if (route.type == RouteType::unicast && !has_dev) return fail("a unicast route needs dev");
      if (route.gateway && route.gateway->family != route.prefix.family)
        return fail("the gateway's family differs from the prefix's");
      routes.push_back(route);
    } else if (w[0] == "neigh") {
      auto ifindex = w.size() == 4 ? number(w[1]) : std::nullopt;
      auto address = w.size() == 4 ? IpAddress::parse(w[2]) : std::nullopt;
      auto mac = w.size() == 4 ? parse_mac(w[3]) : std::nullopt;
      if (!ifindex || !address || !mac) return fail("expected: neigh <ifindex> <address> <mac>");
      neighbours.push_back({*ifindex, *address, *mac});
    } else {
      return fail("expected link, addr, route or neigh");
    }
  }
  return Ok{};
}

}  // namespace bpfvm
