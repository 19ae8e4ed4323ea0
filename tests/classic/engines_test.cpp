// bpf_filter() semantics, one rule per test, on every engine: the classic interpreter, the
// translation on the eBPF interpreter, and the translation on the JIT.
#include <bpfvm/classic.hpp>
#include <bpfvm/jit.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <vector>

namespace bpfvm::classic {
namespace {

std::vector<Engine> all_engines() {
  std::vector<Engine> out{Engine::interpreter, Engine::ebpf_interpreter};
  if (jit_supported()) out.push_back(Engine::jit);
  return out;
}

class Engines : public ::testing::TestWithParam<Engine> {
 protected:
  // Runs `source` (the -d syntax, jump targets absolute) on `bytes`.
  std::uint32_t run_on(const std::string& source, std::vector<std::uint8_t> bytes,
                       std::optional<std::uint32_t> wire_length = std::nullopt,
                       const Ancillary* ancillary = nullptr, Rules rules = Rules::libpcap) {
    auto insns = parse_program(source);
    EXPECT_TRUE(insns) << insns.error().to_string();
    if (!insns) return 0xdeadbeef;
    auto program = Program::load(*insns, LoadOptions{rules});
    EXPECT_TRUE(program) << program.error().to_string();
    if (!program) return 0xdeadbeef;
    auto filter = Filter::create(*program, GetParam());
    EXPECT_TRUE(filter) << filter.error().to_string();
    if (!filter) return 0xdeadbeef;
    Packet packet{bytes, wire_length.value_or(static_cast<std::uint32_t>(bytes.size())), ancillary};
    // The translation must also be right when every access is checked.
    if (GetParam() == Engine::ebpf_interpreter) {
      auto ebpf = translate(*program);
      TranslatedContext context;
      auto checked = interpret(*ebpf, translated_input(context, packet));
      EXPECT_TRUE(checked) << checked.error().to_string();
      EXPECT_EQ(*checked, filter->run(packet));
    }
    // Filter::run enters the JIT through the lean run_direct(): translations call nothing,
    // so they qualify, and the full run() must give the same verdict.
    if (GetParam() == Engine::jit) {
      auto ebpf = translate(*program);
      JitOptions jit_options;
      jit_options.memory_mode = MemoryMode::unchecked;
      auto jit = JitProgram::compile(*ebpf, jit_options);
      EXPECT_TRUE(jit && jit->direct_supported());
      TranslatedContext context;
      RunOptions unchecked;
      unchecked.memory_mode = MemoryMode::unchecked;
      auto full = jit->run(translated_input(context, packet), unchecked);
      EXPECT_TRUE(full) << full.error().to_string();
      EXPECT_EQ(static_cast<std::uint32_t>(*full), filter->run(packet));
    }
    return filter->run(packet);
  }
};

const std::vector<std::uint8_t> packet20 = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                            0x07, 0x08, 0x09, 0x0a, 0x0b, 0x45, 0xa6,
                                            0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13};

TEST_P(Engines, RegistersAndScratchStartAtZero) {
  EXPECT_EQ(run_on("ret a", packet20), 0u);
  EXPECT_EQ(run_on("txa\nret a", packet20), 0u);
  for (int m = 0; m < 16; ++m) {
    EXPECT_EQ(run_on(fmt::format("ld #7\nld M[{}]\nret a", m), packet20), 0u) << m;
    EXPECT_EQ(run_on(fmt::format("ldx #7\nldx M[{}]\ntxa\nret a", m), packet20), 0u) << m;
  }
}

TEST_P(Engines, LoadsAreBigEndian) {
  EXPECT_EQ(run_on("ld [12]\nret a", packet20), 0x45a60e0fu);
  EXPECT_EQ(run_on("ldh [12]\nret a", packet20), 0x45a6u);
  EXPECT_EQ(run_on("ldb [13]\nret a", packet20), 0xa6u);
  EXPECT_EQ(run_on("ldx #10\nld [x + 2]\nret a", packet20), 0x45a60e0fu);
  EXPECT_EQ(run_on("ldx #11\nldh [x + 1]\nret a", packet20), 0x45a6u);
  EXPECT_EQ(run_on("ldxb 4*([12]&0xf)\ntxa\nret a", packet20), 20u);
}

TEST_P(Engines, LoadsAreBoundedByTheCapturedLength) {
  // 20 bytes captured of 1500 on the wire: the last word is [16], the last byte [19].
  EXPECT_EQ(run_on("ld [16]\nret #1", packet20, 1500), 1u);
  EXPECT_EQ(run_on("ld [17]\nret #1", packet20, 1500), 0u);
  EXPECT_EQ(run_on("ldh [18]\nret #1", packet20, 1500), 1u);
  EXPECT_EQ(run_on("ldh [19]\nret #1", packet20, 1500), 0u);
  EXPECT_EQ(run_on("ldb [19]\nret #1", packet20, 1500), 1u);
  EXPECT_EQ(run_on("ldb [20]\nret #1", packet20, 1500), 0u);
  EXPECT_EQ(run_on("ldxb 4*([20]&0xf)\nret #1", packet20, 1500), 0u);
  EXPECT_EQ(run_on("ldx #16\nld [x + 0]\nret #1", packet20), 1u);
  EXPECT_EQ(run_on("ldx #16\nld [x + 1]\nret #1", packet20), 0u);
  // X + k wraps in 32 bits to a small offset: still out of bounds, as in libpcap.
  EXPECT_EQ(run_on("ldx #0xffffffff\nldb [x + 1]\nret #1", packet20), 0u);
  EXPECT_EQ(run_on("ldx #1\nld [x + -1]\nret #1", packet20), 0u);
  EXPECT_EQ(run_on("ld [-1]\nret #1", packet20), 0u);
  EXPECT_EQ(run_on("ld [2147483647]\nret #1", packet20), 0u);
  EXPECT_EQ(run_on("ldb [0]\nret #1", {}), 0u);
}

TEST_P(Engines, LenIsTheWireLength) {
  EXPECT_EQ(run_on("ld #pktlen\nret a", packet20, 1514), 1514u);
  EXPECT_EQ(run_on("ldx #pktlen\ntxa\nret a", packet20, 60), 60u);
}

TEST_P(Engines, DivisionAndModuloByXZeroReject) {
  EXPECT_EQ(run_on("ld #10\nldx #0\ndiv x\nret #5", packet20), 0u);
  EXPECT_EQ(run_on("ld #10\nldx #0\nmod x\nret #5", packet20), 0u);
  EXPECT_EQ(run_on("ld #100\nldx #7\ndiv x\nret a", packet20), 14u);
  EXPECT_EQ(run_on("ld #100\nldx #7\nmod x\nret a", packet20), 2u);
  EXPECT_EQ(run_on("ld #100\ndiv #7\nret a", packet20), 14u);
  EXPECT_EQ(run_on("ld #100\nmod #7\nret a", packet20), 2u);
  EXPECT_EQ(run_on("ld #0xffffffff\ndiv #2\nret a", packet20), 0x7fffffffu);  // unsigned
}

TEST_P(Engines, ArithmeticIs32BitUnsigned) {
  EXPECT_EQ(run_on("ld #0xffffffff\nadd #2\nret a", packet20), 1u);
  EXPECT_EQ(run_on("ld #1\nsub #2\nret a", packet20), 0xffffffffu);
  EXPECT_EQ(run_on("ld #0x10000\nmul #0x10000\nret a", packet20), 0u);
  EXPECT_EQ(run_on("ld #5\nneg\nret a", packet20), 0xfffffffbu);
  EXPECT_EQ(run_on("ld #0xf0f0\nxor #0xffff\nret a", packet20), 0x0f0fu);
  EXPECT_EQ(run_on("ld #0xf0f0\nldx #0xff00\nxor x\nret a", packet20), 0x0ff0u);
  EXPECT_EQ(run_on("ld #0xf0f0\nand #0xff\nor #0x100\nret a", packet20), 0x1f0u);
}

TEST_P(Engines, Shifts) {
  EXPECT_EQ(run_on("ld #3\nlsh #31\nret a", packet20), 0x80000000u);
  EXPECT_EQ(run_on("ld #0x80000000\nrsh #31\nret a", packet20), 1u);
  // A constant shift uses its low five bits (libpcap 1.10 on x86-64); by X >= 32 gives 0.
  EXPECT_EQ(run_on("ld #3\nlsh #33\nret a", packet20), 6u);
  EXPECT_EQ(run_on("ld #3\nlsh #32\nret a", packet20), 3u);
  EXPECT_EQ(run_on("ld #3\nldx #31\nlsh x\nret a", packet20), 0x80000000u);
  EXPECT_EQ(run_on("ld #3\nldx #32\nlsh x\nret a", packet20), 0u);
  EXPECT_EQ(run_on("ld #3\nldx #33\nrsh x\nret a", packet20), 0u);
  EXPECT_EQ(run_on("ld #0x80\nldx #4\nrsh x\nret a", packet20), 8u);
}

TEST_P(Engines, TransfersAndScratch) {
  EXPECT_EQ(run_on("ld #42\ntax\nld #0\ntxa\nret a", packet20), 42u);
  EXPECT_EQ(run_on("ld #7\nst M[3]\nldx #9\nstx M[15]\nld M[15]\nldx M[3]\nadd x\nret a", packet20),
            16u);
}

TEST_P(Engines, ReturnsAAndK) {
  EXPECT_EQ(run_on("ret #262144", packet20), 262144u);
  EXPECT_EQ(run_on("ret #0xffffffff", packet20), 0xffffffffu);
  EXPECT_EQ(run_on("ld #0xfedcba98\nret a", packet20), 0xfedcba98u);
}

TEST_P(Engines, ConditionalJumps) {
  // jt and jf are absolute in the -d syntax.
  const char* source = R"(ldh [12]
jeq #0x45a6 jt 2 jf 3
ret #1
ldx #0x45a7
jgt x jt 6 jf 5
ret #2
ret #3
)";
  EXPECT_EQ(run_on(source, packet20), 1u);
  EXPECT_EQ(run_on("ld #5\njge #5 jt 2 jf 3\nret #1\nret #2", packet20), 1u);
  EXPECT_EQ(run_on("ld #4\njge #5 jt 2 jf 3\nret #1\nret #2", packet20), 2u);
  EXPECT_EQ(run_on("ld #6\njset #2 jt 2 jf 3\nret #1\nret #2", packet20), 1u);
  EXPECT_EQ(run_on("ld #6\njset #1 jt 2 jf 3\nret #1\nret #2", packet20), 2u);
  EXPECT_EQ(run_on("ld #6\njset #1 jt 3 jf 2\nret #1\nret #2", packet20), 1u);
  EXPECT_EQ(run_on("ld #6\nldx #6\njeq x jt 3 jf 4\nret #1\nret #2", packet20), 1u);
  EXPECT_EQ(run_on("ld #6\njeq #6 jt 2 jf 2\nret #1", packet20), 1u);
  EXPECT_EQ(run_on("ja 2\nret #1\nret #2", packet20), 2u);
}

