// Random classic programs against the installed libpcap: every program's verdict on random
// packets from bpf_filter(), from our interpreter, from the translation on the eBPF
// interpreter (checked, so a translation that strayed outside the packet would fail) and from
// the translation on the JIT. Also our libpcap validator against bpf_validate() on random,
// mostly invalid, programs.
#include <bpfvm/classic.hpp>
#include <bpfvm/jit.hpp>

#include "classic/random_classic.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace bpfvm::classic::test {
namespace {

std::uint64_t base_seed() {
  const char* text = std::getenv("BPFVM_CLASSIC_SEED");
  return text ? std::strtoull(text, nullptr, 0) : 0x5eed'c1a5'51c0'0001ull;
}

std::vector<bpf_insn> to_pcap(const std::vector<Insn>& insns) {
  std::vector<bpf_insn> out;
  for (const Insn& insn : insns) out.push_back(bpf_insn{insn.code, insn.jt, insn.jf, insn.k});
  return out;
}

std::string describe(const std::vector<Insn>& insns, const RandomPacket& packet) {
  std::string bytes;
  for (auto byte : packet.bytes) bytes += fmt::format("{:02x}", byte);
  return fmt::format("{}packet ({} bytes, wire length {}): {}", listing(insns, Listing::text),
                     packet.bytes.size(), packet.wire_length, bytes);
}

constexpr int programs_per_run = 12000;
constexpr int packets_per_program = 8;

TEST(ClassicDifferential, RandomProgramsMatchLibpcapBpfFilter) {
  Random random(base_seed());
  int mismatches = 0;
  int jit_programs = 0;
  int nonzero_verdicts = 0;
  for (int n = 0; n < programs_per_run && mismatches < 5; ++n) {
    std::vector<Insn> insns = random_program(random);
    auto program = Program::load(insns);
    ASSERT_TRUE(program) << program.error().to_string() << "\n" << listing(insns, Listing::text);
    std::vector<bpf_insn> pcap_insns = to_pcap(insns);
    ASSERT_EQ(bpf_validate(pcap_insns.data(), static_cast<int>(pcap_insns.size())), 1);
    auto ebpf = translate(*program, TranslateOptions{.ancillary = false});
    ASSERT_TRUE(ebpf) << ebpf.error().to_string();
    std::optional<JitProgram> jit;
    if (jit_supported()) {
      JitOptions options;
      options.memory_mode = MemoryMode::unchecked;
      auto compiled = JitProgram::compile(*ebpf, options);
      ASSERT_TRUE(compiled) << compiled.error().to_string();
      jit = std::move(*compiled);
      ++jit_programs;
    }
    for (int p = 0; p < packets_per_program; ++p) {
      RandomPacket packet = random_packet(random);
      u_int expected = bpf_filter(pcap_insns.data(), packet.bytes.data(), packet.wire_length,
                                  static_cast<u_int>(packet.bytes.size()));
      Packet input{packet.bytes, packet.wire_length, nullptr};
      std::uint32_t ours = run(*program, input);
      TranslatedContext context;
      auto checked = interpret(*ebpf, translated_input(context, input));
      bool same = ours == expected && checked && *checked == expected;
      std::uint64_t jitted = expected;
      if (jit) {
        RunOptions unchecked;
        unchecked.memory_mode = MemoryMode::unchecked;
        auto result = jit->run(translated_input(context, input), unchecked);
        jitted = result ? *result : ~0ull;
        same = same && jitted == expected;
      }
      nonzero_verdicts += expected != 0;
      if (!same) {
        ++mismatches;
        ADD_FAILURE() << fmt::format(
            "bpf_filter {} interpreter {} ebpf {} jit {}\n{}", expected, ours,
            checked ? fmt::format("{}", *checked) : checked.error().to_string(), jitted,
            describe(insns, packet));
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  // The generator must exercise both verdicts a lot, or the comparison proves little.
  EXPECT_GT(nonzero_verdicts, programs_per_run * packets_per_program / 10);
  RecordProperty("programs", programs_per_run);
  RecordProperty("jit_programs", jit_programs);
  fmt::print("{} programs x {} packets: {} accepted by bpf_filter(); {} programs also on the JIT\n",
             programs_per_run, packets_per_program, nonzero_verdicts, jit_programs);
}

// Random raw instructions, most of them invalid: our reading of libpcap's rules must give
// bpf_validate()'s answer on every one.
TEST(ClassicDifferential, LibpcapValidatorMatchesBpfValidate) {
  Random random(base_seed() ^ 0xa11d);
  int accepted = 0;
  for (int n = 0; n < 20000; ++n) {
    std::size_t length = random.below(12);
    std::vector<Insn> insns(length);
    for (Insn& insn : insns) {
      insn.code = random.chance(90) ? static_cast<std::uint16_t>(random.below(256))
                                    : static_cast<std::uint16_t>(random.next());
      insn.jt = static_cast<std::uint8_t>(random.chance(70) ? random.below(12) : random.next());
      insn.jf = static_cast<std::uint8_t>(random.chance(70) ? random.below(12) : random.next());
      insn.k = random.chance(50) ? random.below(20) : edgy_value(random);
      if (random.chance(10))
        insn.k = static_cast<std::uint32_t>(-static_cast<int>(random.below(12)));
    }
    if (length != 0 && random.chance(60)) insns.back().code = random.chance(50) ? 0x06 : 0x16;
    std::vector<bpf_insn> pcap_insns = to_pcap(insns);
    bool theirs = bpf_validate(pcap_insns.data(), static_cast<int>(length)) != 0;
    bool ours = libpcap_accepts(insns);
    accepted += theirs;
    ASSERT_EQ(ours, theirs) << listing(insns, Listing::c_array)
                            << validate(insns, Rules::libpcap).error().to_string();
  }
  EXPECT_GT(accepted, 500);
}

}  // namespace
}  // namespace bpfvm::classic::test
