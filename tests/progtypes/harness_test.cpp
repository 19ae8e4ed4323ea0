// The run harness: the packet and context each type sees, the regions checked mode admits,
// what comes back, and the inputs test_run would refuse.
#include "progtypes/insn_builders.hpp"
#include "progtypes/packets.hpp"
#include "progtypes/typed_run.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/jit.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bpfvm {
namespace {

using namespace test::build;
using test::run_typed;
using ::testing::HasSubstr;

// r0 = data_end - data: only a rewritten program (64-bit pointers) gets the packet length.
std::vector<Insn> packet_length(std::int16_t data, std::int16_t data_end) {
  return {ldx(4, 2, 1, data), ldx(4, 0, 1, data_end), alu_reg(0x10, 0, 2), exit_insn()};
}

TEST(Harness, XdpPacketPointersAndDefaults) {
  const auto packet = test::packets::ipv4(6);
  auto run = run_typed(ProgramType::xdp, packet_length(0, 4), packet);
  ASSERT_TRUE(run) << run.error().to_string();
  EXPECT_EQ(run->return_value, packet.size());
  EXPECT_EQ(run->packet, packet);
  EXPECT_FALSE(run->redirect);
  // XDP_PACKET_HEADROOM before the packet: data - data_meta is 0, and the packet starts 256
  // bytes into its 4096-byte frame (adjust_head can take it back to 40, sizeof(xdp_frame)).
  run = run_typed(ProgramType::xdp, packet_length(8, 0), packet);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->return_value, 0u);
  run = run_typed(ProgramType::xdp, {ldx(4, 0, 1, 12), exit_insn()}, packet);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->return_value, 1u);  // the loopback device, as test_run
  XdpMetadata meta;
  meta.ingress_ifindex = 7;
  meta.rx_queue_index = 3;
  run = run_typed(ProgramType::xdp, {ldx(4, 0, 1, 16), exit_insn()}, packet, {}, meta);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->return_value, 3u);
}

TEST(Harness, XdpRepeatKeepsTheFrameAsTestRunDoes) {
  // r0 = the tailroom byte 100 bytes past data; then it is set to 7. With test_run's repeat
  // the later runs see the earlier runs' write; separate run_packet calls each get a zeroed
  // page (the page is reused per thread, and must not leak one packet's bytes into the next).
  const std::vector<Insn> insns = {ldx(4, 2, 1, 0), ldx(1, 0, 2, 100), st(1, 2, 100, 7),
                                   exit_insn()};
  const auto packet = test::packets::ipv4(6);
  auto program = test::load_typed(ProgramType::xdp, insns);
  ASSERT_TRUE(program) << program.error().to_string();
  for (Engine engine : {Engine::interpreter, Engine::jit}) {
    PacketRunInput input{.type = ProgramType::xdp, .packet = packet, .skb = {}, .xdp = {}};
    for (int i = 0; i < 2; ++i) {
      auto run = run_packet(*program, input, engine);
      ASSERT_TRUE(run) << run.error().to_string();
      EXPECT_EQ(run->return_value, 0u);
    }
    input.repeat = 3;
    auto run = run_packet(*program, input, engine);
    ASSERT_TRUE(run) << run.error().to_string();
    EXPECT_EQ(run->return_value, 7u);
    EXPECT_EQ(run->packet, packet);
    input.repeat = 1;
    run = run_packet(*program, input, engine);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->return_value, 0u);
  }
}

TEST(Harness, XdpMetadataPrecedesThePacket) {
  auto input = test::packets::ipv4(17);
  input.insert(input.begin(), {0xaa, 0xbb, 0xcc, 0xdd});
  XdpMetadata meta;
  meta.metadata_size = 4;
  // r0 = *(u8 *)data_meta; and the metadata's length.
  auto run =
      run_typed(ProgramType::xdp, {ldx(4, 2, 1, 8), ldx(1, 0, 2, 3), exit_insn()}, input, {}, meta);
  ASSERT_TRUE(run) << run.error().to_string();
  EXPECT_EQ(run->return_value, 0xddu);
  EXPECT_EQ(run->packet, input);  // data_out starts at data_meta
  run = run_typed(ProgramType::xdp, packet_length(8, 0), input, {}, meta);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->return_value, 4u);
}

