// bpf_skb_change_type, bpf_skb_change_proto, bpf_skb_vlan_push/pop, bpf_skb_adjust_room and
// the cookies against the kernel: tests/progtypes/bpf/l2_tc.bpf.c takes a sequence of helper
// calls and their arguments in ctx_in's cb[] and copies the skb fields ctx_out does not
// return (protocol, pkt_type, vlan_*, len, data_end - data) into cb[]; it runs on many packets
// in the kernel (BPF_PROG_TEST_RUN) and on bpfvm's interpreter and JIT, and r0, data_out and
// ctx_out must match. Without the kernel (bpf() refused) the comparisons skip; the cases
// that need no kernel (sock_ops, a socket-less skb) run anyway.
#include "progtypes/insn_builders.hpp"
#include "progtypes/kernel_subject.hpp"
#include "support/kernel_bpf.hpp"

#include <bpfvm/linux_helpers.hpp>

#include <linux/bpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

namespace k = test::kernel;
using Bytes = std::vector<std::uint8_t>;

// The operation codes of l2_tc.bpf.c.
enum Op : std::uint32_t {
  change_type = 1,
  change_proto = 2,
  vlan_push = 3,
  vlan_pop = 4,
  adjust_room = 5,
  adjust_room_back = 6,
  change_proto_b = 7,
  change_tail = 8,
  change_head = 9,
};

std::uint32_t ops(std::initializer_list<std::uint32_t> list) {
  std::uint32_t packed = 0, shift = 0;
  for (std::uint32_t op : list) packed |= op << shift, shift += 8;
  return packed;
}

struct Call {
  std::uint32_t ops = 0, a = 0, b = 0;
  std::uint64_t flags = 0;
  std::uint32_t gso_size = 0;
};

using Outcome = test::SubjectOutcome;

std::string show(const Outcome& o) {
  if (!o.ran) return "failed: " + o.error;
  std::string bytes;
  for (std::size_t i = 0; i < o.packet.size() && i < 64; ++i)
    bytes += fmt::format("{:02x}", o.packet[i]);
  return fmt::format(
      "r0 {} len {} cb [len {} proto {:#06x} present/type/dlen {:#x} tci/vproto {:#x} done {}] "
      "mark {} segs {} [{}]",
      static_cast<std::int32_t>(o.retval), o.packet.size(), o.skb.cb[0], o.skb.cb[1], o.skb.cb[2],
      o.skb.cb[3], o.skb.cb[4], o.skb.mark, o.skb.gso_segs, bytes);
}

SkbMetadata metadata(const Call& call) {
  SkbMetadata skb;
  skb.cb[0] = call.ops, skb.cb[1] = call.a, skb.cb[2] = call.b;
  skb.cb[3] = static_cast<std::uint32_t>(call.flags);
  skb.cb[4] = static_cast<std::uint32_t>(call.flags >> 32);
  skb.gso_size = call.gso_size;
  return skb;
}

// l2_tc.bpf.c (or ld_abs_tc.bpf.c, which takes the same cb[]) in the kernel and in bpfvm
// (kernel_subject.hpp), its helper calls described by a Call.
class L2Program : public test::KernelSubject {
 public:
  explicit L2Program(const char* name = "l2_tc")
      : KernelSubject(name, ProgramType::sched_cls, show) {}

  Outcome compare(const std::string& what, const Bytes& packet, const Call& call) {
    return KernelSubject::compare(what, packet, metadata(call));
  }
};

constexpr std::uint16_t be(std::uint16_t host) {
  return static_cast<std::uint16_t>((host >> 8) | (host << 8));
}

