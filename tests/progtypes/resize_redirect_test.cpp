// bpf_redirect (tc and xdp), bpf_skb_change_tail/head, bpf_xdp_adjust_meta and
// bpf_skb_set/get_tunnel_key: programs clang built (tests/progtypes/bpf/{redirect_tc,
// redirect_xdp,resize_tc,meta_xdp,tunnel_tc}.bpf.c) take the helper's arguments from the
// packet and run on many packets, with values at and around every limit and bad flags, in
// the kernel (BPF_PROG_TEST_RUN) and on bpfvm's interpreter and JIT: r0, data_out and
// ctx_out must match. What test_run does not show (where a redirect went, the tunnel key)
// is checked against PacketRunOutput, the tunnel key also through get_tunnel_key's copy.
#include "progtypes/insn_builders.hpp"
#include "progtypes/kernel_subject.hpp"
#include "support/kernel_bpf.hpp"

#include <linux/bpf.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

namespace k = test::kernel;
using Bytes = std::vector<std::uint8_t>;

using Outcome = test::SubjectOutcome;

std::string show(const Outcome& o) {
  if (!o.ran) return "failed: " + o.error;
  std::string bytes;
  for (std::size_t i = 0; i < o.packet.size() && i < 48; ++i)
    bytes += fmt::format("{:02x}", o.packet[i]);
  return fmt::format("r0 {:#x} len {} [{}] cb {:#x} {:#x} {:#x} gso {} {}", o.retval,
                     o.packet.size(), bytes, o.skb.cb[0], o.skb.cb[1], o.skb.cb[2], o.skb.gso_size,
                     o.skb.gso_segs);
}

// One clang program in the kernel and in bpfvm (kernel_subject.hpp).
class Subject : public test::KernelSubject {
 public:
  Subject(const char* name, ProgramType type) : KernelSubject(name, type, show) {}
};

void put32(Bytes& packet, std::size_t at, std::uint32_t value) {
  std::memcpy(packet.data() + at, &value, 4);
}

// An Ethernet frame of `size` bytes with an experimental EtherType (no network header for
// test_run to check), a byte pattern, and `args` as u32s after the header.
Bytes frame(std::size_t size, std::initializer_list<std::uint32_t> args) {
  Bytes packet(size);
  for (std::size_t i = 0; i < size; ++i) packet[i] = static_cast<std::uint8_t>(i * 7 + 1);
  packet[12] = 0x88, packet[13] = 0xb5;
  std::size_t at = 14;
  for (std::uint32_t arg : args) put32(packet, (at += 4) - 4, arg);
  return packet;
}

constexpr std::uint32_t tc_act_shot = 2, tc_act_redirect = 7;
constexpr std::uint32_t xdp_aborted = 0, xdp_redirect = 4;

TEST(Redirect, TcMatchesTheKernelAndRecordsTheTarget) {
  Subject tc("redirect_tc", ProgramType::sched_cls);
  SKIP_UNLESS_READY(tc);
  for (std::uint32_t ifindex : {0u, 1u, 7u, 0xffffffffu})
    for (std::uint64_t flags : {0ull, 1ull, 2ull, 3ull, 4ull, 8ull, 1ull << 32, 1ull << 63}) {
      const Outcome ours = tc.compare(fmt::format("redirect({}, {:#x})", ifindex, flags),
                                      frame(64, {ifindex, static_cast<std::uint32_t>(flags),
                                                 static_cast<std::uint32_t>(flags >> 32)}));
      ASSERT_TRUE(ours.full);
      EXPECT_EQ(ours.retval, flags <= 1 ? tc_act_redirect : tc_act_shot);
      if (ours.retval == tc_act_redirect) {
        ASSERT_TRUE(ours.full->tc_redirect);
        EXPECT_EQ(ours.full->tc_redirect->ifindex, ifindex);
        EXPECT_EQ(ours.full->tc_redirect->ingress, flags == 1);
      } else {
        EXPECT_FALSE(ours.full->tc_redirect);
      }
    }
}