TEST_P(Engines, BackwardJumpsLoopAndAreBounded) {
  // Sum the bytes at 0, 4, 8, ... while in bounds: protochain-like loop with a backward ja.
  const char* walk = R"(ldx #0
ldb [x + 0]
ld M[0]
st M[1]
ldb [x + 0]
ldx M[1]
add x
st M[0]
ld M[2]
add #4
st M[2]
tax
ldb [x + 0]
jeq #0xff jt 15 jf 14
ja 1
ret #1
)";
  // The loop ends by an out-of-bounds load: 0.
  EXPECT_EQ(run_on(walk, packet20), 0u);
  // A ja to itself is rejected at once; a long loop runs out of its allowance (64 + caplen).
  EXPECT_EQ(run_on("ja 0\nret #1", packet20), 0u);
  const char* count = R"(ld M[0]
add #1
st M[0]
jge #84 jt 5 jf 4
ja 0
ld M[0]
ret a
)";
  EXPECT_EQ(run_on(count, packet20), 84u);  // 83 backward jumps: allowed for 20 bytes
  const char* too_long = R"(ld M[0]
add #1
st M[0]
jge #86 jt 5 jf 4
ja 0
ret #1
)";
  EXPECT_EQ(run_on(too_long, packet20), 0u);  // 85 needed, 84 allowed
}

