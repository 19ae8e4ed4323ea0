// skb->hash as __skb_get_hash computes it (flow_hash.hpp). The keys are laid out as Linux's
// struct flow_keys on x86-64 so that the hashed bytes are the kernel's: control (8 bytes,
// not hashed), then from offset 8 basic, tags, vlan, cvlan, keyid, ports, icmp and addrs.
#include "progtypes/flow_hash.hpp"

#include <cstring>

namespace bpfvm::progtypes {
namespace {

// struct flow_keys offsets (include/net/flow_dissector.h); the struct is 80 bytes, 8-aligned.
constexpr std::size_t keys_size = 80, hash_start = 8;  // FLOW_KEYS_HASH_OFFSET
constexpr std::size_t at_n_proto = 8, at_ip_proto = 10, at_flow_label = 12, at_vlan = 16,
                      at_cvlan = 24, at_ports = 36, at_icmp = 40, at_addrs = 44;
constexpr std::size_t addrs_size = 32;  // the union's largest member, v6addrs

// ETH_P_* and IPPROTO_* / NEXTHDR_* values.
constexpr std::uint16_t eth_p_ip = 0x0800, eth_p_ipv6 = 0x86dd, eth_p_8021q = 0x8100,
                        eth_p_8021ad = 0x88a8;
constexpr std::uint8_t proto_icmp = 1, proto_ipip = 4, proto_tcp = 6, proto_udp = 17,
                       proto_dccp = 33, proto_ipv6 = 41, proto_esp = 50, proto_ah = 51,
                       proto_icmpv6 = 58, proto_sctp = 132, proto_udplite = 136, nexthdr_hop = 0,
                       nexthdr_routing = 43, nexthdr_fragment = 44, nexthdr_dest = 60;

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

// proto_ports_offset (include/linux/skbuff.h): where the 4 bytes hashed as ports are, or -1.
int ports_offset(std::uint8_t ip_proto) {
  switch (ip_proto) {
    case proto_tcp:
    case proto_udp:
    case proto_dccp:
    case proto_esp:
    case proto_sctp:
    case proto_udplite: return 0;
    case proto_ah: return 4;
    default: return -1;
  }
}

// icmp_has_id: the ICMP messages whose identifier the dissector keeps (echo, timestamp).
bool icmp_has_id(std::uint8_t type) {
  return type == 0 || type == 8 || type == 13 || type == 14 || type == 128 || type == 129;
}

class Dissector {
 public:
  Dissector(std::span<const std::uint8_t> data, std::uint8_t* keys) : data_(data), keys_(keys) {}