// dst 02:..:01 (PACKET_OTHERHOST on test_run's loopback device), src 02:..:02.
Bytes concat(const Bytes& a, const Bytes& b) {
  Bytes joined(a.size() + b.size());
  std::copy(a.begin(), a.end(), joined.begin());
  std::copy(b.begin(), b.end(), joined.begin() + static_cast<std::ptrdiff_t>(a.size()));
  return joined;
}
Bytes eth(std::uint16_t type, const Bytes& payload, std::uint8_t dst0 = 0x02) {
  return concat({dst0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, static_cast<std::uint8_t>(type >> 8),
                 static_cast<std::uint8_t>(type)},
                payload);
}
Bytes tag(std::uint16_t tci, std::uint16_t inner) {
  return {static_cast<std::uint8_t>(tci >> 8), static_cast<std::uint8_t>(tci),
          static_cast<std::uint8_t>(inner >> 8), static_cast<std::uint8_t>(inner)};
}
Bytes pattern(std::size_t n, std::uint8_t seed) {
  Bytes bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(seed + i * 7);
  return bytes;
}
// An IPv4 header (20 bytes, UDP) and an IPv6 header (40 bytes) with `payload` bytes after.
Bytes ipv4(std::size_t payload) {
  Bytes h = {0x45, 0,   0, static_cast<std::uint8_t>(20 + payload),
             0,    1,   0, 0,
             64,   17,  0, 0,
             192,  168, 0, 1,
             192,  168, 0, 2};
  return concat(h, pattern(payload, 0x30));
}
Bytes ipv6(std::size_t payload) {
  Bytes h = {0x60, 0, 0, 0, 0, static_cast<std::uint8_t>(payload), 17, 64};
  h = concat(h, pattern(32, 0x80));
  return concat(h, pattern(payload, 0x30));
}

constexpr std::uint64_t f_fixed_gso = 1, f_encap_ipv4 = 2, f_encap_ipv6 = 4, f_encap_gre = 8,
                        f_encap_udp = 16, f_no_csum_reset = 32, f_encap_eth = 64,
                        f_decap_ipv4 = 128, f_decap_ipv6 = 256;
constexpr std::uint64_t encap_l2(std::uint64_t len) { return (len & 0xff) << 56; }
constexpr std::uint32_t net = 0, mac = 1;
constexpr std::uint32_t enotsupp = static_cast<std::uint32_t>(-524);
constexpr std::uint32_t einval = static_cast<std::uint32_t>(-22);

TEST(SkbChangeType, MatchesTheKernel) {
  L2Program l2;
  SKIP_UNLESS_READY(l2);
  for (std::uint8_t dst0 : {0x02, 0x01, 0x00})
    for (std::uint32_t type : {0u, 1u, 2u, 3u, 4u, 7u, 0xffffffffu}) {
      Bytes packet = eth(0x0800, ipv4(8), dst0);
      if (dst0 == 0) std::fill(packet.begin(), packet.begin() + 6, 0);  // PACKET_HOST
      const Outcome ours = l2.compare(fmt::format("change_type({}) dst {:#x}", type, dst0), packet,
                                      {.ops = change_type, .a = type});
      EXPECT_EQ(ours.retval, type <= 3 ? 0u : einval);
    }
}

TEST(SkbChangeProto, MatchesTheKernel) {
  L2Program l2;
  SKIP_UNLESS_READY(l2);
  const Bytes packets[] = {
      eth(0x0800, ipv4(8)),        eth(0x0800, ipv4(0)),
      eth(0x86dd, ipv6(8)),        eth(0x86dd, ipv6(0)),
      eth(0x0806, pattern(28, 1)), eth(0x8100, concat(tag(5, 0x0800), ipv4(4)))};
  for (const Bytes& packet : packets)
    for (std::uint16_t to : {0x0800, 0x86dd, 0x0806, 0x0000})
      for (std::uint64_t flags : {0ull, 1ull, 1ull << 32}) {
        const Outcome ours =
            l2.compare(fmt::format("change_proto({:#x}, {:#x}) on {} bytes of {:02x}{:02x}", to,
                                   flags, packet.size(), packet[12], packet[13]),
                       packet, {.ops = change_proto, .a = be(to), .flags = flags});
        if (flags != 0) {
          EXPECT_EQ(ours.retval, einval);
        }
      }
  // IPv4 -> IPv6 -> IPv4 gives the packet back as it was, but for the IPv4 header's first
  // 20 bytes, which the round trip zeroes; with GSO too (test_run's gso_type is 0).
  for (std::uint32_t gso : {0u, 1400u})
    l2.compare("4 -> 6 -> 4", eth(0x0800, ipv4(16)),
               {.ops = ops({change_proto, change_proto_b}),
                .a = be(0x86dd),
                .b = be(0x0800),
                .gso_size = gso});
  l2.compare("6 -> 4 -> 6", eth(0x86dd, ipv6(16)),
             {.ops = ops({change_proto, change_proto_b}), .a = be(0x0800), .b = be(0x86dd)});
  // After two VLAN pushes skb->protocol is the VLAN's: nothing to translate.
  l2.compare("push push change_proto", eth(0x0800, ipv4(8)),
             {.ops = ops({vlan_push, vlan_push, change_proto_b}), .a = be(0x8100), .b = 9});
}

