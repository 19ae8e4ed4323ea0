// bpf_skb_set/get_tunnel_key and bpf_skb_set/get_tunnel_opt (net/core/filter.c): the tunnel
// metadata (struct ip_tunnel_info of a metadata dst) a tc program attaches for a collect_md
// tunnel device to encapsulate with, kept in SkbKernelContext::tunnel and reported in
// PacketRunOutput::tunnel_key.
#include "progtypes/active_context.hpp"
#include "progtypes/helper_arguments.hpp"
#include "progtypes/skb_helpers.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace bpfvm::progtypes {
namespace {

using u64 = std::uint64_t;

// uapi flags.
constexpr u64 f_tuninfo_ipv6 = 1u << 0;   // BPF_F_TUNINFO_IPV6
constexpr u64 f_zero_csum_tx = 1u << 1;   // BPF_F_ZERO_CSUM_TX
constexpr u64 f_dont_fragment = 1u << 2;  // BPF_F_DONT_FRAGMENT
constexpr u64 f_seq_number = 1u << 3;     // BPF_F_SEQ_NUMBER
constexpr u64 f_no_tunnel_key = 1u << 4;  // BPF_F_NO_TUNNEL_KEY (set)
constexpr u64 f_tuninfo_flags = 1u << 4;  // BPF_F_TUNINFO_FLAGS (get)

// TUNNEL_* (include/net/ip_tunnels.h, IP_TUNNEL_*_BIT).
constexpr std::uint16_t tunnel_csum = 0x1, tunnel_key = 0x4, tunnel_seq = 0x8,
                        tunnel_dont_fragment = 0x100, tunnel_nocache = 0x2000;
// TUNNEL_OPTIONS_PRESENT: GENEVE_OPT | VXLAN_OPT | ERSPAN_OPT | GTP_OPT (PFCP_OPT, bit 16
// since Linux 6.11, is past the 16 bits tunnel_flags shows).
constexpr std::uint16_t tunnel_options_present = 0x0800 | 0x1000 | 0x4000 | 0x8000;
constexpr std::uint32_t tunnel_opts_max = 255;  // IP_TUNNEL_OPTS_MAX: options_len is a u8
constexpr std::uint32_t ipv6_flowlabel_mask = 0x000fffff;  // IPV6_FLOWLABEL_MASK

// struct bpf_tunnel_key (uapi), 44 bytes without padding.
struct BpfTunnelKey {
  std::uint32_t tunnel_id;
  std::uint32_t remote[4];  // remote_ipv4 (host order) or remote_ipv6 (network order)
  std::uint8_t tos;
  std::uint8_t ttl;
  std::uint16_t ext;  // tunnel_ext (compat, must be 0 on set) / tunnel_flags (__be16, get)
  std::uint32_t label;
  std::uint32_t local[4];  // local_ipv4 / local_ipv6
};
static_assert(sizeof(BpfTunnelKey) == 44);
// The sizes of the older struct layouts both helpers still accept: offsetof(remote_ipv6[1]),
// offsetof(tunnel_ext), offsetof(tunnel_label), offsetof(local_ipv6[0]).
constexpr std::uint32_t size_v1 = 8, size_v2 = 22, size_v3 = 24, size_v4 = 28;

void store_be32(std::uint8_t* out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(value >> (24 - 8 * i));
}
std::uint32_t load_be32(const std::uint8_t* in) {
  return static_cast<std::uint32_t>(in[0]) << 24 | static_cast<std::uint32_t>(in[1]) << 16 |
         static_cast<std::uint32_t>(in[2]) << 8 | in[3];
}

}  // namespace

// bpf_skb_set_tunnel_key(skb, from, size, flags): -EINVAL for unknown flags, a size that is
// neither sizeof(struct bpf_tunnel_key) nor an older layout's (whose missing fields read as
// zero), a flow label without BPF_F_TUNINFO_IPV6, or a nonzero tunnel_ext. Otherwise the
// packet's dst becomes the tunnel key: remote is the outer destination, local the source.
u64 skb_set_tunnel_key(HelperCall& call, u64 r1, u64 from, u64 size_arg, u64 flags, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_set_tunnel_key");
  if (skb == nullptr) return 0;
  const auto size = static_cast<std::uint32_t>(size_arg);
  const std::uint8_t* in = memory_arg(call, from, size, false, "skb_set_tunnel_key");
  if (in == nullptr) return 0;
  if (flags & ~(f_tuninfo_ipv6 | f_zero_csum_tx | f_dont_fragment | f_seq_number | f_no_tunnel_key))
    return errno_result(EINVAL);
  if (size != sizeof(BpfTunnelKey) && size != size_v1 && size != size_v2 && size != size_v3 &&
      size != size_v4)
    return errno_result(EINVAL);
  BpfTunnelKey key{};
  std::memcpy(&key, in, size);
  const bool ipv6 = flags & f_tuninfo_ipv6;
  if ((!ipv6 && key.label != 0) || key.ext != 0) return errno_result(EINVAL);

  TunnelKey info;
  info.flags = tunnel_nocache;
  if (flags & f_dont_fragment) info.flags |= tunnel_dont_fragment;
  if (!(flags & f_zero_csum_tx)) info.flags |= tunnel_csum;
  if (flags & f_seq_number) info.flags |= tunnel_seq;
  if (!(flags & f_no_tunnel_key)) info.flags |= tunnel_key;
  info.id = key.tunnel_id;
  info.tos = key.tos;
  info.ttl = key.ttl;
  info.ipv6 = ipv6;
  if (ipv6) {
    std::memcpy(info.remote, key.remote, 16);
    std::memcpy(info.local, key.local, 16);
    info.label = key.label & ipv6_flowlabel_mask;
  } else {
    store_be32(info.remote, key.remote[0]);
    store_be32(info.local, key.local[0]);
  }
  skb->tunnel = info;
  return 0;
}