TEST(Redirect, XdpMatchesTheKernelAndRecordsTheTarget) {
  Subject xdp("redirect_xdp", ProgramType::xdp);
  SKIP_UNLESS_READY(xdp);
  for (std::uint32_t ifindex : {0u, 1u, 7u, 0xffffffffu})
    for (std::uint64_t flags : {0ull, 1ull, 2ull, 1ull << 32}) {
      const Outcome ours = xdp.compare(fmt::format("redirect({}, {:#x})", ifindex, flags),
                                       frame(64, {ifindex, static_cast<std::uint32_t>(flags),
                                                  static_cast<std::uint32_t>(flags >> 32)}));
      ASSERT_TRUE(ours.full);
      EXPECT_EQ(ours.retval, flags == 0 ? xdp_redirect : xdp_aborted);
      if (flags == 0) {
        ASSERT_TRUE(ours.full->redirect);
        EXPECT_EQ(ours.full->redirect->map, nullptr);
        EXPECT_EQ(ours.full->redirect->ifindex, ifindex);
      } else {
        EXPECT_FALSE(ours.full->redirect);
      }
    }
}

TEST(Redirect, NeighAndPeerMatchTheKernelAndRecordTheTarget) {
  Subject tc("redirect_neigh_tc", ProgramType::sched_cls);
  SKIP_UNLESS_READY(tc);
  const std::uint8_t nexthop[20] = {2, 0, 0, 0, 192, 0, 2, 1, 0xaa, 0xbb};  // AF_INET 192.0.2.1
  for (std::uint32_t op : {0u, 1u})
    for (std::uint32_t plen = 0; plen < 5; ++plen) {  // 0, 20, 24, 8, 19 bytes
      if (op == 1 && plen != 0) continue;
      for (std::uint64_t flags : {0ull, 1ull, 2ull, 1ull << 32}) {
        Bytes packet = frame(80, {op, 9, plen, static_cast<std::uint32_t>(flags),
                                  static_cast<std::uint32_t>(flags >> 32)});
        std::memcpy(packet.data() + 34, nexthop, sizeof nexthop);
        const Outcome ours =
            tc.compare(fmt::format("{}(9, plen #{}, {:#x})",
                                   op == 0 ? "redirect_neigh" : "redirect_peer", plen, flags),
                       packet);
        ASSERT_TRUE(ours.full);
        const bool redirected = flags == 0 && (plen == 0 || plen == 1 || plen == 2);
        EXPECT_EQ(ours.retval, redirected ? tc_act_redirect : tc_act_shot);
        ASSERT_EQ(ours.full->tc_redirect.has_value(), redirected);
        if (!redirected) continue;
        const TcRedirect& target = *ours.full->tc_redirect;
        EXPECT_EQ(target.ifindex, 9u);
        EXPECT_EQ(target.peer, op == 1);
        EXPECT_EQ(target.neigh, op == 0);
        EXPECT_FALSE(target.ingress);
        EXPECT_EQ(target.nexthop_family, op == 0 && plen != 0 ? 2u : 0u);
        if (target.nexthop_family != 0) {
          EXPECT_EQ(target.nexthop[0], 192);
        }
      }
    }
}

TEST(SkbChangeTail, MatchesTheKernelAtEveryLimit) {
  Subject tc("resize_tc", ProgramType::sched_cls);
  SKIP_UNLESS_READY(tc);
  SkbMetadata gso;
  gso.gso_size = 1400;
  gso.gso_segs = 3;
  gso.cb[3] = 0x1234;
  for (std::size_t size : {30u, 31u, 64u, 333u, 1514u})
    for (std::uint32_t new_len :
         {0u,     1u,     13u,    14u,    15u,    29u,         30u,        31u,   63u,
          64u,    65u,    100u,   332u,   334u,   1513u,       1515u,      4000u, 16063u,
          16064u, 16065u, 16384u, 65535u, 65536u, 0x7fffffffu, 0xffffffffu})
      for (std::uint64_t flags : {0ull, 1ull, 1ull << 32})
        for (const SkbMetadata& meta : {SkbMetadata{}, gso}) {
          tc.compare(fmt::format("{}-byte packet, change_tail({}, {:#x}), gso_size {}", size,
                                 new_len, flags, meta.gso_size),
                     frame(size, {0, new_len, static_cast<std::uint32_t>(flags),
                                  static_cast<std::uint32_t>(flags >> 32)}),
                     meta);
        }
}

