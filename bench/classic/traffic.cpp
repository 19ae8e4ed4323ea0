#include "traffic.hpp"

#include <random>

namespace bpfvm::bench {
namespace {

struct Builder {
  std::vector<std::uint8_t> f;
  void u8(unsigned v) { f.push_back(static_cast<std::uint8_t>(v)); }
  void u16(unsigned v) {
    u8(v >> 8);
    u8(v);
  }
  void u32(std::uint32_t v) {
    u16(v >> 16);
    u16(v & 0xffff);
  }
  void zeros(std::size_t n) { f.insert(f.end(), n, 0); }
};

void ethernet(Builder& b, unsigned type, int vlan) {
  b.u16(0x0011);
  b.u32(0x22334455);  // destination
  b.u16(0x0066);
  b.u32(0x778899aa);  // source
  if (vlan >= 0) {
    b.u16(0x8100);
    b.u16(static_cast<unsigned>(vlan));
  }
  b.u16(type);
}

void tcp(Builder& b, unsigned sport, unsigned dport, unsigned flags, std::size_t payload) {
  b.u16(sport);
  b.u16(dport);
  b.u32(12345);
  b.u32(678);
  b.u8(0x50);
  b.u8(flags);
  b.u16(65535);
  b.u16(0);
  b.u16(0);
  for (std::size_t i = 0; i < payload; ++i) b.u8(static_cast<unsigned>('a' + i % 26));
}

void udp(Builder& b, unsigned sport, unsigned dport, std::size_t payload) {
  b.u16(sport);
  b.u16(dport);
  b.u16(static_cast<unsigned>(8 + payload));
  b.u16(0);
  b.zeros(payload);
}

void ipv4(Builder& b, unsigned protocol, std::uint32_t source, std::uint32_t destination,
          std::size_t l4_length) {
  b.u8(0x45);
  b.u8(0);
  b.u16(static_cast<unsigned>(20 + l4_length));
  b.u16(1);
  b.u16(0x4000);
  b.u8(64);
  b.u8(protocol);
  b.u16(0);
  b.u32(source);
  b.u32(destination);
}

void ipv6(Builder& b, unsigned next, std::size_t l4_length) {
  b.u32(0x60000000);
  b.u16(static_cast<unsigned>(l4_length));
  b.u8(next);
  b.u8(64);
  b.u32(0x20010db8);
  b.u32(0);
  b.u32(0);
  b.u32(1);
  b.u32(0x20010db8);
  b.u32(0);
  b.u32(0);
  b.u32(2);
}

}  // namespace

Traffic make_traffic(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  auto pick = [&](unsigned n) { return static_cast<unsigned>(random() % n); };
  Traffic traffic;
  traffic.frames.reserve(count);
  traffic.bytes.reserve(count * 200);
  for (std::size_t n = 0; n < count; ++n) {
    Builder b;
    std::uint32_t source = pick(2) ? 0x0a000000u | pick(1 << 24) : 0xc0a80000u | pick(65536);
    std::uint32_t destination = pick(3) ? 0x5db8d822u + pick(16) : 0x0a000001u + pick(256);
    unsigned kind = pick(100);
    if (kind < 35) {  // HTTP: handshakes, requests with data, acks
      std::size_t payload = pick(2) ? 0 : 40 + pick(600);
      unsigned flags = payload ? 0x18 : (pick(4) == 0 ? 0x02 : 0x10);
      ethernet(b, 0x0800, -1);
      ipv4(b, 6, source, destination, 20 + payload);
      bool to_server = pick(2);
      tcp(b, to_server ? 40000 + pick(20000) : 80, to_server ? 80 : 40000 + pick(20000), flags,
          payload);
    } else if (kind < 55) {  // HTTPS and SSH
      std::size_t payload = pick(3) ? 100 + pick(1200) : 0;
      ethernet(b, 0x0800, -1);
      ipv4(b, 6, source, destination, 20 + payload);
      tcp(b, 40000 + pick(20000), pick(4) ? 443 : 22, payload ? 0x18 : 0x10, payload);
    } else if (kind < 68) {  // DNS and other UDP
      std::size_t payload = 30 + pick(200);
      ethernet(b, 0x0800, -1);
      ipv4(b, 17, source, destination, 8 + payload);
      udp(b, 30000 + pick(30000), pick(2) ? 53 : 123 + pick(2000), payload);
    } else if (kind < 80) {  // IPv6 TCP and UDP
      std::size_t payload = pick(300);
      ethernet(b, 0x86dd, -1);
      if (pick(2)) {
        ipv6(b, 6, 20 + payload);
        tcp(b, 50000 + pick(1000), pick(2) ? 80 : 443, 0x18, payload);
      } else {
        ipv6(b, 17, 8 + payload);
        udp(b, 50000 + pick(1000), 53, payload);
      }
    } else if (kind < 86) {  // 802.1Q-tagged IPv4 TCP
      ethernet(b, 0x0800, static_cast<int>(100 + pick(3)));
      ipv4(b, 6, source, destination, 20);
      tcp(b, 40000 + pick(1000), pick(2) ? 80 : 8080, pick(3) ? 0x10 : 0x02, 0);
    } else if (kind < 93) {  // ICMP echo
      ethernet(b, 0x0800, -1);
      ipv4(b, 1, source, destination, 64);
      b.u8(pick(2) ? 8 : 0);
      b.u8(0);
      b.zeros(62);
    } else if (kind < 97) {  // ICMPv6
      ethernet(b, 0x86dd, -1);
      ipv6(b, 58, 32);
      b.u8(135);
      b.zeros(31);
    } else {  // ARP
      ethernet(b, 0x0806, -1);
      b.u16(1);
      b.u16(0x0800);
      b.u8(6);
      b.u8(4);
      b.u16(1);
      b.zeros(6);
      b.u32(source);
      b.zeros(6);
      b.u32(destination);
    }
    if (b.f.size() < 60) b.zeros(60 - b.f.size());
    traffic.frames.push_back(
        {static_cast<std::uint32_t>(traffic.bytes.size()), static_cast<std::uint32_t>(b.f.size())});
    traffic.bytes.insert(traffic.bytes.end(), b.f.begin(), b.f.end());
  }
  return traffic;
}

}  // namespace bpfvm::bench
