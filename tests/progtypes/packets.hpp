// Real Ethernet frames for the program-type tests: IPv4/TCP and IPv4/UDP with correct
// checksums (RFC 791, RFC 793, RFC 768), so checksum helpers can be checked against a full
// recomputation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bpfvm::test::packets {

inline constexpr std::size_t eth_len = 14, ip_len = 20;
inline constexpr std::size_t ip_csum_at = eth_len + 10;
inline constexpr std::size_t ip_saddr_at = eth_len + 12;
inline constexpr std::size_t l4_at = eth_len + ip_len;
inline constexpr std::size_t tcp_csum_at = l4_at + 16;
inline constexpr std::size_t udp_csum_at = l4_at + 6;

// The ones' complement sum of big-endian 16-bit words.
inline std::uint32_t sum16(const std::uint8_t* data, std::size_t length, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < length; i += 2)
    sum += static_cast<std::uint32_t>((data[i] << 8) | data[i + 1]);
  if (length & 1) sum += static_cast<std::uint32_t>(data[length - 1] << 8);
  return sum;
}
inline std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// The IPv4 header checksum and the TCP/UDP checksum (with the pseudo-header) of `frame`.
inline std::uint16_t ip_checksum(const std::vector<std::uint8_t>& frame) {
  std::vector<std::uint8_t> header(frame.begin() + eth_len, frame.begin() + eth_len + ip_len);
  header[10] = header[11] = 0;
  return fold(sum16(header.data(), header.size()));
}
inline std::uint16_t l4_checksum(const std::vector<std::uint8_t>& frame, std::size_t csum_at) {
  std::vector<std::uint8_t> segment(frame.begin() + l4_at, frame.end());
  segment[csum_at - l4_at] = segment[csum_at - l4_at + 1] = 0;
  std::uint32_t sum = sum16(frame.data() + ip_saddr_at, 8);  // source and destination address
  sum += frame[eth_len + 9];                                 // protocol
  sum += static_cast<std::uint32_t>(segment.size());
  const std::uint16_t folded = fold(sum16(segment.data(), segment.size(), sum));
  return (frame[eth_len + 9] == 17 && folded == 0) ? 0xffff : folded;
}
inline std::uint16_t read_be16(const std::vector<std::uint8_t>& frame, std::size_t at) {
  return static_cast<std::uint16_t>((frame[at] << 8) | frame[at + 1]);
}
inline void write_be16(std::vector<std::uint8_t>& frame, std::size_t at, std::uint16_t value) {
  frame[at] = static_cast<std::uint8_t>(value >> 8);
  frame[at + 1] = static_cast<std::uint8_t>(value);
}

// protocol 6 (TCP) or 17 (UDP), `payload` bytes of payload; checksums filled in.
inline std::vector<std::uint8_t> ipv4(std::uint8_t protocol, std::size_t payload = 16,
                                      std::uint8_t dest_first_byte = 0x02) {
  const std::size_t l4_header = protocol == 6 ? 20 : 8;
  std::vector<std::uint8_t> frame(eth_len + ip_len + l4_header + payload, 0);
  const std::uint8_t macs[12] = {
      dest_first_byte, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0x66, 0x77, 0x88, 0x99, 0xaa};
  for (int i = 0; i < 12; ++i) frame[i] = macs[i];
  frame[12] = 0x08;  // ETH_P_IP
  std::uint8_t* ip = frame.data() + eth_len;
  ip[0] = 0x45;
  write_be16(frame, eth_len + 2, static_cast<std::uint16_t>(frame.size() - eth_len));
  write_be16(frame, eth_len + 4, 0x1c46);
  ip[6] = 0x40;  // don't fragment
  ip[8] = 64;
  ip[9] = protocol;
  const std::uint8_t addresses[8] = {192, 168, 1, 10, 10, 0, 0, 1};
  for (int i = 0; i < 8; ++i) ip[12 + i] = addresses[i];
  std::uint8_t* l4 = frame.data() + l4_at;
  write_be16(frame, l4_at, 43210);
  write_be16(frame, l4_at + 2, protocol == 6 ? 80 : 53);
  if (protocol == 6) {
    l4[4] = 0x12;
    l4[7] = 0x34;   // sequence
    l4[12] = 0x50;  // data offset 5
    l4[13] = 0x18;  // PSH, ACK
    write_be16(frame, l4_at + 14, 65535);
  } else {
    write_be16(frame, l4_at + 4, static_cast<std::uint16_t>(8 + payload));
  }
  for (std::size_t i = 0; i < payload; ++i)
    frame[l4_at + l4_header + i] = static_cast<std::uint8_t>(0x41 + i * 7);
  write_be16(frame, ip_csum_at, ip_checksum(frame));
  const std::size_t csum_at = protocol == 6 ? tcp_csum_at : udp_csum_at;
  write_be16(frame, csum_at, l4_checksum(frame, csum_at));
  return frame;
}

}  // namespace bpfvm::test::packets
