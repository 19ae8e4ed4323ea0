// One-line packet descriptions for `bpfvm filter`: the link layer, VLAN tags, ARP, IPv4,
// IPv6, and TCP, UDP, ICMP and ICMPv6 over them. Anything else is named by its number; a
// header cut short by the snap length says "truncated".
#include <bpfvm/capture.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>

#include <string>

namespace bpfvm::capture {
namespace {

using Bytes = std::span<const std::uint8_t>;

std::uint16_t be16(Bytes b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

std::string ipv4_text(Bytes b, std::size_t at) {
  return fmt::format("{}.{}.{}.{}", b[at], b[at + 1], b[at + 2], b[at + 3]);
}

std::string ipv6_text(Bytes b, std::size_t at) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, b.data() + at, text, sizeof text);
  return text;
}

std::string mac_text(Bytes b, std::size_t at) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[at], b[at + 1], b[at + 2],
                     b[at + 3], b[at + 4], b[at + 5]);
}

std::string tcp_flags(std::uint8_t flags) {
  std::string out;
  if (flags & 0x02) out += 'S';
  if (flags & 0x01) out += 'F';
  if (flags & 0x04) out += 'R';
  if (flags & 0x08) out += 'P';
  if (flags & 0x10) out += '.';
  if (flags & 0x20) out += 'U';
  if (flags & 0x40) out += 'E';
  if (flags & 0x80) out += 'W';
  return out.empty() ? "none" : out;
}

// The transport layer at `at`, between `source` and `destination` (addresses as text).
std::string transport(Bytes b, std::size_t at, int protocol, const std::string& source,
                      const std::string& destination, bool v6) {
  auto ports = [&](const char* name) {
    if (b.size() < at + 4) return fmt::format("{} > {}: {} (truncated)", source, destination, name);
    return fmt::format("{}.{} > {}.{}: {}", source, be16(b, at), destination, be16(b, at + 2),
                       name);
  };
  switch (protocol) {
    case 6: {
      if (b.size() < at + 14) return ports("tcp") + " (truncated)";
      return ports("tcp") + fmt::format(" [{}]", tcp_flags(b[at + 13]));
    }
    case 17: return ports("udp");
    case 132: return ports("sctp");
    case 1:
    case 58: {
      const char* name = protocol == 1 ? "ICMP" : "ICMP6";
      if (b.size() < at + 2)
        return fmt::format("{} > {}: {} (truncated)", source, destination, name);
      return fmt::format("{} > {}: {} type {} code {}", source, destination, name, b[at],
                         b[at + 1]);
    }
    default:
      return fmt::format("{} > {}: {} {}", source, destination, v6 ? "next-header" : "proto",
                         protocol);
  }
}

std::string ipv4(Bytes b, std::size_t at) {
  if (b.size() < at + 20) return "IP (truncated)";
  std::size_t header = (b[at] & 0x0f) * 4u;
  bool fragment = (be16(b, at + 6) & 0x1fff) != 0;
  std::string source = ipv4_text(b, at + 12), destination = ipv4_text(b, at + 16);
  if (fragment)
    return fmt::format("IP {} > {}: fragment, proto {}", source, destination, b[at + 9]);
  return "IP " + transport(b, at + header, b[at + 9], source, destination, false);
}

std::string ipv6(Bytes b, std::size_t at) {
  if (b.size() < at + 40) return "IP6 (truncated)";
  return "IP6 " +
         transport(b, at + 40, b[at + 6], ipv6_text(b, at + 8), ipv6_text(b, at + 24), true);
}

std::string arp(Bytes b, std::size_t at) {
  if (b.size() < at + 28) return "ARP (truncated)";
  std::uint16_t op = be16(b, at + 6);
  if (op == 1)
    return fmt::format("ARP, Request who-has {} tell {}", ipv4_text(b, at + 24),
                       ipv4_text(b, at + 14));
  if (op == 2)
    return fmt::format("ARP, Reply {} is-at {}", ipv4_text(b, at + 14), mac_text(b, at + 8));
  return fmt::format("ARP, op {}", op);
}

// The payload of an EtherType at `at`.
std::string ethertype(Bytes b, std::size_t at, std::uint16_t type, int depth = 0) {
  switch (type) {
    case 0x0800: return ipv4(b, at);
    case 0x86dd: return ipv6(b, at);
    case 0x0806: return arp(b, at);
    case 0x8035: return "RARP";
    case 0x8100:
    case 0x88a8:
    case 0x9100:
      if (b.size() < at + 4 || depth > 8) return "VLAN (truncated)";
      return fmt::format("VLAN {}, ", be16(b, at) & 0x0fff) +
             ethertype(b, at + 4, be16(b, at + 2), depth + 1);
    case 0x8847:
    case 0x8848:
      if (b.size() < at + 4) return "MPLS (truncated)";
      return fmt::format("MPLS label {}", (be16(b, at) << 4) | (b[at + 2] >> 4));
    case 0x8863: return "PPPoE Discovery";
    case 0x8864: return "PPPoE Session";
    default: return fmt::format("ethertype 0x{:04x}", type);
  }
}

std::string ethernet(Bytes b) {
  if (b.size() < 14) return "Ethernet (truncated)";
  std::uint16_t type = be16(b, 12);
  if (type < 1536) {
    if (b.size() < 17) return "802.3 (truncated)";
    return fmt::format("802.3, LLC dsap 0x{:02x} ssap 0x{:02x}", b[14], b[15]);
  }
  return ethertype(b, 14, type);
}

std::string ip_by_version(Bytes b, std::size_t at) {
  if (b.size() <= at) return "raw IP (truncated)";
  int version = b[at] >> 4;
  if (version == 4) return ipv4(b, at);
  if (version == 6) return ipv6(b, at);
  return fmt::format("raw IP version {}", version);
}

std::string null_link(Bytes b, bool network_order) {
  if (b.size() < 4) return "NULL (truncated)";
  std::uint32_t family = network_order
                             ? (std::uint32_t{b[0]} << 24 | b[1] << 16 | b[2] << 8 | b[3])
                             : (std::uint32_t{b[3]} << 24 | b[2] << 16 | b[1] << 8 | b[0]);
  if (family == 2) return ipv4(b, 4);
  if (family == 24 || family == 28 || family == 30) return ipv6(b, 4);
  return fmt::format("NULL family {}", family);
}

}  // namespace

std::string summarize(int linktype, std::span<const std::uint8_t> data, std::uint32_t wire_length) {
  (void)wire_length;
  switch (linktype) {
    case 1: return ethernet(data);           // EN10MB
    case 0: return null_link(data, false);   // NULL: host byte order
    case 108: return null_link(data, true);  // LOOP
    case 12:
    case 14:
    case 101: return ip_by_version(data, 0);  // RAW
    case 228: return ipv4(data, 0);           // IPV4
    case 229: return ipv6(data, 0);           // IPV6
    case 113:                                 // LINUX_SLL
      if (data.size() < 16) return "SLL (truncated)";
      return ethertype(data, 16, be16(data, 14));
    case 276:  // LINUX_SLL2
      if (data.size() < 20) return "SLL2 (truncated)";
      return ethertype(data, 20, be16(data, 0));
    default: return fmt::format("link-type {}", classic::linktype_name(linktype));
  }
}

}  // namespace bpfvm::capture
