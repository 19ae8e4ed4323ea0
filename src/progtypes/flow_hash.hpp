// The flow hash of a packet, as Linux's __skb_get_hash computes skb->hash: the flow dissector
// (net/core/flow_dissector.c, flow_keys_dissector with FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL)
// fills struct flow_keys, __flow_hash_consistentify orders the endpoints, and siphash-2-4
// over the keys from `basic` to the end of the family's addresses gives the hash (0 becomes 1).
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace bpfvm::progtypes {

struct FlowHash {
  std::uint32_t hash = 0;
  bool l4 = false;  // flow_keys_have_l4: ports or a key id were found (skb->l4_hash)
};

// `frame` starts at the Ethernet header; `protocol` is skb->protocol in network byte order
// (what eth_type_trans found: the dissection starts after the Ethernet header with it).
FlowHash flow_hash(std::span<const std::uint8_t> frame, std::uint16_t protocol_be,
                   const std::array<std::uint64_t, 2>& key);

// SipHash-2-4 (Aumasson and Bernstein, as lib/siphash.c) of `data` with a 128-bit key.
std::uint64_t siphash24(std::span<const std::uint8_t> data,
                        const std::array<std::uint64_t, 2>& key);

}  // namespace bpfvm::progtypes
