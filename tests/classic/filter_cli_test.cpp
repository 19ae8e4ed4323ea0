// `bpfvm filter` against tcpdump: -w output byte for byte, --count, the -d/-dd/-ddd listings,
// and the errors (messages and exit codes) for a bad expression, a missing, truncated or
// unknown file and a link type libpcap cannot filter. Comparisons with tcpdump skip, saying
// so, when tcpdump is not installed.
#include "classic/pcap_corpus.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace bpfvm::classic::test {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

fs::path scratch_dir() {
  static fs::path dir = [] {
    fs::path path = fs::temp_directory_path() / fmt::format("bpfvm-filter-test-{}", getpid());
    fs::create_directories(path);
    return path;
  }();
  return dir;
}

Outcome shell(const std::string& command) {
  fs::path out = scratch_dir() / "stdout", err = scratch_dir() / "stderr";
  int status = std::system(fmt::format("{} >{} 2>{}", command, out.string(), err.string()).c_str());
  Outcome outcome;
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  outcome.out = read_text(out).value_or("");
  outcome.err = read_text(err).value_or("");
  return outcome;
}

Outcome bpfvm_filter(const std::string& arguments) {
  return shell(fmt::format("{} filter {}", BPFVM_CLI_PATH, arguments));
}

bool have_tcpdump() { return std::system("command -v tcpdump >/dev/null 2>&1") == 0; }
constexpr const char* no_tcpdump = "tcpdump is not installed (apt-get install tcpdump)";

const char* const expressions[] = {"",
                                   "tcp",
                                   "udp port 53",
                                   "ip6",
                                   "vlan",
                                   "not ip",
                                   "tcp[tcpflags] & tcp-syn != 0",
                                   "greater 200",
                                   "ip6 protochain 17",
                                   "ip[8] % 3 == 1"};

TEST(FilterCli, WriteIsByteIdenticalToTcpdump) {
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  if (!have_tcpdump()) GTEST_SKIP() << no_tcpdump;
  int compared = 0;
  int turn = 0;
  for (const std::string& file : corpus_files()) {
    std::string input = (corpus_dir() / file).string();
    for (const char* expression : expressions) {
      SCOPED_TRACE(fmt::format("{}: '{}'", file, expression));
      fs::path ours = scratch_dir() / "ours.pcap", theirs = scratch_dir() / "theirs.pcap";
      fs::remove(ours);
      fs::remove(theirs);
      Outcome tcpdump = shell(
          fmt::format("tcpdump -r {} -w {} {}", quote(input), theirs.string(), quote(expression)));
      // One engine per case, taking turns, keeps the test fast; every engine meets every file.
      for (const char* engine : {"interp", "ebpf", "jit"}) {
        if (turn++ % 3 != 0) continue;
        Outcome result = bpfvm_filter(fmt::format("-r {} -w {} --engine {} {}", quote(input),
                                                  ours.string(), engine, quote(expression)));
        ASSERT_EQ(result.exit_code, tcpdump.exit_code)
            << result.err << "\ntcpdump: " << tcpdump.err;
        if (tcpdump.exit_code != 0) continue;
        ASSERT_EQ(read_text(ours), read_text(theirs)) << engine;
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 150);
}

TEST(FilterCli, CountAndCountLimitMatchTcpdump) {
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  if (!have_tcpdump()) GTEST_SKIP() << no_tcpdump;
  for (const char* file :
       {"tcpdump/dns_tcp.pcap", "libpcap/geneve.pcap", "tcpdump/802.1ad_QinQ.pcap"}) {
    std::string input = (corpus_dir() / file).string();
    for (const char* expression : {"", "tcp", "ip"}) {
      Outcome ours = bpfvm_filter(fmt::format("-r {} --count {}", quote(input), quote(expression)));
      Outcome theirs =
          shell(fmt::format("tcpdump -r {} --count {}", quote(input), quote(expression)));
      EXPECT_EQ(ours.out, theirs.out) << file << " " << expression;
      Outcome limited = bpfvm_filter(fmt::format("-r {} -c 2 {}", quote(input), quote(expression)));
      Outcome limited_theirs =
          shell(fmt::format("tcpdump -r {} -c 2 {}", quote(input), quote(expression)));
      EXPECT_EQ(std::count(limited.out.begin(), limited.out.end(), '\n'),
                std::count(limited_theirs.out.begin(), limited_theirs.out.end(), '\n'));
    }
  }
}

TEST(FilterCli, ListingsMatchTcpdump) {
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  if (!have_tcpdump()) GTEST_SKIP() << no_tcpdump;
  for (const char* file :
       {"tcpdump/dns_udp.pcap", "tcpdump/loopback.pcap", "libpcap/ISIS_p2p_adjacency.pcap"}) {
    std::string input = (corpus_dir() / file).string();
    if (!fs::exists(input)) continue;
    for (const char* flag : {"-d", "-dd", "-ddd"})
      for (const char* expression :
           {"", "ip", "tcp port 80 or udp", "ip6 protochain 6", "iso proto \\isis"}) {
        Outcome ours =
            bpfvm_filter(fmt::format("-r {} {} {}", quote(input), flag, quote(expression)));
        Outcome theirs =
            shell(fmt::format("tcpdump -r {} {} {}", quote(input), flag, quote(expression)));
        EXPECT_EQ(ours.exit_code, theirs.exit_code) << file << " " << flag << " " << expression;
        EXPECT_EQ(ours.out, theirs.out) << file << " " << flag << " " << expression;
      }
  }
}

TEST(FilterCli, PrintsOneLinePerMatchingPacket) {
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  Outcome result = bpfvm_filter(
      fmt::format("-r {} udp", quote((corpus_dir() / "tcpdump/dns_udp.pcap").string())));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string expected_tail = " IP 192.168.1.11.43966 > 209.87.249.18.53: udp, length 98\n";
  EXPECT_NE(result.out.find(expected_tail), std::string::npos) << result.out;
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 2);
  EXPECT_EQ(
      result.err,
      fmt::format("reading from file {}, link-type EN10MB (Ethernet), snapshot length 262144\n",
                  (corpus_dir() / "tcpdump/dns_udp.pcap").string()));
}

TEST(FilterCli, ProgramFileRunsAClassicListing) {
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  fs::path program = scratch_dir() / "udp.ddd";
  std::ofstream(program) << "4\n40 0 0 12\n21 0 1 2048\n6 0 0 65535\n6 0 0 0\n";
  Outcome result = bpfvm_filter(fmt::format("-r {} --count --program {}",
                                            quote((corpus_dir() / "tcpdump/dns_udp.pcap").string()),
                                            program.string()));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "2 packets\n");
}