// bpf_skb_get_tunnel_key(skb, to, size, flags): the tunnel key of the packet as a receiver
// sees it (remote is the outer source). -EINVAL without a key or for unknown flags,
// -EPROTO when the key's family is not the one BPF_F_TUNINFO_IPV6 asks for, -EINVAL for a
// size no layout has (or the oldest layout for an IPv6 key); on error `to` is zeroed.
u64 skb_get_tunnel_key(HelperCall& call, u64 r1, u64 to, u64 size_arg, u64 flags, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_get_tunnel_key");
  if (skb == nullptr) return 0;
  const auto size = static_cast<std::uint32_t>(size_arg);
  std::uint8_t* out = memory_arg(call, to, size, true, "skb_get_tunnel_key");
  if (out == nullptr) return 0;
  auto fail = [&](int error) {
    std::memset(out, 0, size);
    return errno_result(error);
  };
  if (!skb->tunnel || (flags & ~(f_tuninfo_ipv6 | f_tuninfo_flags))) return fail(EINVAL);
  const TunnelKey& info = *skb->tunnel;
  const bool ipv6 = flags & f_tuninfo_ipv6;
  if (info.ipv6 != ipv6) return fail(EPROTO);
  if (size != sizeof(BpfTunnelKey) && size != size_v2 && size != size_v3 && size != size_v4 &&
      !(size == size_v1 && !info.ipv6))
    return fail(EINVAL);
  BpfTunnelKey key{};
  key.tunnel_id = static_cast<std::uint32_t>(info.id);
  key.tos = info.tos;
  key.ttl = info.ttl;
  if (flags & f_tuninfo_flags) {  // ip_tunnel_flags_to_be16: big-endian in memory
    const std::uint8_t be16[2] = {static_cast<std::uint8_t>(info.flags >> 8),
                                  static_cast<std::uint8_t>(info.flags)};
    std::memcpy(&key.ext, be16, 2);
  }
  if (ipv6) {
    std::memcpy(key.remote, info.local, 16);
    std::memcpy(key.local, info.remote, 16);
    key.label = info.label;
  } else {
    key.remote[0] = load_be32(info.local);
    key.local[0] = load_be32(info.remote);
  }
  std::memcpy(out, &key, size);
  return 0;
}

// bpf_skb_set_tunnel_opt(skb, from, size): options for the key set in this run (-EINVAL
// without one, or for a size not a multiple of 4; -ENOMEM past IP_TUNNEL_OPTS_MAX).
u64 skb_set_tunnel_opt(HelperCall& call, u64 r1, u64 from, u64 size_arg, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_set_tunnel_opt");
  if (skb == nullptr) return 0;
  const auto size = static_cast<std::uint32_t>(size_arg);
  const std::uint8_t* in = memory_arg(call, from, size, false, "skb_set_tunnel_opt");
  if (in == nullptr) return 0;
  if (!skb->tunnel || (size & 3) != 0) return errno_result(EINVAL);
  if (size > tunnel_opts_max) return errno_result(ENOMEM);
  skb->tunnel->options.assign(in, in + size);  // ip_tunnel_info_opts_set
  if (size > 0) skb->tunnel->flags |= tunnel_options_present;
  return 0;
}

// bpf_skb_get_tunnel_opt(skb, to, size): the options' length, with `to` holding them and
// zeros after; -ENOENT without options, -ENOMEM when `size` is shorter (`to` zeroed).
u64 skb_get_tunnel_opt(HelperCall& call, u64 r1, u64 to, u64 size_arg, u64, u64) {
  SkbKernelContext* skb = tc_skb(call, r1, "skb_get_tunnel_opt");
  if (skb == nullptr) return 0;
  const auto size = static_cast<std::uint32_t>(size_arg);
  std::uint8_t* out = memory_arg(call, to, size, true, "skb_get_tunnel_opt");
  if (out == nullptr) return 0;
  std::memset(out, 0, size);
  if (!skb->tunnel || !(skb->tunnel->flags & tunnel_options_present)) return errno_result(ENOENT);
  const std::vector<std::uint8_t>& options = skb->tunnel->options;
  if (size < options.size()) return errno_result(ENOMEM);
  std::memcpy(out, options.data(), options.size());
  return options.size();
}

}  // namespace bpfvm::progtypes
