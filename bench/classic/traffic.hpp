// A synthetic capture of mixed traffic for the classic BPF benchmark: Ethernet frames carrying
// IPv4 and IPv6 TCP (HTTP on 80 with and without payload, HTTPS, SSH), UDP (DNS, others),
// ICMP and ICMPv6, ARP, and 802.1Q-tagged IPv4; addresses inside and outside 10.0.0.0/8.
// Deterministic for a seed.
#pragma once

#include <cstdint>
#include <vector>

namespace bpfvm::bench {

struct Frame {
  std::uint32_t offset;  // into Traffic::bytes
  std::uint32_t length;
};

struct Traffic {
  std::vector<std::uint8_t> bytes;  // every frame, back to back
  std::vector<Frame> frames;
};

Traffic make_traffic(std::size_t count, std::uint64_t seed);

}  // namespace bpfvm::bench