TEST(SkbChangeHead, MatchesTheKernelAtEveryLimit) {
  Subject tc("resize_tc", ProgramType::sched_cls);
  SKIP_UNLESS_READY(tc);
  SkbMetadata gso;
  gso.gso_size = 1400;
  gso.gso_segs = 2;
  for (std::uint32_t size : {30u, 64u, 1514u})
    for (std::uint32_t room : {0u,
                               1u,
                               2u,
                               14u,
                               63u,
                               64u,
                               65u,
                               100u,
                               127u,
                               128u,
                               129u,
                               4000u,
                               16000u,
                               65535u - size,
                               65536u - size,
                               65537u - size,
                               0x10000u,
                               0xffffffffu - size,
                               0xffffffffu - size + 1,
                               0xffffffffu})
      for (std::uint64_t flags : {0ull, 1ull, 1ull << 40})
        for (const SkbMetadata& meta : {SkbMetadata{}, gso}) {
          // A GSO packet has no length limit: a head_room near 4 GiB makes the kernel's
          // skb_cow compute a negative headroom and BUG(); only sane GSO sizes are run.
          if (meta.gso_size != 0 && (flags != 0 || room > 0x20000u)) continue;
          tc.compare(fmt::format("{}-byte packet, change_head({}, {:#x}), gso_size {}", size, room,
                                 flags, meta.gso_size),
                     frame(size, {1, room, static_cast<std::uint32_t>(flags),
                                  static_cast<std::uint32_t>(flags >> 32)}),
                     meta);
        }
  // Repeats see what the previous run left (test_run's repeat): the first moves the packet
  // to a bigger buffer (change_head past the headroom), the second reads its arguments from
  // the new packet (zeros: change_tail(0), -EINVAL). Checked mode must admit the new buffer
  // in the first run after the helper and in the second from its start, on both engines.
  auto program = test::clang_program("resize_tc");
  ASSERT_TRUE(program);
  auto loaded = test::load_typed(ProgramType::sched_cls, *program);
  ASSERT_TRUE(loaded);
  const Bytes packet = frame(64, {1, 5000, 0, 0});
  for (Engine engine : {Engine::interpreter, Engine::jit}) {
    if (engine == Engine::jit && !jit_supported()) continue;
    PacketRunInput input;
    input.type = ProgramType::sched_cls;
    input.packet = packet;
    input.repeat = 2;
    auto run = run_packet(*loaded, input, engine);
    ASSERT_TRUE(run) << run.error().to_string();
    EXPECT_EQ(run->packet.size(), 5064u);
    EXPECT_EQ(run->skb.cb[0], 5064u);
    EXPECT_EQ(run->return_value, static_cast<std::uint64_t>(-22));  // -EINVAL
    EXPECT_EQ(Bytes(run->packet.begin() + 5000, run->packet.end()), packet);
  }
}

// A packet pointer kept across a helper that moved the packet (the kernel's verifier would
// refuse the program): checked mode refuses a store through it on both engines, since the old
// buffer's region is revoked, while the same store through a reloaded pointer succeeds.
TEST(SkbChangeHead, StalePacketPointerFaultsInCheckedMode) {
  using namespace test::build;
  auto program = [](bool reload) {
    std::vector<Insn> insns = {
        mov_reg(6, 1), ldx(4, 7, 6, 76),  // r7 = skb->data
        mov_reg(1, 6), mov(2, 1000),      // more than the 64 bytes of headroom: a new buffer
        mov(3, 0),     call(43),
    };
    if (reload) insns.push_back(ldx(4, 7, 6, 76));
    insns.push_back(st(1, 7, 0, 0x77));
    insns.push_back(mov(0, 0));
    insns.push_back(exit_insn());
    return insns;
  };
  const Bytes packet = frame(64, {});
  for (Engine engine : {Engine::interpreter, Engine::jit}) {
    if (engine == Engine::jit && !jit_supported()) continue;
    for (bool reload : {false, true}) {
      auto out = test::run_typed(ProgramType::sched_cls, program(reload), packet, {}, {}, engine);
      if (reload) {
        ASSERT_TRUE(out) << out.error().to_string();
        EXPECT_EQ(out->packet.size(), 1064u);
        EXPECT_EQ(out->packet[0], 0x77);
      } else {
        ASSERT_FALSE(out) << "a store through the stale pointer was admitted";
        EXPECT_EQ(out.error().kind, Error::Kind::out_of_bounds) << out.error().to_string();
      }
    }
  }
}