  // __skb_flow_dissect from the network header, with `proto` (network order) from the skb.
  bool run(std::uint16_t proto) {
    std::size_t nhoff = 0;
    int vlans = 0;
    std::uint8_t ip_proto = 0;
    for (;;) {  // proto_again
      if (proto == eth_p_8021q || proto == eth_p_8021ad) {
        const std::uint8_t* vlan = at(nhoff, 4);
        if (vlan == nullptr) return finish(proto, ip_proto, nhoff, false, false);
        const std::uint16_t tpid = proto, tci = be16(vlan);
        proto = be16(vlan + 2);
        nhoff += 4;
        if (vlans < 2) {
          std::uint8_t* key = keys_ + (vlans == 0 ? at_vlan : at_cvlan);
          // u16 vlan_id:12, vlan_dei:1, vlan_priority:3 (x86-64 bit-field order), then
          // vlan_tpid and vlan_eth_type in network order.
          const std::uint16_t bits =
              static_cast<std::uint16_t>((tci & 0x0fff) | (((tci >> 13) & 7) << 13));
          std::memcpy(key, &bits, 2);
          put_be16(key + 2, tpid);
          put_be16(key + 4, proto);
        }
        ++vlans;
        continue;
      }
      if (proto == eth_p_ip) {
        const std::uint8_t* ip = at(nhoff, 20);
        if (ip == nullptr) return finish(proto, ip_proto, nhoff, false, false);
        const std::size_t ihl = ip[0] & 0xf;
        if (ihl < 5) return finish(proto, ip_proto, nhoff, false, false);
        nhoff += ihl * 4;
        ip_proto = ip[9];
        std::memcpy(keys_ + at_addrs, ip + 12, 8);  // saddr, daddr
        family_ = 4;
        const std::uint16_t frag = be16(ip + 6);
        if (frag & 0x3fff) {  // ip_is_fragment: IP_MF or an offset
          // Later fragments have no L4 header; the first is not parsed further either
          // without FLOW_DISSECTOR_F_PARSE_1ST_FRAG.
          return finish(proto, ip_proto, nhoff, true, true);
        }
      } else if (proto == eth_p_ipv6) {
        const std::uint8_t* ip = at(nhoff, 40);
        if (ip == nullptr) return finish(proto, ip_proto, nhoff, false, false);
        ip_proto = ip[6];
        nhoff += 40;
        std::memcpy(keys_ + at_addrs, ip + 8, 32);
        family_ = 6;
        const std::uint32_t label =
            (static_cast<std::uint32_t>(ip[1] & 0xf) << 16) | (ip[2] << 8) | ip[3];
        if (label != 0) {
          std::memcpy(keys_ + at_flow_label, &label, 4);      // ntohl(flow label), host order
          return finish(proto, ip_proto, nhoff, true, true);  // F_STOP_AT_FLOW_LABEL
        }
      } else {
        return finish(proto, ip_proto, nhoff, true, false);
      }
      // ip_proto_again: IPv6 extension headers and IP-in-IP.
      for (;;) {
        if (proto == eth_p_ipv6 &&
            (ip_proto == nexthdr_hop || ip_proto == nexthdr_routing || ip_proto == nexthdr_dest)) {
          const std::uint8_t* opt = at(nhoff, 2);
          if (opt == nullptr) return finish(proto, ip_proto, nhoff, false, false);
          ip_proto = opt[0];
          nhoff += (static_cast<std::size_t>(opt[1]) + 1) * 8;
          continue;
        }
        if (proto == eth_p_ipv6 && ip_proto == nexthdr_fragment) {
          const std::uint8_t* frag = at(nhoff, 8);
          if (frag == nullptr) return finish(proto, ip_proto, nhoff, false, false);
          ip_proto = frag[0];
          nhoff += 8;
          return finish(proto, ip_proto, nhoff, true, true);  // as IPv4 fragments
        }
        break;
      }
      if (ip_proto == proto_ipip || ip_proto == proto_ipv6) {
        proto = ip_proto == proto_ipip ? eth_p_ip : eth_p_ipv6;
        continue;  // the inner header's addresses replace the outer's
      }
      return finish(proto, ip_proto, nhoff, true, false);
    }
  }

  int family() const { return family_; }

 private:
  const std::uint8_t* at(std::size_t offset, std::size_t size) const {
    if (offset > data_.size() || data_.size() - offset < size) return nullptr;
    return data_.data() + offset;
  }
  static void put_be16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
  }

  // The dissector's `out` label: basic's n_proto and ip_proto, then (for a complete,
  // unfragmented header chain) the ports and the ICMP key at the transport header.
  bool finish(std::uint16_t proto, std::uint8_t ip_proto, std::size_t thoff, bool good,
              bool skip_l4) {
    put_be16(keys_ + at_n_proto, proto);
    keys_[at_ip_proto] = ip_proto;
    if (!good || skip_l4) return good;
    if (int off = ports_offset(ip_proto); off >= 0) {
      if (const std::uint8_t* ports = at(thoff + static_cast<std::size_t>(off), 4))
        std::memcpy(keys_ + at_ports, ports, 4);
    }
    if (ip_proto == proto_icmp || ip_proto == proto_icmpv6) {
      if (const std::uint8_t* icmp = at(thoff, 2)) {
        keys_[at_icmp] = icmp[0];
        keys_[at_icmp + 1] = icmp[1];
        if (icmp_has_id(icmp[0]))
          if (const std::uint8_t* id = at(thoff + 4, 2)) std::memcpy(keys_ + at_icmp + 2, id, 2);
      }
    }
    return good;
  }

