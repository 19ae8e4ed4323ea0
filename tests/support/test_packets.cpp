#include "support/test_packets.hpp"

#include <algorithm>

namespace bpfvm::test {

namespace {

using Bytes = std::vector<std::uint8_t>;

void put16(Bytes& out, std::size_t at, std::uint16_t value) {
  out[at] = static_cast<std::uint8_t>(value >> 8);
  out[at + 1] = static_cast<std::uint8_t>(value);
}

void put32(Bytes& out, std::size_t at, std::uint32_t value) {
  put16(out, at, static_cast<std::uint16_t>(value >> 16));
  put16(out, at + 2, static_cast<std::uint16_t>(value));
}

constexpr std::uint8_t kDestinationMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
constexpr std::uint8_t kSourceMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

// Ethernet header (and VLAN tags) for `ethertype`; returns the offset of the L3 header.
std::size_t ethernet(Bytes& out, std::uint16_t ethertype, int vlan_tags) {
  out.assign(14 + 4 * static_cast<std::size_t>(vlan_tags), 0);
  std::copy(std::begin(kDestinationMac), std::end(kDestinationMac), out.begin());
  std::copy(std::begin(kSourceMac), std::end(kSourceMac), out.begin() + 6);
  std::size_t at = 12;
  for (int tag = 0; tag < vlan_tags; ++tag) {
    put16(out, at, tag == 0 && vlan_tags > 1 ? 0x88a8 : 0x8100);
    put16(out, at + 2, static_cast<std::uint16_t>(100 + tag));
    at += 4;
  }
  put16(out, at, ethertype);
  return at + 2;
}

void ipv4_header(Bytes& out, std::size_t at, const Ipv4Flow& flow, std::uint8_t protocol,
                 std::size_t transport_size) {
  out.resize(at + 20 + transport_size, 0);
  out[at] = 0x45;
  put16(out, at + 2, static_cast<std::uint16_t>(20 + transport_size));
  put16(out, at + 4, 0x1234);
  out[at + 8] = 64;
  out[at + 9] = protocol;
  put32(out, at + 12, flow.source);
  put32(out, at + 16, flow.destination);
  put16(out, at + 10, static_cast<std::uint16_t>(~ones_complement_sum(&out[at], 20)));
}

// The TCP/UDP checksum over the IPv4 pseudo-header and the segment at `at`.
std::uint16_t ipv4_transport_checksum(const Bytes& out, std::size_t ip, std::size_t at,
                                      std::uint8_t protocol) {
  std::uint32_t pseudo = 0;
  for (std::size_t i = 0; i < 8; i += 2)
    pseudo += static_cast<std::uint32_t>(out[ip + 12 + i] << 8 | out[ip + 13 + i]);
  pseudo += protocol;
  pseudo += static_cast<std::uint32_t>(out.size() - at);
  return static_cast<std::uint16_t>(~ones_complement_sum(&out[at], out.size() - at, pseudo));
}

void fill_payload(Bytes& out, std::size_t from) {
  for (std::size_t i = from; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(i * 7 + 3);
}

}  // namespace

std::uint16_t ones_complement_sum(const std::uint8_t* data, std::size_t size,
                                  std::uint32_t initial) {
  std::uint64_t sum = initial;
  for (std::size_t i = 0; i + 1 < size; i += 2)
    sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (size % 2 != 0) sum += static_cast<std::uint32_t>(data[size - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::vector<std::uint8_t> ipv4_tcp(const Ipv4Flow& flow, std::size_t payload, int vlan_tags) {
  Bytes out;
  std::size_t ip = ethernet(out, 0x0800, vlan_tags);
  ipv4_header(out, ip, flow, 6, 20 + payload);
  std::size_t tcp = ip + 20;
  put16(out, tcp, flow.source_port);
  put16(out, tcp + 2, flow.destination_port);
  put32(out, tcp + 4, 1000);
  out[tcp + 12] = 5 << 4;
  out[tcp + 13] = 0x18;  // PSH, ACK
  put16(out, tcp + 14, 65535);
  fill_payload(out, tcp + 20);
  put16(out, tcp + 16, ipv4_transport_checksum(out, ip, tcp, 6));
  return out;
}

std::vector<std::uint8_t> ipv4_udp(const Ipv4Flow& flow, std::size_t payload, int vlan_tags) {
  Bytes out;
  std::size_t ip = ethernet(out, 0x0800, vlan_tags);
  ipv4_header(out, ip, flow, 17, 8 + payload);
  std::size_t udp = ip + 20;
  put16(out, udp, flow.source_port);
  put16(out, udp + 2, flow.destination_port);
  put16(out, udp + 4, static_cast<std::uint16_t>(8 + payload));
  fill_payload(out, udp + 8);
  put16(out, udp + 6, ipv4_transport_checksum(out, ip, udp, 17));
  return out;
}

std::vector<std::uint8_t> ipv4_icmp_echo(const Ipv4Flow& flow, std::size_t payload) {
  Bytes out;
  std::size_t ip = ethernet(out, 0x0800, 0);
  ipv4_header(out, ip, flow, 1, 8 + payload);
  std::size_t icmp = ip + 20;
  out[icmp] = 8;  // echo request
  put16(out, icmp + 4, 0x4242);
  put16(out, icmp + 6, 1);
  fill_payload(out, icmp + 8);
  put16(out, icmp + 2,
        static_cast<std::uint16_t>(~ones_complement_sum(&out[icmp], out.size() - icmp)));
  return out;
}

std::vector<std::uint8_t> ipv6_udp(std::uint16_t source_port, std::uint16_t destination_port,
                                   std::size_t payload) {
  Bytes out;
  std::size_t ip = ethernet(out, 0x86dd, 0);
  out.resize(ip + 40 + 8 + payload, 0);
  out[ip] = 0x60;
  put16(out, ip + 4, static_cast<std::uint16_t>(8 + payload));
  out[ip + 6] = 17;
  out[ip + 7] = 64;
  out[ip + 8] = 0xfd;  // fd00::1
  out[ip + 23] = 1;
  out[ip + 24] = 0xfd;  // fd00::2
  out[ip + 39] = 2;
  std::size_t udp = ip + 40;
  put16(out, udp, source_port);
  put16(out, udp + 2, destination_port);
  put16(out, udp + 4, static_cast<std::uint16_t>(8 + payload));
  fill_payload(out, udp + 8);
  std::uint32_t pseudo = 17 + static_cast<std::uint32_t>(8 + payload);
  pseudo += ones_complement_sum(&out[ip + 8], 32);
  put16(out, udp + 6,
        static_cast<std::uint16_t>(~ones_complement_sum(&out[udp], out.size() - udp, pseudo)));
  return out;
}

std::vector<TestPacket> standard_test_packets() {
  std::vector<TestPacket> packets;
  auto add = [&](std::string name, Bytes bytes) {
    packets.push_back({std::move(name), std::move(bytes)});
  };
  const std::uint32_t destinations[] = {0x0a000001, 0x0a000002, 0x0a010203,
                                        0x0a010909, 0xc0a80505, 0x08080808};
  for (std::uint32_t destination : destinations) {
    Ipv4Flow flow;
    flow.destination = destination;
    add("tcp to " + std::to_string(destination), ipv4_tcp(flow, 10));
    flow.destination_port = 9;
    add("udp to port 9 of " + std::to_string(destination), ipv4_udp(flow, 1));
  }
  for (std::uint16_t port : {80, 443, 8080}) {
    Ipv4Flow flow;
    flow.destination_port = port;
    add("tcp port " + std::to_string(port), ipv4_tcp(flow, 100));
  }
  for (std::size_t payload : {0, 1, 2, 3, 200, 1000}) {
    Ipv4Flow flow;
    flow.source_port = static_cast<std::uint16_t>(1000 + payload);
    add("udp payload " + std::to_string(payload), ipv4_udp(flow, payload));
  }
  add("tcp vlan", ipv4_tcp({}, 20, 1));
  add("udp double vlan", ipv4_udp({}, 20, 2));
  add("icmp echo", ipv4_icmp_echo({}, 32));
  add("ipv6 udp", ipv6_udp(5353, 53, 40));

  Bytes arp(42, 0);
  ethernet(arp, 0x0806, 0);
  arp.resize(42, 0);
  add("arp", arp);

  Bytes greeting = ipv4_udp({}, 30);
  const char text[] = "bpfvm";
  std::copy(text, text + 5, greeting.begin());
  add("starts with bpfvm", greeting);

  for (std::uint8_t first = 0; first <= 4; ++first) {
    Bytes frame = ipv4_tcp({}, first);
    frame[0] = first;
    add("first byte " + std::to_string(first), frame);
  }
  Bytes with_zero = ipv4_udp({}, 40);
  with_zero[20] = 0;
  add("zero byte at 20", with_zero);

  Bytes full = ipv4_tcp({}, 0);
  for (std::size_t cut : {14, 20, 34, 40})
    add("tcp cut at " + std::to_string(cut), Bytes(full.begin(), full.begin() + cut));
  return packets;
}

}  // namespace bpfvm::test