TEST(Harness, XdpContextIsReadOnlyAndThePacketWritable) {
  // Loaded without rewriting, a store into the context reaches the read-only view.
  const std::vector<Insn> store = {st(4, 1, 24, 1), mov(0, 2), exit_insn()};
  auto program = Program::load(store);
  ASSERT_TRUE(program);
  const auto packet = test::packets::ipv4(6);
  PacketRunInput input{.type = ProgramType::xdp, .packet = packet, .skb = {}, .xdp = {}};
  auto run = run_packet(*program, input);
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().kind, Error::Kind::out_of_bounds);
  // Stores into the packet land in data_out.
  run = run_typed(ProgramType::xdp, {ldx(4, 2, 1, 0), st(1, 2, 0, 0x42), mov(0, 2), exit_insn()},
                  packet);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->packet[0], 0x42);
  EXPECT_EQ(run->return_value, static_cast<std::uint64_t>(XdpAction::pass));
}

TEST(Harness, SkbFieldsAsTestRunFillsThem) {
  auto packet = test::packets::ipv4(17, 10);
  std::fill(packet.begin(), packet.begin() + 6, 0xff);  // broadcast, but not on loopback
  for (ProgramType type : {ProgramType::socket_filter, ProgramType::sched_cls}) {
    const bool l2 = type == ProgramType::sched_cls;
    auto read = [&](std::int16_t offset) {
      auto run = run_typed(type, {ldx(4, 0, 1, offset), exit_insn()}, packet);
      EXPECT_TRUE(run) << run.error().to_string();
      return run ? run->return_value : ~0ull;
    };
    EXPECT_EQ(read(0), packet.size() - (l2 ? 0 : 14)) << "len";
    EXPECT_EQ(read(4), 2u) << "pkt_type: PACKET_MULTICAST (loopback has no broadcast address)";
    EXPECT_EQ(read(16), 0x0008u) << "protocol: htons(ETH_P_IP)";
    EXPECT_EQ(read(40), 1u) << "ifindex: loopback";
    EXPECT_EQ(read(36), 0u) << "ingress_ifindex";
    EXPECT_EQ(read(68), 0u) << "hash";
  }
  auto run = run_typed(ProgramType::sched_cls, packet_length(76, 80), packet);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->return_value, packet.size());
  run = run_typed(ProgramType::sched_cls, {ldx(4, 0, 1, 160), exit_insn()}, packet);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->return_value, packet.size()) << "wire_len defaults to the length";
}

TEST(Harness, SocketFiltersSeeTheNetworkHeader) {
  auto packet = test::packets::ipv4(6);
  // LD_ABS 0 reads the IP header's first byte; data_out has the Ethernet header zeroed.
  const Insn ld_abs_b{.opcode = 0x30, .imm = 0};
  auto run = run_typed(ProgramType::socket_filter, {mov_reg(6, 1), ld_abs_b, exit_insn()}, packet);
  ASSERT_TRUE(run) << run.error().to_string();
  EXPECT_EQ(run->return_value, 0x45u);
  auto expected = packet;
  std::fill(expected.begin(), expected.begin() + 14, 0);
  EXPECT_EQ(run->packet, expected);
  run = run_typed(ProgramType::sched_cls, {mov_reg(6, 1), ld_abs_b, exit_insn()}, packet);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->return_value, packet[0]);
  EXPECT_EQ(run->packet, packet);
}

