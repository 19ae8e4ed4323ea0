// What a packet run did besides its return value and packet, as `bpfvm run OBJ` prints it:
// the clones bpf_clone_redirect sent, where bpf_redirect (and its neigh and peer forms) or
// bpf_redirect_map point the packet, and the tunnel key bpf_skb_set_tunnel_key attached.
// The kernel acts on a redirect target only when the program returns TC_ACT_REDIRECT or
// XDP_REDIRECT; bpfvm reports what the helpers recorded either way.
#pragma once

#include <bpfvm/packet_run.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace bpfvm::cli {

// One line each, without a newline.
std::vector<std::string> packet_effect_lines(const PacketRunOutput& output);

// The same as members of `out`: "clones", "redirect", "tunnel_key" (only those present).
void add_packet_effects_json(nlohmann::json& out, const PacketRunOutput& output);

}  // namespace bpfvm::cli