TEST(FilterCli, ErrorsAsTcpdump) {
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  std::string good = quote((corpus_dir() / "tcpdump/dns_udp.pcap").string());
  Outcome syntax = bpfvm_filter(fmt::format("-r {} 'udp and'", good));
  EXPECT_EQ(syntax.exit_code, 1);
  EXPECT_NE(syntax.err.find("bpfvm: error: can't parse filter expression: syntax error"),
            std::string::npos);
  Outcome missing = bpfvm_filter("-r /nonexistent/capture.pcap udp");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "bpfvm: error: /nonexistent/capture.pcap: No such file or directory\n");

  // A file cut in the middle of a packet: the packets before it are still processed.
  auto bytes = read_text(corpus_dir() / "tcpdump/dns_udp.pcap");
  fs::path truncated = scratch_dir() / "truncated.pcap";
  std::ofstream(truncated, std::ios::binary) << bytes->substr(0, 100);
  Outcome cut = bpfvm_filter(fmt::format("-r {} --count", truncated.string()));
  EXPECT_EQ(cut.exit_code, 1);
  EXPECT_NE(cut.err.find("truncated dump file; tried to read 98 captured bytes, only got 60"),
            std::string::npos)
      << cut.err;

  fs::path garbage = scratch_dir() / "garbage.pcap";
  std::ofstream(garbage) << "this is not a capture file at all";
  Outcome unknown_format = bpfvm_filter(fmt::format("-r {}", garbage.string()));
  EXPECT_EQ(unknown_format.exit_code, 1);
  EXPECT_EQ(unknown_format.err, "bpfvm: error: unknown file format\n");

  // Link type 999 does not exist; 147 (USER0) exists but cannot be filtered on.
  auto with_linktype = [&](std::uint32_t linktype) {
    fs::path path = scratch_dir() / fmt::format("linktype{}.pcap", linktype);
    std::string header("\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0\0\0\0\0\xff\xff\0\0", 20);
    for (int i = 0; i < 4; ++i) header += static_cast<char>(linktype >> (8 * i));
    std::ofstream(path, std::ios::binary) << header;
    return path.string();
  };
  Outcome bad_link = bpfvm_filter(fmt::format("-r {}", with_linktype(999)));
  EXPECT_EQ(bad_link.exit_code, 1);
  EXPECT_NE(bad_link.err.find("bpfvm: error: unknown data link type 999"), std::string::npos)
      << bad_link.err;
  Outcome user0 = bpfvm_filter(fmt::format("-r {} tcp", with_linktype(147)));
  EXPECT_EQ(user0.exit_code, 1);
  EXPECT_NE(user0.err.find("link-layer type filtering not implemented"), std::string::npos)
      << user0.err;
}

TEST(FilterCli, HelpDescribesTheCommand) {
  Outcome help = bpfvm_filter("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("byte-identical"), std::string::npos);
  EXPECT_NE(help.out.find("--engine"), std::string::npos);
}

}  // namespace
}  // namespace bpfvm::classic::test