TEST(SkbVlan, PushAndPopMatchTheKernel) {
  L2Program l2;
  SKIP_UNLESS_READY(l2);
  const Bytes untagged = eth(0x0800, ipv4(8));
  const Bytes tagged = eth(0x8100, concat(tag(0x2005, 0x0800), ipv4(8)));
  const Bytes qinq = eth(0x88a8, concat(concat(tag(0x0101, 0x8100), tag(0xe202, 0x86dd)), ipv6(0)));
  const Bytes short_tag = eth(0x8100, {0x00, 0x05});                          // 16 bytes
  const Bytes llc = eth(0x8100, concat(tag(7, 0x0020), pattern(30, 0x42)));   // 802.2 inside
  const Bytes ipx = eth(0x8100, concat(tag(7, 0x0020), {0xff, 0xff, 1, 2}));  // raw 802.3
  const Bytes bare_tag = eth(0x8100, tag(7, 0x0030));                         // 18 bytes
  const struct {
    const char* name;
    std::vector<std::uint32_t> sequence;
  } sequences[] = {
      {"push", {vlan_push}},
      {"pop", {vlan_pop}},
      {"push push", {vlan_push, vlan_push}},
      {"push push pop", {vlan_push, vlan_push, vlan_pop}},
      {"push push pop pop", {vlan_push, vlan_push, vlan_pop, vlan_pop}},
      {"push pop pop", {vlan_push, vlan_pop, vlan_pop}},
      {"pop pop", {vlan_pop, vlan_pop}},
      {"push push push", {vlan_push, vlan_push, vlan_push}},
      {"change_head push push", {change_head, vlan_push, vlan_push}},
  };
  for (const Bytes* packet : {&untagged, &tagged, &qinq, &short_tag, &llc, &ipx, &bare_tag})
    for (const auto& sequence : sequences)
      for (std::uint32_t proto : {0x8100u, 0x88a8u, 0x0800u, 0u})
        for (std::uint32_t tci : {0u, 0x2345u, 0x1ffffu}) {
          std::uint32_t packed = 0, shift = 0;
          for (std::uint32_t op : sequence.sequence) packed |= op << shift, shift += 8;
          l2.compare(fmt::format("{} ({:#x}, {:#x}) on {} bytes of {:02x}{:02x}", sequence.name,
                                 proto, tci, packet->size(), (*packet)[12], (*packet)[13]),
                     *packet,
                     {.ops = packed, .a = be(static_cast<std::uint16_t>(proto)), .b = tci});
        }
  // Where the network header is after a tag went into the packet: change_tail may cut to it
  // and not before (__bpf_skb_min_len).
  for (std::uint32_t len : {13u, 14u, 15u, 17u, 18u, 19u})
    for (const Bytes* packet : {&untagged, &tagged})
      l2.compare(fmt::format("push push / pop, change_tail({})", len), *packet,
                 {.ops = packet == &untagged ? ops({vlan_push, vlan_push, change_tail})
                                             : ops({vlan_pop, change_tail}),
                  .a = be(0x8100),
                  .b = 3,
                  .flags = len});
}

