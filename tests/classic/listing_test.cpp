// The listings: tcpdump -d/-dd/-ddd byte for byte against the pcap-corpus golden files, every
// opcode (and unknown ones) against the installed libpcap's bpf_image(), and the three
// listings read back by parse_program().
#include <bpfvm/classic.hpp>

#include "classic/opcode_table.hpp"
#include "classic/pcap_corpus.hpp"
#include "classic/random_classic.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>

namespace bpfvm::classic::test {
namespace {

struct Golden {
  const char* file;
  Listing format;
};

class GoldenListing : public ::testing::TestWithParam<Golden> {};

TEST_P(GoldenListing, MatchesTcpdumpByteForByte) {
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  auto text = read_text(corpus_dir() / GetParam().file);
  ASSERT_TRUE(text);
  auto blocks = dump_blocks(*text);
  auto filters = corpus_filters();
  ASSERT_EQ(blocks.size(), filters.size());
  for (std::size_t n = 1; n <= filters.size(); ++n) {
    SCOPED_TRACE(fmt::format("filter {}: {}", n, filters[n - 1]));
    auto insns = compile(filters[n - 1]);  // pcap_open_dead(EN10MB, 262144), optimized
    ASSERT_TRUE(insns) << insns.error().to_string();
    EXPECT_EQ(listing(*insns, GetParam().format), blocks.at(n));
    // Read back: -dd and -ddd carry every field; -d drops fields an instruction does not use
    // (libpcap leaves stray k values in tax and txa), so it must list the same again.
    auto parsed = parse_program(blocks.at(n));
    ASSERT_TRUE(parsed) << parsed.error().to_string();
    if (GetParam().format == Listing::text)
      EXPECT_EQ(listing(*parsed, Listing::text), blocks.at(n));
    else
      EXPECT_EQ(*parsed, *insns);
  }
}

INSTANTIATE_TEST_SUITE_P(PcapCorpus, GoldenListing,
                         ::testing::Values(Golden{"tcpdump-d.txt", Listing::text},
                                           Golden{"tcpdump-dd.txt", Listing::c_array},
                                           Golden{"tcpdump-ddd.txt", Listing::decimal}),
                         [](const auto& info) {
                           return std::string(info.param.format == Listing::text      ? "d"
                                              : info.param.format == Listing::c_array ? "dd"
                                                                                      : "ddd");
                         });

std::string libpcap_image(const Insn& insn, int index) {
  bpf_insn raw{insn.code, insn.jt, insn.jf, insn.k};
  return bpf_image(&raw, index);
}

// Every 8-bit opcode and a spread of k, jt, jf and indices: the same line as bpf_image().
TEST(Image, EveryOpcodeMatchesBpfImage) {
  static constexpr std::uint32_t ks[] = {0,          5,          12,         0x7fffffff, 0x80000000,
                                         0xffffffff, 0xfffff000, 0xfffff004, 0xfffff02c, 0xfffff03c,
                                         0xfffff040, 0xfffff001, 0xffeff000, 15,         16};
  static constexpr int indices[] = {0, 7, 999, 1000, 12345};
  for (unsigned code = 0; code < 0x100; ++code)
    for (std::uint32_t k : ks)
      for (int index : indices) {
        Insn insn{static_cast<std::uint16_t>(code), 3, 250, k};
        ASSERT_EQ(image(insn, static_cast<std::size_t>(index)), libpcap_image(insn, index))
            << fmt::format("code 0x{:x} k 0x{:x} at {}", code, k, index);
      }
  for (std::uint16_t code : {0x100, 0x120, 0xffff, 0x8015}) {
    Insn insn{code, 1, 2, 3};
    EXPECT_EQ(image(insn, 4), libpcap_image(insn, 4));
  }
}

TEST(Image, RandomProgramsMatchBpfImage) {
  Random random(77);
  for (int n = 0; n < 2000; ++n) {
    std::vector<Insn> insns = random_program(random, 20);
    for (std::size_t i = 0; i < insns.size(); ++i)
      ASSERT_EQ(image(insns[i], i), libpcap_image(insns[i], static_cast<int>(i)));
  }
}

// Every row: its `-d` line assembles back to the same instruction, and the three listings of
// a program read back to the program.
TEST(Assembler, EveryRowRoundTrips) {
  for (const OpInfo& row : op_rows) {
    Insn insn{row.code, 0, 0, 0};
    switch (row.operand) {
      case Operand::Mem: insn.k = 7; break;
      case Operand::Ja: insn.k = 1; break;
      case Operand::JumpK:
        insn.k = 0x800;
        insn.jt = 1;
        insn.jf = 0;
        break;
      case Operand::JumpX:
        insn.jt = 0;
        insn.jf = 1;
        break;
      case Operand::Len:
      case Operand::X:
      case Operand::None: break;
      default: insn.k = 0xfffffff0; break;
    }
    if (!row.listed) continue;  // ldx #pktlen lists as "unimp 0x81"; checked below
    std::string line = image(insn, 5);
    auto back = assemble_insn(line, 5);
    ASSERT_TRUE(back) << line << ": " << back.error().to_string();
    EXPECT_EQ(*back, insn) << line;
  }
  auto ldx_len = assemble_insn("ldx #pktlen", 0);
  ASSERT_TRUE(ldx_len);
  EXPECT_EQ(ldx_len->code, 0x81);
}

TEST(Assembler, ListingsReadBack) {
  Random random(99);
  for (int n = 0; n < 500; ++n) {
    std::vector<Insn> insns = random_program(random, 30);
    for (Insn& insn : insns)
      if (insn.code == 0x81) insn.code = 0x80;  // "unimp 0x81" loses nothing else, but k
    for (Listing format : {Listing::c_array, Listing::decimal}) {
      auto back = parse_program(listing(insns, format));
      ASSERT_TRUE(back) << back.error().to_string();
      EXPECT_EQ(*back, insns);
    }
    // The -d text keeps what the instruction uses; unused fields read back as zero.
    auto back = parse_program(listing(insns, Listing::text));
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_EQ(listing(*back, Listing::text), listing(insns, Listing::text));
  }
}

TEST(Assembler, ErrorsCarryTheLine) {
  auto result = parse_program("ldh [12]\njeq #0x800 jt 2 jf 3\nfrobnicate #1\nret #0\n");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().to_string(), "line 3: unknown mnemonic 'frobnicate'");
  auto shape = parse_program("ld x\n");
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error().to_string(), "line 1: 'ld' takes no operand like 'x'");
  auto count = parse_program("3\n6 0 0 1\n");
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().to_string(), "line 1: the count says 3 instructions, 1 follow");
}

TEST(Assembler, AcceptsNamesAndComments) {
  auto result = parse_program(
      "# inbound only\n"
      "ldh [type]\n"
      "jeq #0x4 jt 2 jf 3\n"
      "\n"
      "ret #0\n"
      "ret #262144\n");
  ASSERT_TRUE(result) << result.error().to_string();
  ASSERT_EQ(result->size(), 4u);
  EXPECT_EQ((*result)[0], (Insn{0x28, 0, 0, ancillary_base + skf_ad::pkttype}));
  EXPECT_EQ((*result)[1], (Insn{0x15, 0, 1, 4}));  // targets 2 and 3 from index 1
}

}  // namespace
}  // namespace bpfvm::classic::test
