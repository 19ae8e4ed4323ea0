// The packet helpers without a kernel: checksums checked by recomputing them from scratch
// (RFC 1071), the bounds of adjust_head/adjust_tail, and each error return.
#include "progtypes/insn_builders.hpp"
#include "progtypes/packets.hpp"
#include "progtypes/typed_run.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

namespace bpfvm {
namespace {

using namespace test::build;
using test::run_typed;
namespace pk = test::packets;

constexpr std::uint64_t neg(int error) {
  return static_cast<std::uint64_t>(-static_cast<std::int64_t>(error));
}

std::uint32_t le32(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  std::uint32_t value;
  std::memcpy(&value, bytes.data() + at, 4);
  return value;
}

// helper(ctx, offset, from, to, flags) on a sched_cls packet.
Result<PacketRunOutput> replace(std::int32_t helper, const std::vector<std::uint8_t>& packet,
                                std::int32_t offset, std::uint64_t from, std::uint64_t to,
                                std::int32_t flags) {
  std::vector<Insn> insns = {mov(2, offset)};
  lddw(insns, 3, from);
  lddw(insns, 4, to);
  insns.push_back(mov(5, flags));
  insns.push_back(call(helper));
  insns.push_back(exit_insn());
  return run_typed(ProgramType::sched_cls, insns, packet);
}

// Rewrites the source address in `packet` (what a NAT's skb_store_bytes would do).
std::vector<std::uint8_t> with_source(std::vector<std::uint8_t> packet, std::uint32_t saddr) {
  std::memcpy(packet.data() + pk::ip_saddr_at, &saddr, 4);
  return packet;
}

TEST(ChecksumHelpers, ReplacingTheSourceAddressKeepsBothChecksumsValid) {
  for (std::uint8_t protocol : {6, 17}) {
    const auto original = pk::ipv4(protocol, 33);
    const std::size_t l4 = protocol == 6 ? pk::tcp_csum_at : pk::udp_csum_at;
    const std::uint32_t old_saddr = le32(original, pk::ip_saddr_at);
    const std::uint32_t new_saddr = 0x0102a8c0;  // 192.168.2.1 in memory order
    const auto changed = with_source(original, new_saddr);
    auto l3 = replace(10, changed, pk::ip_csum_at, old_saddr, new_saddr, 4);
    ASSERT_TRUE(l3) << l3.error().to_string();
    EXPECT_EQ(l3->return_value, 0u);
    EXPECT_EQ(pk::read_be16(l3->packet, pk::ip_csum_at), pk::ip_checksum(l3->packet));
    auto l4_result =
        replace(11, l3->packet, static_cast<std::int32_t>(l4), old_saddr, new_saddr, 0x10 | 4);
    ASSERT_TRUE(l4_result);
    EXPECT_EQ(pk::read_be16(l4_result->packet, l4), pk::l4_checksum(l4_result->packet, l4));
  }
}

TEST(ChecksumHelpers, TwoByteReplaceAndReplaceByDiff) {
  const auto original = pk::ipv4(6);
  auto changed = original;
  pk::write_be16(changed, pk::l4_at, 1234);  // the source port
  std::uint16_t old_port, new_port;
  std::memcpy(&old_port, original.data() + pk::l4_at, 2);
  std::memcpy(&new_port, changed.data() + pk::l4_at, 2);
  auto run = replace(11, changed, pk::tcp_csum_at, old_port, new_port, 2);
  ASSERT_TRUE(run);
  EXPECT_EQ(pk::read_be16(run->packet, pk::tcp_csum_at),
            pk::l4_checksum(run->packet, pk::tcp_csum_at));
  // l3_csum_replace with flags 0 takes a csum_diff result in `to`.
  const std::uint32_t new_saddr = 0x05060708;
  auto moved = with_source(original, new_saddr);
  std::vector<Insn> insns = {mov_reg(6, 1)};
  lddw(insns, 2, le32(original, pk::ip_saddr_at));
  insns.push_back(stx(4, 10, 2, -8));
  lddw(insns, 2, new_saddr);
  insns.push_back(stx(4, 10, 2, -4));
  for (Insn insn : {mov_reg(1, 10), add(1, -8), mov(2, 4), mov_reg(3, 10), add(3, -4), mov(4, 4),
                    mov(5, 0), call(28), mov_reg(4, 0), mov_reg(1, 6), mov(2, pk::ip_csum_at),
                    mov(3, 0), mov(5, 0), call(10), exit_insn()})
    insns.push_back(insn);
  auto diffed = run_typed(ProgramType::sched_cls, insns, moved);
  ASSERT_TRUE(diffed) << diffed.error().to_string();
  EXPECT_EQ(diffed->return_value, 0u);
  EXPECT_EQ(pk::read_be16(diffed->packet, pk::ip_csum_at), pk::ip_checksum(diffed->packet));
}

TEST(ChecksumHelpers, ErrorsAndMangledZero) {
  const auto packet = pk::ipv4(17);
  struct Case {
    std::int32_t helper, offset, flags;
    std::uint64_t from, result;
  };
  const Case cases[] = {
      {10, pk::ip_csum_at, 0x10, 1, neg(EINVAL)},  // l3 takes no pseudo-header flag
      {10, pk::ip_csum_at, 0, 1, neg(EINVAL)},     // flags 0 needs from == 0
      {10, pk::ip_csum_at, 3, 1, neg(EINVAL)},     // field size 3
      {10, 25, 2, 1, neg(EFAULT)},                 // odd offset
      {10, 0x10000, 2, 1, neg(EFAULT)},
      {10, static_cast<std::int32_t>(packet.size() - 1), 2, 1, neg(EFAULT)},
      {11, pk::udp_csum_at, 0x100, 1, neg(EINVAL)},
      {11, pk::udp_csum_at, 0x80 | 2, 1, 0},  // BPF_F_IPV6 is accepted
      {11, pk::udp_csum_at, 0x40 | 0x20 | 0x10 | 4, 1, 0},
  };
  for (const Case& c : cases) {
    auto run = replace(c.helper, packet, c.offset, c.from, 2, c.flags);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->return_value, c.result) << c.helper << " " << c.offset << " " << c.flags;
    if (c.result != 0) {
      EXPECT_EQ(run->packet, packet);
    }
  }
  // A zero UDP checksum ("none") stays zero with BPF_F_MARK_MANGLED_0, and a change that
  // would make it zero gives CSUM_MANGLED_0 instead.
  auto none = packet;
  none[pk::udp_csum_at] = none[pk::udp_csum_at + 1] = 0;
  auto run = replace(11, none, pk::udp_csum_at, 0, 0x1234, 0x20 | 4);
  ASSERT_TRUE(run);
  EXPECT_EQ(pk::read_be16(run->packet, pk::udp_csum_at), 0);
  auto near_zero = packet;
  near_zero[pk::udp_csum_at] = 0xff;
  near_zero[pk::udp_csum_at + 1] = 0xfe;
  // Adding the field's own value (0xfeff in memory order) to its complement folds to zero.
  run = replace(11, near_zero, pk::udp_csum_at, 0, 0xfeff, 0x20 | 4);
  ASSERT_TRUE(run);
  EXPECT_EQ(pk::read_be16(run->packet, pk::udp_csum_at), 0xffff);
}

TEST(ChecksumHelpers, CsumDiffValues) {
  // to = {04 03 02 01 | 08 07 06 05}: 0x0304 + 0x0102 + 0x0708 + 0x0506 (little-endian
  // halves) = 0x1014; from alone gives its complement sum.
  auto diff = [](std::int32_t from_size, std::int32_t to_size, std::int32_t seed) {
    std::vector<Insn> insns;
    lddw(insns, 2, 0x0506070801020304ull);
    insns.push_back(stx(8, 10, 2, -8));
    for (Insn insn : {mov_reg(1, 10), add(1, -8), mov(2, from_size), mov_reg(3, 10), add(3, -8),
                      mov(4, to_size), mov(5, seed), call(28), exit_insn()})
      insns.push_back(insn);
    auto run = run_typed(ProgramType::xdp, insns, pk::ipv4(6));
    EXPECT_TRUE(run) << run.error().to_string();
    return run ? run->return_value : ~0ull;
  };
  EXPECT_EQ(diff(0, 8, 0), 0x1014u);
  EXPECT_EQ(diff(0, 4, 0), 0x0406u);
  EXPECT_EQ(diff(0, 4, 0x10000), 0x0407u);  // the seed folds in with its carry
  EXPECT_EQ(diff(4, 4, 0), 0xffffu);        // the same word out and in: zero, as ~0
  EXPECT_EQ(diff(4, 0, 0), static_cast<std::uint16_t>(~0x0406u));
  EXPECT_EQ(diff(0, 0, 0x1234), 0x1234u);
}

// xdp_adjust_head / adjust_tail with `delta`: r0 = result; data_out shows the packet.
Result<PacketRunOutput> adjust(std::int32_t helper, std::int32_t delta, std::size_t size) {
  auto packet = pk::ipv4(17, size - 42);
  return run_typed(ProgramType::xdp, {mov(2, delta), call(helper), exit_insn()}, packet);
}

TEST(XdpAdjust, HeadBounds) {
  // data starts 256 bytes into the frame; it may move back to sizeof(struct xdp_frame) = 40
  // and forward until 14 bytes (ETH_HLEN) remain.
  EXPECT_EQ(adjust(44, -216, 60)->return_value, 0u);
  EXPECT_EQ(adjust(44, -217, 60)->return_value, neg(EINVAL));
  EXPECT_EQ(adjust(44, 46, 60)->return_value, 0u);
  EXPECT_EQ(adjust(44, 47, 60)->return_value, neg(EINVAL));
  auto grown = adjust(44, -20, 60);
  ASSERT_TRUE(grown);
  EXPECT_EQ(grown->packet.size(), 80u);
  const auto original = pk::ipv4(17, 18);
  EXPECT_TRUE(std::equal(original.begin(), original.end(), grown->packet.begin() + 20));
  auto shrunk = adjust(44, 10, 60);
  ASSERT_TRUE(shrunk);
  EXPECT_TRUE(std::equal(shrunk->packet.begin(), shrunk->packet.end(), original.begin() + 10));
}

TEST(XdpAdjust, TailBounds) {
  // The tail may reach the frame's end less skb_shared_info (4096 - 320) and shrink to 14.
  const std::int32_t room = 4096 - 320 - 256 - 60;
  EXPECT_EQ(adjust(65, room, 60)->return_value, 0u);
  EXPECT_EQ(adjust(65, room + 1, 60)->return_value, neg(EINVAL));
  EXPECT_EQ(adjust(65, -46, 60)->return_value, 0u);
  EXPECT_EQ(adjust(65, -47, 60)->return_value, neg(EINVAL));
  auto grown = adjust(65, 100, 60);
  ASSERT_TRUE(grown);
  ASSERT_EQ(grown->packet.size(), 160u);
  EXPECT_TRUE(std::all_of(grown->packet.begin() + 60, grown->packet.end(),
                          [](std::uint8_t b) { return b == 0; }));
  // Shrink, write where the tail was (still in the frame), grow again: the bytes are zeroed.
  auto packet = pk::ipv4(17, 18);
  auto run = run_typed(ProgramType::xdp,
                       {mov_reg(6, 1), mov(2, -10), call(65), ldx(4, 2, 6, 4), st(1, 2, 0, 0x55),
                        mov_reg(1, 6), mov(2, 10), call(65), exit_insn()},
                       packet);
  ASSERT_TRUE(run) << run.error().to_string();
  EXPECT_EQ(run->packet.size(), 60u);
  EXPECT_EQ(run->packet[50], 0);
}

TEST(SkbBytes, LoadAndStore) {
  const auto packet = pk::ipv4(6, 10);
  auto load = [&](ProgramType type, std::int32_t offset, std::int32_t len) {
    auto run = run_typed(
        type,
        {st(8, 10, -8, -1), mov(2, offset), mov_reg(3, 10), add(3, -8), mov(4, len), call(26),
         ldx(4, 1, 10, -8), alu_imm(0x60, 0, 32), alu_reg(0x40, 0, 1), exit_insn()},
        packet);
    EXPECT_TRUE(run) << run.error().to_string();
    return run ? run->return_value : 0;
  };
  // r0 = ret << 32 | the buffer's first word (prefilled with ones). sched_cls sees the frame
  // from the Ethernet header, socket_filter from the IP header.
  EXPECT_EQ(load(ProgramType::sched_cls, 12, 2), 0xffff0008u);
  EXPECT_EQ(load(ProgramType::socket_filter, 0, 1), 0xffffff45u);
  // Out of the packet: -EFAULT and the `len` bytes zeroed.
  EXPECT_EQ(load(ProgramType::sched_cls, static_cast<std::int32_t>(packet.size() - 1), 2),
            (neg(EFAULT) << 32) | 0xffff0000u);
  EXPECT_EQ(load(ProgramType::sched_cls, 0x10000, 1), (neg(EFAULT) << 32) | 0xffffff00u);
  auto store = [&](std::int32_t offset, std::int32_t len, std::int32_t flags) {
    return run_typed(ProgramType::sched_cls,
                     {st(4, 10, -4, 0x44332211), mov(2, offset), mov_reg(3, 10), add(3, -4),
                      mov(4, len), mov(5, flags), call(9), exit_insn()},
                     packet);
  };
  auto run = store(2, 4, 0);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->return_value, 0u);
  EXPECT_EQ(le32(run->packet, 2), 0x44332211u);
  EXPECT_EQ(store(static_cast<std::int32_t>(packet.size() - 3), 4, 0)->return_value, neg(EFAULT));
  EXPECT_EQ(store(-1, 4, 0)->return_value, neg(EFAULT));
  EXPECT_EQ(store(0, 4, 4)->return_value, neg(EINVAL));
  EXPECT_EQ(store(0, 4, 3)->return_value, 0u);
  // A destination the program may not write is a run error in checked mode.
  auto bad = run_typed(ProgramType::sched_cls,
                       {mov(2, 0), mov(3, 8), mov(4, 4), call(26), exit_insn()}, packet);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, Error::Kind::helper);
}

}  // namespace
}  // namespace bpfvm