TEST(SkbAdjustRoom, MatchesTheKernelAtEveryLimit) {
  L2Program l2;
  SKIP_UNLESS_READY(l2);
  const Bytes v4 = eth(0x0800, ipv4(16)), v4_min = eth(0x0800, ipv4(0));
  const Bytes v6 = eth(0x86dd, ipv6(16)), v6_min = eth(0x86dd, ipv6(0));
  const Bytes arp = eth(0x0806, pattern(28, 3));
  const Bytes tagged = eth(0x8100, concat(tag(5, 0x0800), ipv4(8)));
  // Sizes around every limit: the header's base length, the room left, 0xfff.
  const std::int32_t diffs[] = {0,   1,   4,     8,      15,     16,      17,        20,
                                28,  40,  0xfff, 0x1000, -1,     -4,      -8,        -15,
                                -16, -17, -20,   -28,    -0xfff, -0x1000, INT32_MIN, INT32_MAX};
  for (const Bytes* packet : {&v4, &v4_min, &v6, &v6_min, &arp, &tagged})
    for (std::int32_t diff : diffs)
      for (std::uint32_t mode : {net, mac, 2u})
        l2.compare(fmt::format("adjust_room({}, mode {}) on {} bytes of {:02x}{:02x}", diff, mode,
                               packet->size(), (*packet)[12], (*packet)[13]),
                   *packet, {.ops = adjust_room, .a = static_cast<std::uint32_t>(diff), .b = mode});
  // Every flag alone and the combinations Linux refuses, growing and shrinking.
  const std::uint64_t flag_sets[] = {
      f_fixed_gso,
      f_encap_ipv4,
      f_encap_ipv6,
      f_encap_gre,
      f_encap_udp,
      f_no_csum_reset,
      f_encap_eth,
      f_decap_ipv4,
      f_decap_ipv6,
      1ull << 9,
      1ull << 31,
      1ull << 55,
      encap_l2(14),
      f_encap_ipv4 | f_encap_ipv6,
      f_encap_ipv4 | f_encap_gre,
      f_encap_ipv4 | f_encap_udp,
      f_encap_ipv6 | f_encap_udp,
      f_encap_ipv4 | f_encap_gre | f_encap_udp,
      f_encap_ipv4 | f_encap_eth | encap_l2(14),
      f_encap_ipv4 | f_encap_eth | encap_l2(13),
      f_encap_ipv4 | f_encap_gre | f_encap_eth | encap_l2(14),
      f_encap_ipv4 | encap_l2(8),
      f_encap_ipv4 | encap_l2(40),
      f_encap_ipv4 | encap_l2(255),
      f_decap_ipv4 | f_decap_ipv6,
      f_decap_ipv4 | f_fixed_gso | f_no_csum_reset,
      f_decap_ipv6 | f_encap_ipv4,
  };
  for (const Bytes* packet : {&v4, &v6})
    for (std::uint64_t flags : flag_sets)
      for (std::int32_t diff : {36, 20, -20, -28})
        for (std::uint32_t mode : {net, mac}) {
          l2.compare(fmt::format("adjust_room({}, mode {}, {:#x}) on {} bytes of {:02x}{:02x}",
                                 diff, mode, flags, packet->size(), (*packet)[12], (*packet)[13]),
                     *packet,
                     {.ops = adjust_room,
                      .a = static_cast<std::uint32_t>(diff),
                      .b = mode,
                      .flags = flags});
        }
  // After an encapsulation: a second one is refused (-EALREADY), as is change_tail
  // (-ENOTSUPP); shrinking back is allowed.
  for (std::uint64_t flags : {f_encap_ipv4 | f_encap_udp, f_encap_ipv6 | f_encap_gre,
                              f_encap_ipv4 | f_encap_eth | encap_l2(14)})
    for (std::uint32_t second : {adjust_room, change_tail, adjust_room_back})
      l2.compare(fmt::format("encap {:#x} then op {}", flags, second), v4,
                 {.ops = ops({adjust_room, second}), .a = 36, .b = mac, .flags = flags});
  // GSO packets: test_run's gso_type is neither TCP nor UDP_L4, so -ENOTSUPP either way.
  for (std::int32_t diff : {8, -8})
    for (std::uint64_t flags : {std::uint64_t{0}, f_fixed_gso})
      EXPECT_EQ(l2.compare(fmt::format("gso adjust_room({}, {:#x})", diff, flags), v4,
                           {.ops = adjust_room,
                            .a = static_cast<std::uint32_t>(diff),
                            .b = net,
                            .flags = flags,
                            .gso_size = 1400})
                    .retval,
                enotsupp);
  // Grow limit: BPF_SKB_MAX_LEN. The biggest packet test_run takes, grown by 0xfff four times
  // (the fourth crosses it); the buffer moves on the way.
  const Bytes big = eth(0x0800, ipv4(4096 - 64 - 320 - 14 - 20));
  l2.compare(
      "grow to the limit", big,
      {.ops = ops({adjust_room, adjust_room, adjust_room, adjust_room}), .a = 0xfff, .b = mac});
  l2.compare("grow then shrink", v6,
             {.ops = ops({adjust_room, adjust_room_back, adjust_room}), .a = 40, .b = net});
  std::printf("%zu cases compared\n", l2.compared);
}