TEST(SkbPullData, MatchesTheKernel) {
  Subject tc("pull_tc", ProgramType::sched_cls);
  SKIP_UNLESS_READY(tc);
  for (std::uint32_t size : {18u, 64u, 1000u})
    for (std::uint32_t len : {0u, 1u, 14u, 17u, 18u, 19u, 63u, 64u, 65u, 999u, 1000u, 1001u,
                              0xffffu, 0x80000000u, 0xffffffffu})
      tc.compare(fmt::format("{}-byte packet, skb_pull_data({})", size, len), frame(size, {len}));
}

// One byte more on every repeat: the buffer grows geometrically, the bytes stay right.
TEST(SkbChangeTail, ManySmallGrowsOnBothEngines) {
  using namespace test::build;
  const std::vector<Insn> insns = {
      mov_reg(6, 1), ldx(4, 2, 6, 0),  // r2 = skb->len
      add(2, 1),     mov_reg(1, 6),   mov(3, 0), call(38), exit_insn(),
  };
  auto program = test::load_typed(ProgramType::sched_cls, insns);
  ASSERT_TRUE(program) << program.error().to_string();
  const Bytes packet = frame(64, {0xabcdef01u});
  for (Engine engine : {Engine::interpreter, Engine::jit}) {
    if (engine == Engine::jit && !jit_supported()) continue;
    PacketRunInput input;
    input.type = ProgramType::sched_cls;
    input.packet = packet;
    input.repeat = 3000;
    auto out = run_packet(*program, input, engine);
    ASSERT_TRUE(out) << out.error().to_string();
    EXPECT_EQ(out->return_value, 0u);
    ASSERT_EQ(out->packet.size(), 3064u);
    EXPECT_EQ(Bytes(out->packet.begin(), out->packet.begin() + 64), packet);
    EXPECT_EQ(std::count(out->packet.begin() + 64, out->packet.end(), 0), 3000);
  }
}

TEST(XdpAdjustMeta, MatchesTheKernelAtEveryLimit) {
  Subject xdp("meta_xdp", ProgramType::xdp);
  SKIP_UNLESS_READY(xdp);
  // adjust_head first (0: not moved; 100 and 240: more room for metadata than the 216 bytes
  // between the frame's struct xdp_frame and the packet), then adjust_meta.
  for (std::uint32_t meta : {0u, 4u, 32u})
    for (std::int32_t head : {0, 100, 240})
      for (std::int32_t delta : {0,
                                 4,
                                 -4,
                                 -1,
                                 -2,
                                 -3,
                                 -5,
                                 -8,
                                 -28,
                                 -32,
                                 -36,
                                 -64,
                                 -128,
                                 -212,
                                 -216,
                                 -220,
                                 -224,
                                 -248,
                                 -252,
                                 -256,
                                 -260,
                                 -300,
                                 1,
                                 3,
                                 8,
                                 32,
                                 36,
                                 64,
                                 -0x7fffffff - 1,
                                 0x7fffffff}) {
        Bytes packet = frame(meta + 300, {});
        put32(packet, meta + 14, static_cast<std::uint32_t>(head));
        put32(packet, meta + 18, static_cast<std::uint32_t>(delta));
        for (std::uint32_t i = 0; i < meta; ++i) packet[i] = static_cast<std::uint8_t>(0x30 + i);
        XdpMetadata m;
        m.metadata_size = meta;
        xdp.compare(fmt::format("{} bytes of metadata, adjust_head({}), adjust_meta({})", meta,
                                head, delta),
                    packet, {}, m);
      }
}

// struct bpf_tunnel_key, as the program's packet carries it.
Bytes tunnel_packet(std::uint32_t set_size, std::uint32_t set_flags, std::uint32_t get_size,
                    std::uint32_t get_flags, int variant) {
  Bytes packet = frame(30 + 44 + 10, {set_size, set_flags, get_size, get_flags});
  bpf_tunnel_key key{};
  key.tunnel_id = 0xa1b2c3d4;
  for (int i = 0; i < 4; ++i) {
    key.remote_ipv6[i] = 0x0a000001u + static_cast<std::uint32_t>(i) * 0x01010101u;
    key.local_ipv6[i] = 0xc0a80002u + static_cast<std::uint32_t>(i) * 0x00020002u;
  }
  key.tunnel_tos = 0x2e;
  key.tunnel_ttl = 61;
  key.tunnel_label = variant == 1 ? 0xfff12345u : 0;
  key.tunnel_ext = variant == 2 ? 1 : 0;
  std::memcpy(packet.data() + 30, &key, sizeof key);
  return packet;
}