  std::span<const std::uint8_t> data_;
  std::uint8_t* keys_;
  int family_ = 0;
};

}  // namespace

std::uint64_t siphash24(std::span<const std::uint8_t> data,
                        const std::array<std::uint64_t, 2>& key) {
  std::uint64_t v0 = 0x736f6d6570736575ull ^ key[0];
  std::uint64_t v1 = 0x646f72616e646f6dull ^ key[1];
  std::uint64_t v2 = 0x6c7967656e657261ull ^ key[0];
  std::uint64_t v3 = 0x7465646279746573ull ^ key[1];
  auto round = [&] {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  };
  const std::size_t whole = data.size() / 8 * 8;
  for (std::size_t i = 0; i < whole; i += 8) {
    std::uint64_t m = 0;
    for (int b = 7; b >= 0; --b) m = (m << 8) | data[i + static_cast<std::size_t>(b)];
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t last = static_cast<std::uint64_t>(data.size()) << 56;
  for (std::size_t i = whole; i < data.size(); ++i)
    last |= static_cast<std::uint64_t>(data[i]) << (8 * (i - whole));
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

FlowHash flow_hash(std::span<const std::uint8_t> l3, std::uint16_t protocol_be,
                   const std::array<std::uint64_t, 2>& key) {
  std::uint8_t keys[keys_size] = {};
  Dissector dissector(l3, keys);
  const std::uint16_t protocol =
      static_cast<std::uint16_t>((protocol_be >> 8) | (protocol_be << 8));
  dissector.run(protocol);
  // __flow_hash_consistentify: the lower address (then the lower port) first, so that both
  // directions of a flow hash alike. Compared as the kernel compares them: IPv4 addresses and
  // ports as native (little-endian) integers of their network-order bytes, IPv6 by memcmp.
  std::uint8_t* src = keys + at_addrs;
  const std::size_t addr_len = dissector.family() == 4 ? 4 : 16;
  std::uint8_t* dst = src + addr_len;
  std::uint16_t sport, dport;
  std::memcpy(&sport, keys + at_ports, 2);
  std::memcpy(&dport, keys + at_ports + 2, 2);
  if (dissector.family() != 0) {
    int diff;
    if (dissector.family() == 4) {
      std::uint32_t s, d;
      std::memcpy(&s, src, 4);
      std::memcpy(&d, dst, 4);
      diff = d < s ? -1 : d > s ? 1 : 0;
    } else {
      diff = std::memcmp(dst, src, 16);
    }
    if (diff < 0 || (diff == 0 && dport < sport)) {
      std::uint8_t tmp[16];
      std::memcpy(tmp, src, addr_len);
      std::memcpy(src, dst, addr_len);
      std::memcpy(dst, tmp, addr_len);
      std::memcpy(keys + at_ports, &dport, 2);
      std::memcpy(keys + at_ports + 2, &sport, 2);
    }
  }
  // flow_keys_hash_length: up to the end of the family's addresses, in whole u32s.
  std::size_t length = keys_size - hash_start - addrs_size;
  if (dissector.family() == 4) length += 8;
  if (dissector.family() == 6) length += 32;
  auto hash = static_cast<std::uint32_t>(siphash24({keys + hash_start, length}, key));
  if (hash == 0) hash = 1;
  std::uint32_t ports, keyid;
  std::memcpy(&ports, keys + at_ports, 4);
  std::memcpy(&keyid, keys + 32, 4);
  return {hash, ports != 0 || keyid != 0};
}

}  // namespace bpfvm::progtypes