TEST(SkbCookies, MatchTheKernel) {
  L2Program l2;
  SKIP_UNLESS_READY(l2);
  const Bytes packet = eth(0x0800, ipv4(8));
  const SkbMetadata in = metadata({.ops = 0xff});
  const Outcome first = l2.kernel(packet, in), second = l2.kernel(packet, in);
  ASSERT_TRUE(first.ran && second.ran) << first.error << second.error;
  const std::uint64_t cookie = first.skb.cb[1] | std::uint64_t{first.skb.cb[2]} << 32;
  const std::uint64_t next = second.skb.cb[1] | std::uint64_t{second.skb.cb[2]} << 32;
  // Each test_run makes a socket, and each socket gets a new cookie on first use.
  EXPECT_NE(cookie, 0u);
  EXPECT_GT(next, cookie);
  // The netns cookie of the skb's socket is the namespace's: SO_NETNS_COOKIE's.
  std::uint64_t netns = 0;
  socklen_t size = sizeof netns;
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &netns, &size), 0);
  close(fd);
  EXPECT_EQ(first.skb.cb[3] | std::uint64_t{first.skb.cb[4]} << 32, netns);
  // bpfvm with the same socket and namespace cookies (init_net's from the kernel's NULL call).
  Network network = Network::loopback();
  network.netns_cookie = netns;
  network.init_netns_cookie = first.skb.mark;
  for (Engine engine : {Engine::interpreter, Engine::jit}) {
    if (engine == Engine::jit && !jit_supported()) continue;
    const Outcome ours =
        l2.bpfvm(packet, in, {}, {.engine = engine, .socket_cookie = cookie, .network = &network});
    EXPECT_EQ(first, ours) << "kernel: " << show(first) << "\nbpfvm: " << show(ours);
  }
}

// LD_ABS / LD_IND after a helper moved or resized the packet read the packet as it is now,
// on both engines, as in the kernel (they used to read the packet the run started with).
TEST(LegacyPacketLoads, ReadThePacketAfterAResize) {
  L2Program ld("ld_abs_tc");
  SKIP_UNLESS_READY(ld);
  const Bytes v4 = eth(0x0800, ipv4(40)), v6 = eth(0x86dd, ipv6(24));
  const Bytes tagged = eth(0x8100, concat(tag(5, 0x0800), ipv4(20)));
  struct Case {
    const char* name;
    const Bytes* packet;
    Call call;
  };
  const Case cases[] = {
      {"nothing", &v4, {.ops = 0}},
      {"change_head(4)", &v4, {.ops = 1, .a = 4}},
      {"change_head(100)", &v4, {.ops = 1, .a = 100}},
      {"change_tail(40)", &v4, {.ops = 2, .a = 40}},
      {"change_tail(34)", &v4, {.ops = 2, .a = 34}},
      {"change_tail(200)", &v4, {.ops = 2, .a = 200}},
      {"adjust_room(+8, net)", &v4, {.ops = 3, .a = 8, .b = net}},
      {"adjust_room(-8, mac)", &v4, {.ops = 3, .a = static_cast<std::uint32_t>(-8), .b = mac}},
      {"adjust_room(+4000, mac)", &v4, {.ops = 3, .a = 4000, .b = mac}},
      {"vlan_pop", &tagged, {.ops = 4}},
      {"change_proto(6)", &v4, {.ops = 5, .a = be(0x86dd)}},
      {"change_proto(4)", &v6, {.ops = 5, .a = be(0x0800)}},
  };
  for (const Case& c : cases)
    for (std::uint32_t at : {0u, 14u, 30u, 40u, 60u, 100u, 3990u})
      for (std::uint32_t indirect : {0u, 26u, 54u, 120u}) {
        Call call = c.call;
        call.flags = at | std::uint64_t{indirect} << 32;  // cb[3], cb[4]
        ld.compare(fmt::format("{} then loads at {} and {}", c.name, at, indirect), *c.packet,
                   call);
      }
}