TEST(Harness, MetadataInAndOut) {
  SkbMetadata meta;
  meta.mark = 5;
  meta.cb[2] = 77;
  meta.tstamp = 1234;
  auto run = run_typed(ProgramType::sched_cls,
                       {ldx(4, 2, 1, 8), add(2, 1), stx(4, 1, 2, 8), ldx(4, 0, 1, 56),
                        st(4, 1, 32, 3), st(4, 1, 44, 9), st(4, 1, 72, 10), exit_insn()},
                       test::packets::ipv4(6), meta);
  ASSERT_TRUE(run) << run.error().to_string();
  EXPECT_EQ(run->return_value, 77u);
  EXPECT_EQ(run->skb.mark, 6u);
  EXPECT_EQ(run->skb.priority, 3u);
  EXPECT_EQ(run->skb.tstamp, 1234u);
  EXPECT_EQ(run->skb.tc_index, 9u);
  EXPECT_EQ(run->skb.tc_classid, 10u);
}

TEST(Harness, RawProgramsGetTheirMemory) {
  const std::vector<std::uint8_t> memory = {1, 2, 3, 4};
  auto run = run_typed(ProgramType::raw,
                       {ldx(1, 0, 1, 3), alu_reg(0x00, 0, 2), st(1, 1, 0, 9), exit_insn()}, memory);
  ASSERT_TRUE(run) << run.error().to_string();
  EXPECT_EQ(run->return_value, 4u + 4u);  // byte 3 plus r2, the length
  EXPECT_EQ(run->packet, (std::vector<std::uint8_t>{9, 2, 3, 4}));
}

TEST(Harness, InputsTestRunRefuses) {
  const std::vector<Insn> ret = {mov(0, 0), exit_insn()};
  for (ProgramType type : {ProgramType::socket_filter, ProgramType::sched_cls, ProgramType::xdp}) {
    EXPECT_FALSE(run_typed(type, ret, std::vector<std::uint8_t>(13)));
    EXPECT_FALSE(run_typed(type, ret, std::vector<std::uint8_t>(4000)));
    EXPECT_TRUE(run_typed(type, ret, std::vector<std::uint8_t>(14)));
  }
  auto truncated = test::packets::ipv4(6);
  truncated.resize(30);
  auto run = run_typed(ProgramType::sched_cls, ret, truncated);
  ASSERT_FALSE(run);
  EXPECT_THAT(run.error().message, HasSubstr("network header is truncated"));
  EXPECT_TRUE(run_typed(ProgramType::xdp, ret, truncated));
  auto program = Program::load(ret);
  ASSERT_TRUE(program);
  const std::vector<std::uint8_t> packet(64);
  auto kprobe = run_packet(
      *program,
      PacketRunInput{.type = ProgramType::kprobe, .packet = packet, .skb = {}, .xdp = {}});
  ASSERT_FALSE(kprobe);
  EXPECT_THAT(kprobe.error().message, HasSubstr("cannot run kprobe programs"));
  EXPECT_FALSE(rewrite_context_access(ProgramType::kprobe, ret));
}

TEST(Harness, PacketHelpersOutsideAPacketRunFailCleanly) {
  HelperRegistry registry;
  ASSERT_TRUE(add_packet_helpers(registry, ProgramType::raw));
  LoadOptions options;
  options.helpers = &registry;
  for (std::int32_t id : {9, 10, 11, 26, 44, 51, 65}) {
    auto program = Program::load(
        std::vector<Insn>{mov(2, 0), mov(3, 0), mov(4, 0), mov(5, 0), call(id), exit_insn()},
        options);
    ASSERT_TRUE(program);
    std::vector<std::uint8_t> memory(256);
    auto run = interpret(*program, RunInput::raw(memory));
    ASSERT_FALSE(run) << id;
    EXPECT_EQ(run.error().kind, Error::Kind::helper) << id;
  }
}

