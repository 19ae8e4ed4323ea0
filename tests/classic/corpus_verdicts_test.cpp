// pcap-corpus: every capture x every filter of expected-libpcap-1.10.3.tsv, and every case of
// filter-apply-libpcap.tsv (libpcap's own TESTrun table), through the classic interpreter, the
// translation on the eBPF interpreter, and the translation on the JIT. Filters are compiled on
// the capture's own handle, as tcpdump compiles them.
#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>
#include <bpfvm/jit.hpp>

#include "classic/pcap_corpus.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <set>
#include <sstream>

namespace bpfvm::classic::test {
namespace {

struct StoredPacket {
  std::vector<std::uint8_t> bytes;
  std::uint32_t wire_length;
};

struct OpenCapture {
  capture::SavefileReader reader;
  std::vector<StoredPacket> packets;
};

Result<OpenCapture> open_capture(const std::string& file) {
  auto reader = capture::SavefileReader::open((corpus_dir() / file).string());
  if (!reader) return reader.error();
  std::vector<StoredPacket> packets;
  for (;;) {
    auto record = reader->next();
    if (!record) return record.error();
    if (!*record) break;
    packets.push_back({{(*record)->data.begin(), (*record)->data.end()}, (*record)->wire_length});
  }
  return OpenCapture{std::move(*reader), std::move(packets)};
}

std::vector<Engine> engines() {
  std::vector<Engine> out{Engine::interpreter, Engine::ebpf_interpreter};
  if (jit_supported()) out.push_back(Engine::jit);
  return out;
}

// Every engine's return value on every packet; empty string when all agree with `expected`.
std::string check_returns(const std::vector<Insn>& insns, const std::vector<StoredPacket>& packets,
                          const std::vector<std::uint32_t>& expected) {
  auto program = Program::load(insns);
  if (!program) return "load: " + program.error().to_string();
  std::string problems;
  for (Engine engine : engines()) {
    auto filter = Filter::create(*program, engine);
    if (!filter) return fmt::format("{}: {}", engine_name(engine), filter.error().to_string());
    for (std::size_t i = 0; i < packets.size(); ++i) {
      Packet packet{packets[i].bytes, packets[i].wire_length, nullptr};
      std::uint32_t got = filter->run(packet);
      if (got != expected[i])
        problems += fmt::format("{}: packet {} returns {}, libpcap {}\n", engine_name(engine),
                                i + 1, got, expected[i]);
    }
  }
  return problems;
}

// libpcap's own verdicts, to turn the summary rows into per-packet values.
std::vector<std::uint32_t> libpcap_returns(const std::vector<Insn>& insns,
                                           const std::vector<StoredPacket>& packets) {
  std::vector<bpf_insn> code;
  for (const Insn& insn : insns) code.push_back(bpf_insn{insn.code, insn.jt, insn.jf, insn.k});
  std::vector<std::uint32_t> out;
  for (const StoredPacket& packet : packets)
    out.push_back(bpf_filter(code.data(), packet.bytes.data(), packet.wire_length,
                             static_cast<u_int>(packet.bytes.size())));
  return out;
}

class ExpectedVerdicts : public ::testing::TestWithParam<std::string> {};

TEST_P(ExpectedVerdicts, EveryFilterMatchesLibpcap) {
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  const std::string file = GetParam();
  auto capture = open_capture(file);
  ASSERT_TRUE(capture) << capture.error().to_string();
  static const std::vector<TsvRow> rows = read_tsv(corpus_dir() / "expected-libpcap-1.10.3.tsv");
  static const std::vector<std::string> filters = corpus_filters();
  int checked = 0;
  for (const TsvRow& row : rows) {
    if (row.at("file") != file) continue;
    std::size_t number = std::stoul(row.at("filter_no"));
    const std::string& expression = filters.at(number - 1);
    SCOPED_TRACE(fmt::format("filter {}: {}", number, expression));
    auto insns = capture->reader.compile(expression, true, PCAP_NETMASK_UNKNOWN);
    ASSERT_EQ(insns.ok(), row.at("status") == "OK")
        << (insns ? "compiles, libpcap did not" : insns.error().to_string());
    if (!insns) continue;
    ASSERT_EQ(std::to_string(capture->packets.size()), row.at("npkts"));
    // The expected row, per packet: matched packets return one of the listed values.
    std::vector<std::size_t> matched = parse_ranges(row.at("matched_packets"));
    ASSERT_EQ(std::to_string(matched.size()), row.at("nmatch"));
    std::vector<std::uint32_t> expected = libpcap_returns(*insns, capture->packets);
    std::set<std::size_t> matched_set(matched.begin(), matched.end());
    std::set<std::uint32_t> values;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(expected[i] != 0, matched_set.count(i + 1) == 1)
          << "the installed libpcap disagrees with the table on packet " << i + 1;
      if (expected[i] != 0) values.insert(expected[i]);
    }
    std::string listed;
    for (std::uint32_t value : values)
      listed += (listed.empty() ? "" : ",") + std::to_string(value);
    EXPECT_EQ(listed, row.at("return_values"));
    std::string problems = check_returns(*insns, capture->packets, expected);
    EXPECT_EQ(problems, "");
    ++checked;
  }
  RecordProperty("filters", checked);
}

std::vector<std::string> files_or_placeholder() {
  auto files = corpus_files();
  if (files.empty()) files.push_back("absent");
  return files;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(PcapCorpus, ExpectedVerdicts, ::testing::ValuesIn(files_or_placeholder()),
                         test_name);

// libpcap's TESTrun table: the expected values are written out, not computed by libpcap here.
TEST(FilterApply, TestrunCasesMatch) {
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  auto rows = read_tsv(corpus_dir() / "filter-apply-libpcap.tsv");
  ASSERT_GE(rows.size(), 133u);
  for (const TsvRow& row : rows) {
    SCOPED_TRACE(
        fmt::format("{}: {} on {}", row.at("name"), row.at("expression"), row.at("savefile")));
    auto capture = open_capture(row.at("savefile"));
    ASSERT_TRUE(capture) << capture.error().to_string();
    auto insns = capture->reader.compile(row.at("expression"), true, PCAP_NETMASK_UNKNOWN);
    ASSERT_TRUE(insns) << insns.error().to_string();
    std::vector<std::uint32_t> expected;
    std::istringstream values(row.at("expected_bpf_filter_returns"));
    for (std::uint32_t value; values >> value;) expected.push_back(value);
    ASSERT_EQ(expected.size(), capture->packets.size());
    EXPECT_EQ(check_returns(*insns, capture->packets, expected), "");
  }
}

}  // namespace
}  // namespace bpfvm::classic::test