TEST_P(Engines, AncillaryLoadsWithAndWithoutContext) {
  Ancillary ancillary;
  ancillary.protocol = 0x0800;
  ancillary.pkt_type = 4;
  ancillary.ifindex = 7;
  ancillary.vlan_tci = 0x2064;
  ancillary.vlan_present = 1;
  ancillary.vlan_tpid = 0x8100;
  ancillary.mark = 0xabc;
  EXPECT_EQ(run_on("ldh [proto]\nret a", packet20, {}, &ancillary), 0x0800u);
  EXPECT_EQ(run_on("ld [type]\nret a", packet20, {}, &ancillary), 4u);
  EXPECT_EQ(run_on("ldb [ifidx]\nret a", packet20, {}, &ancillary), 7u);
  EXPECT_EQ(run_on("ld [vlan_tci]\nret a", packet20, {}, &ancillary), 0x2064u);
  EXPECT_EQ(run_on("ld [vlanp]\nret a", packet20, {}, &ancillary), 1u);
  EXPECT_EQ(run_on("ld [vlan_tpid]\nret a", packet20, {}, &ancillary), 0x8100u);
  EXPECT_EQ(run_on("ld [mark]\nret a", packet20, {}, &ancillary), 0xabcu);
  EXPECT_EQ(run_on("ld #0xf0\nldx #0x0f\nld [xor_x]\nret a", packet20, {}, &ancillary), 0xffu);
  EXPECT_EQ(run_on("ld [nla]\nret #1", packet20, {}, &ancillary), 0u);
  // Without ancillary data they are out-of-bounds loads, as in libpcap's bpf_filter().
  EXPECT_EQ(run_on("ldh [type]\nret #1", packet20), 0u);
  EXPECT_EQ(run_on("ld [xor_x]\nret #1", packet20), 0u);
}

TEST_P(Engines, FreebsdModeRunsTheSame) {
  EXPECT_EQ(run_on("ldh [12]\njeq #0x45a6 jt 2 jf 3\nret #96\nret #0", packet20, {}, nullptr,
                   Rules::freebsd),
            96u);
}

INSTANTIATE_TEST_SUITE_P(Classic, Engines, ::testing::ValuesIn(all_engines()),
                         [](const auto& info) { return std::string(engine_name(info.param)); });

}  // namespace
}  // namespace bpfvm::classic
