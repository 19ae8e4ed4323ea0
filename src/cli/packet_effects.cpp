#include "cli/packet_effects.hpp"

#include <bpfvm/data_file.hpp>
#include <bpfvm/map.hpp>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>

namespace bpfvm::cli {
namespace {

// An address in network byte order: IPv4 in the first 4 bytes, or IPv6.
std::string address_text(const std::uint8_t (&bytes)[16], bool ipv6) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes, text, sizeof text);
  return text;
}

std::string tc_redirect_line(const TcRedirect& r) {
  std::string line = fmt::format("redirect to ifindex {} ({}", r.ifindex,
                                 r.peer      ? "peer"
                                 : r.ingress ? "ingress"
                                             : "egress");
  if (r.neigh) {
    line += ", through the neighbour table";
    if (r.nexthop_family != 0)
      line += " via " + address_text(r.nexthop, r.nexthop_family == AF_INET6);
  }
  return line + ")";
}

std::string xdp_redirect_line(const XdpRedirect& r) {
  if (r.map == nullptr) return fmt::format("redirect to ifindex {}", r.ifindex);
  const std::string& name = r.map->spec().name;
  return fmt::format("redirect to map {} key {}{}", name.empty() ? "(unnamed)" : name, r.key,
                     r.flags != 0 ? fmt::format(" (flags {:#x})", r.flags) : "");
}

std::string tunnel_key_line(const TunnelKey& key) {
  std::string line =
      fmt::format("tunnel key: id {:#x}, remote {}, local {}, tos {}, ttl {}, flags {:#x}", key.id,
                  address_text(key.remote, key.ipv6), address_text(key.local, key.ipv6), key.tos,
                  key.ttl, key.flags);
  if (key.ipv6) line += fmt::format(", label {:#x}", key.label);
  if (!key.options.empty()) line += ", options " + format_hex_bytes(key.options);
  return line;
}

}  // namespace

std::vector<std::string> packet_effect_lines(const PacketRunOutput& output) {
  std::vector<std::string> lines;
  for (const ClonedPacket& clone : output.clones)
    lines.push_back(fmt::format("clone to ifindex {} ({}, {} bytes): {}", clone.ifindex,
                                clone.ingress ? "ingress" : "egress", clone.packet.size(),
                                format_hex_bytes(clone.packet)));
  if (output.tc_redirect) lines.push_back(tc_redirect_line(*output.tc_redirect));
  if (output.redirect) lines.push_back(xdp_redirect_line(*output.redirect));
  if (output.tunnel_key) lines.push_back(tunnel_key_line(*output.tunnel_key));
  return lines;
}

void add_packet_effects_json(nlohmann::json& out, const PacketRunOutput& output) {
  if (!output.clones.empty()) {
    nlohmann::json clones = nlohmann::json::array();
    for (const ClonedPacket& clone : output.clones)
      clones.push_back({{"ifindex", clone.ifindex},
                        {"ingress", clone.ingress},
                        {"packet", format_hex_bytes(clone.packet)}});
    out["clones"] = clones;
  }
  if (const auto& r = output.tc_redirect) {
    nlohmann::json redirect{{"ifindex", r->ifindex},
                            {"ingress", r->ingress},
                            {"flags", r->flags},
                            {"neigh", r->neigh},
                            {"peer", r->peer}};
    if (r->nexthop_family != 0)
      redirect["nexthop"] = address_text(r->nexthop, r->nexthop_family == AF_INET6);
    out["redirect"] = redirect;
  }
  if (const auto& r = output.redirect) {
    nlohmann::json redirect{{"flags", r->flags}};
    if (r->map != nullptr) {
      redirect["map"] = r->map->spec().name;
      redirect["key"] = r->key;
    } else {
      redirect["ifindex"] = r->ifindex;
    }
    out["redirect"] = redirect;
  }
  if (const auto& key = output.tunnel_key) {
    out["tunnel_key"] = {{"id", key->id},
                         {"ipv6", key->ipv6},
                         {"remote", address_text(key->remote, key->ipv6)},
                         {"local", address_text(key->local, key->ipv6)},
                         {"tos", key->tos},
                         {"ttl", key->ttl},
                         {"label", key->label},
                         {"flags", key->flags},
                         {"options", format_hex_bytes(key->options)}};
  }
}

}  // namespace bpfvm::cli