TEST(Harness, RedirectMapRefusesForgedMapPointers) {
  std::vector<Insn> insns;
  lddw(insns, 1, 0x12345678);
  for (Insn insn : {mov(2, 0), mov(3, 0), call(51), exit_insn()}) insns.push_back(insn);
  auto run = run_typed(ProgramType::xdp, insns, test::packets::ipv4(6));
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().kind, Error::Kind::helper);
  EXPECT_THAT(run.error().message, HasSubstr("r1 is not one of the program's maps"));
}

TEST(Harness, InterpreterAndJitAgree) {
  if (!jit_supported()) GTEST_SKIP() << "no JIT on this host";
  const auto packet = test::packets::ipv4(6, 40);
  const std::vector<Insn> insns = {mov_reg(6, 1),     mov(2, 3),     call(44),   ldx(4, 2, 6, 0),
                                   ldx(4, 3, 6, 4),   mov_reg(4, 2), add(4, 2),  jgt_reg(4, 3, 2),
                                   st(1, 2, 1, 0x77), mov(0, 3),     exit_insn()};
  auto interpreted = run_typed(ProgramType::xdp, insns, packet, {}, {}, Engine::interpreter);
  auto compiled = run_typed(ProgramType::xdp, insns, packet, {}, {}, Engine::jit);
  ASSERT_TRUE(interpreted) << interpreted.error().to_string();
  ASSERT_TRUE(compiled) << compiled.error().to_string();
  EXPECT_EQ(interpreted->return_value, compiled->return_value);
  EXPECT_EQ(interpreted->packet, compiled->packet);
  EXPECT_EQ(compiled->packet.size(), packet.size() - 3);
  EXPECT_EQ(compiled->packet[1], 0x77);
  // Unchecked mode (for verified programs) and a budget go through the harness unchanged.
  auto program = test::load_typed(ProgramType::xdp, insns);
  ASSERT_TRUE(program);
  PacketRunInput input{.type = ProgramType::xdp, .packet = packet, .skb = {}, .xdp = {}};
  RunOptions unchecked;
  unchecked.memory_mode = MemoryMode::unchecked;
  for (Engine engine : {Engine::interpreter, Engine::jit}) {
    auto run = run_packet(*program, input, engine, unchecked);
    ASSERT_TRUE(run) << run.error().to_string();
    EXPECT_EQ(run->packet, compiled->packet);
    RunOptions tight;
    tight.budget = 3;
    auto stopped = run_packet(*program, input, engine, tight);
    ASSERT_FALSE(stopped);
    EXPECT_EQ(stopped.error().kind, Error::Kind::budget_exhausted);
  }
}

// The example of docs/program-types.md.
TEST(Harness, DocumentationExample) {
  HelperRegistry helpers;
  ASSERT_TRUE(add_packet_helpers(helpers, ProgramType::xdp));
  LoadOptions options;
  options.helpers = &helpers;
  options.type = ProgramType::xdp;
  auto insns = assemble(R"(
    ldxw %r2, [%r1+0]        # xdp_md.data      (rewritten to a 64-bit load)
    ldxw %r3, [%r1+4]        # xdp_md.data_end
    add %r2, 60
    mov %r0, 1               # XDP_DROP
    jgt %r2, %r3, out
    mov %r0, 2               # XDP_PASS
out:
    exit
)");
  ASSERT_TRUE(insns) << insns.error().to_string();
  auto program = load_typed_program(*insns, options);
  ASSERT_TRUE(program) << program.error().to_string();
  for (std::size_t size : {59u, 60u, 61u}) {
    std::vector<std::uint8_t> frame(size, 0);
    PacketRunInput input;
    input.type = ProgramType::xdp;
    input.packet = frame;
    auto out = run_packet(*program, input, jit_supported() ? Engine::jit : Engine::interpreter);
    ASSERT_TRUE(out) << out.error().to_string();
    EXPECT_EQ(out->return_value, size < 60 ? 1u : 2u) << size;
  }
}

}  // namespace
}  // namespace bpfvm