TEST(TunnelKey, SetThenGetMatchesTheKernel) {
  Subject tc("tunnel_tc", ProgramType::sched_cls);
  SKIP_UNLESS_READY(tc);
  // Size selectors (tunnel_tc.bpf.c): 44, 28, 24, 22, 8, 12, 40 bytes.
  for (std::uint32_t set_size = 0; set_size < 7; ++set_size)
    for (std::uint32_t set_flags : {0u, 1u, 2u, 4u, 8u, 16u, 32u, 0x1fu, 0x1eu})
      for (std::uint32_t get_size = 0; get_size < 7; ++get_size)
        for (std::uint32_t get_flags : {0u, 1u, 16u, 17u, 2u})
          for (int variant = 0; variant < 3; ++variant) {
            if (variant != 0 && (get_size != 0 || get_flags > 1)) continue;
            const Outcome ours =
                tc.compare(fmt::format("set size #{} flags {:#x}, get size #{} flags {:#x}, key {}",
                                       set_size, set_flags, get_size, get_flags, variant),
                           tunnel_packet(set_size, set_flags, get_size, get_flags, variant));
            ASSERT_TRUE(ours.full);
            std::int64_t set_result;
            std::memcpy(&set_result, ours.packet.data() + 14, 8);
            EXPECT_EQ(ours.full->tunnel_key.has_value(), set_result == 0);
          }
  // The key itself, as PacketRunOutput reports it.
  const Outcome ours = tc.bpfvm(tunnel_packet(0, 0x4, 0, 0, 0));
  ASSERT_TRUE(ours.full && ours.full->tunnel_key);
  const TunnelKey& key = *ours.full->tunnel_key;
  EXPECT_EQ(key.id, 0xa1b2c3d4u);
  EXPECT_FALSE(key.ipv6);
  EXPECT_EQ(key.remote[0], 0x0a);
  EXPECT_EQ(key.remote[3], 0x01);
  EXPECT_EQ(key.local[0], 0xc0);
  EXPECT_EQ(key.tos, 0x2e);
  EXPECT_EQ(key.ttl, 61);
  EXPECT_EQ(key.flags, 0x2000 | 0x100 | 0x4 | 0x1);  // NOCACHE, DONT_FRAGMENT, KEY, CSUM
}

TEST(TunnelKey, OptionsMatchTheKernel) {
  Subject tc("tunnel_opt_tc", ProgramType::sched_cls);
  SKIP_UNLESS_READY(tc);
  // Size selectors (tunnel_opt_tc.bpf.c): set 4, 8, 12, 40, 6, 252, 256, 2 bytes; get 64, 4,
  // 8, 12, 40, 2 bytes.
  for (std::uint32_t key = 0; key < 3; ++key)
    for (std::uint32_t set_size = 0; set_size < 9; ++set_size)  // 8: no set_tunnel_opt
      for (std::uint32_t get_size = 0; get_size < 6; ++get_size)
        for (std::uint32_t key_flags : {0u, 16u, 17u}) {
          Bytes packet = frame(300, {key, set_size, get_size, key_flags});
          for (std::size_t i = 30; i < 286; ++i) packet[i] = static_cast<std::uint8_t>(i * 13);
          const Outcome ours =
              tc.compare(fmt::format("key {}, set_tunnel_opt size #{}, get_tunnel_opt size #{}, "
                                     "get_tunnel_key flags {:#x}",
                                     key, set_size, get_size, key_flags),
                         packet);
          ASSERT_TRUE(ours.full);
          std::int64_t set_result;
          std::memcpy(&set_result, ours.packet.data() + 22, 8);
          if (set_result == 0) {
            ASSERT_TRUE(ours.full->tunnel_key);
            EXPECT_FALSE(ours.full->tunnel_key->options.empty());
            EXPECT_EQ(ours.full->tunnel_key->options[0], packet[30]);
          }
        }
}

}  // namespace
}  // namespace bpfvm