// What the kernel cannot show: an skb without a socket (tc ingress), and the default
// cookies.
TEST(SkbCookies, WithoutASocketAndByDefault) {
  L2Program l2;
  if (l2.skip_bpfvm()) GTEST_SKIP() << *l2.skip_bpfvm();
  const Bytes packet = eth(0x0800, ipv4(8));
  const SkbMetadata in = metadata({.ops = 0xff});
  Network network = Network::loopback();
  network.netns_cookie = 77;
  network.init_netns_cookie = 5;
  Outcome none = l2.bpfvm(packet, in, {}, {.socket_cookie = 0, .network = &network});
  ASSERT_TRUE(none.ran) << none.error;
  EXPECT_EQ(none.skb.cb[1], 0u);  // get_socket_cookie: no socket
  EXPECT_EQ(none.skb.cb[3], 5u);  // get_netns_cookie(skb): init_net's
  EXPECT_EQ(none.skb.mark, 5u);   // get_netns_cookie(NULL)
  Outcome some = l2.bpfvm(packet, in, {}, {.socket_cookie = 0x1234567890, .network = &network});
  EXPECT_EQ(some.skb.cb[1], 0x34567890u);
  EXPECT_EQ(some.skb.cb[2], 0x12u);
  EXPECT_EQ(some.skb.cb[3], 77u);
  Outcome defaults = l2.bpfvm(packet, in);
  EXPECT_EQ(defaults.skb.cb[1], 1u);
  EXPECT_EQ(defaults.skb.cb[3], 1u);
  EXPECT_EQ(defaults.skb.mark, 1u);
}

// sock_ops programs have no context bpfvm builds, so no socket: bpf_setsockopt answers
// -EINVAL (Linux's answer for an option it does not support), bpf_get_netns_cookie the run's
// namespace, and bpf_get_socket_cookie fails the run, saying why.
TEST(SocketHelpers, SockOpsWithoutASocket) {
  namespace b = test::build;
  HelperRegistry registry = linux_helpers();
  ASSERT_TRUE(add_packet_helpers(registry, ProgramType::sock_ops));
  auto run = [&](std::vector<Insn> insns) {
    LoadOptions options;
    options.type = ProgramType::sock_ops;
    options.helpers = &registry;
    auto program = Program::load(insns, options);
    EXPECT_TRUE(program) << program.error().to_string();
    std::vector<std::uint8_t> context(256);
    RunInput input;
    input.context = context.data();
    input.context_size = context.size();
    return interpret(*program, input);
  };
  // r6 = 36 (SO_MARK) at fp-8; setsockopt(ctx, SOL_SOCKET, SO_MARK, fp-8, 4).
  auto set =
      run({b::st(4, 10, -8, 36), b::mov_reg(4, 10), b::add(4, -8), b::mov(2, 1), b::mov(3, 36),
           b::mov(5, 4), Insn{.opcode = 0x85, .imm = 49}, Insn{.opcode = 0x95}});
  ASSERT_TRUE(set) << set.error().to_string();
  EXPECT_EQ(*set, static_cast<std::uint64_t>(-22));
  auto netns = run({Insn{.opcode = 0x85, .imm = 122}, Insn{.opcode = 0x95}});
  ASSERT_TRUE(netns) << netns.error().to_string();
  EXPECT_EQ(*netns, Network::loopback().netns_cookie);
  auto null_netns = run({b::mov(1, 0), Insn{.opcode = 0x85, .imm = 122}, Insn{.opcode = 0x95}});
  ASSERT_TRUE(null_netns);
  EXPECT_EQ(*null_netns, Network::loopback().init_netns_cookie);
  auto cookie = run({Insn{.opcode = 0x85, .imm = 46}, Insn{.opcode = 0x95}});
  ASSERT_FALSE(cookie);
  EXPECT_NE(cookie.error().to_string().find("socket"), std::string::npos)
      << cookie.error().to_string();
}

}  // namespace
}  // namespace bpfvm
