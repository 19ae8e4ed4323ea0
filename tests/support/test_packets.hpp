// Ethernet frames for tests that run packet programs on bpfvm and on the kernel: well-formed
// IPv4/IPv6 TCP, UDP and ICMP with correct checksums, VLAN tags, and deliberately short or
// odd frames, so programs see both their happy paths and their bounds checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bpfvm::test {

struct TestPacket {
  std::string name;  // what it is, for failure messages
  std::vector<std::uint8_t> bytes;
};

struct Ipv4Flow {
  std::uint32_t source = 0xc0a80001;       // 192.168.0.1
  std::uint32_t destination = 0x0a000001;  // 10.0.0.1
  std::uint16_t source_port = 40000;
  std::uint16_t destination_port = 80;
};

// Frames with `payload` bytes after the transport header; `vlan_tags` 802.1Q tags.
std::vector<std::uint8_t> ipv4_tcp(const Ipv4Flow& flow, std::size_t payload, int vlan_tags = 0);
std::vector<std::uint8_t> ipv4_udp(const Ipv4Flow& flow, std::size_t payload, int vlan_tags = 0);
std::vector<std::uint8_t> ipv4_icmp_echo(const Ipv4Flow& flow, std::size_t payload);
std::vector<std::uint8_t> ipv6_udp(std::uint16_t source_port, std::uint16_t destination_port,
                                   std::size_t payload);

// A varied set: the protocols above with several addresses, ports and lengths, an ARP
// frame, a frame that starts with the bytes "bpfvm", frames whose first byte is 0 to 4,
// and frames cut short inside each header.
std::vector<TestPacket> standard_test_packets();

// RFC 1071 one's-complement sum folded to 16 bits (not inverted).
std::uint16_t ones_complement_sum(const std::uint8_t* data, std::size_t size,
                                  std::uint32_t initial = 0);

}  // namespace bpfvm::test
