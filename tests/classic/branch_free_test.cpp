// The branch-free compiler (src/classic/branch_free.hpp) against libpcap's bpf_filter() and
// the classic interpreter: random programs on random packets (at least the code's minimum
// captured length, so the code itself runs, not the fallback), hand-written edge cases (values
// merged at joins, loads at the end of the capture, division by zero, scratch memory, short
// packets, ancillary loads), the programs it must refuse, and every pcap-corpus filter on
// every corpus capture. Filter::run (Engine::jit) is checked on the same packets, short ones
// included, to cover its choice between this code and the translation.
#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>
#include <bpfvm/jit.hpp>

#include "classic/branch_free.hpp"
#include "classic/branch_free_plan.hpp"
#include "classic/pcap_corpus.hpp"
#include "classic/random_classic.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::classic::test {
namespace {

using detail::BranchFreeFilter;
using Form = BranchFreeFilter::Form;

std::uint64_t base_seed() {
  const char* text = std::getenv("BPFVM_CLASSIC_SEED");
  return (text ? std::strtoull(text, nullptr, 0) : 0x5eed'c1a5'51c0'0001ull) ^ 0xb4a9c4f4ee;
}

std::uint32_t libpcap_verdict(const std::vector<Insn>& insns,
                              const std::vector<std::uint8_t>& bytes, std::uint32_t wire_length) {
  std::vector<bpf_insn> code;
  for (const Insn& insn : insns) code.push_back(bpf_insn{insn.code, insn.jt, insn.jf, insn.k});
  return bpf_filter(code.data(), bytes.data(), wire_length, static_cast<u_int>(bytes.size()));
}

std::string describe(const std::vector<Insn>& insns, const std::vector<std::uint8_t>& bytes,
                     std::uint32_t wire_length) {
  std::string hex;
  for (auto byte : bytes) hex += fmt::format("{:02x}", byte);
  return fmt::format("{}packet ({} bytes, wire length {}): {}", listing(insns, Listing::text),
                     bytes.size(), wire_length, hex);
}

bool is_far_absolute_load(const Insn& insn) {
  std::uint16_t mode = insn.code & 0xe0, cls = insn.code & 0x07;
  bool absolute = (cls == 0x00 && mode == 0x20) || (cls == 0x01 && mode == 0xa0);  // abs, msh
  return absolute && insn.k > 200 && insn.k < ancillary_base;
}

constexpr int programs_per_run = 12000;
constexpr int packets_per_program = 8;

// Runs a batch loop (BranchFreeFilter::Loop) over `packets` as Filter::run(span, span) does,
// with `fallback` for the packets it stops at; every stop must be at a packet the code does not
// take, and no verdict may be left unwritten.
template <class Fallback>
std::vector<std::uint32_t> run_loop(const BranchFreeFilter& code, BranchFreeFilter::Loop loop,
                                    std::span<const Packet> packets, Fallback fallback) {
  std::vector<std::uint32_t> verdicts(packets.size(), 0xdeadbeef);
  const Packet* first = packets.data();
  const Packet* end = first + packets.size();
  const std::size_t ahead = detail::loop_prefetch_ahead;
  const Packet* prefetch_end = packets.size() > ahead ? end - ahead : first;
  std::size_t i = 0;
  while (i < packets.size()) {
    const Packet* stop = loop(first + i, end, verdicts.data() + i, prefetch_end);
    EXPECT_GE(stop, first + i);
    EXPECT_LE(stop, end);
    i = static_cast<std::size_t>(stop - first);
    if (i == packets.size()) break;
    const Packet& packet = packets[i];
    EXPECT_TRUE(packet.data.size() < code.min_caplen() ||
                (packet.ancillary != nullptr && code.reads_ancillary()))
        << "the loop stopped at packet " << i << " of " << packet.data.size() << " bytes";
    verdicts[i] = fallback(packet);
    ++i;
  }
  return verdicts;
}

TEST(BranchFree, RandomProgramsMatchLibpcap) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  Random random(base_seed());
  int compiled = 0, mismatches = 0, accepted = 0, dispatched = 0;
  for (int n = 0; n < programs_per_run && mismatches < 5; ++n) {
    std::vector<Insn> insns = random_program(random);
    // A dispatch jumping into the program can skip the stores random_program puts before every
    // read of a scratch word, which libpcap 1.10.3 then reads uninitialised: the classic
    // interpreter (zeroed M[], checked against libpcap by the differential test) is the oracle.
    const bool with_dispatch = n % 2 == 1;
    if (n % 3 == 0) funnel_returns(random, insns);
    if (with_dispatch) prepend_dispatch(random, insns);
    // Absolute loads far past any packet make the minimum captured length too large to test
    // the code itself: bring most of them near.
    for (Insn& insn : insns)
      if (is_far_absolute_load(insn) && random.chance(90)) insn.k = random.below(100);
    auto program = Program::load(insns);
    ASSERT_TRUE(program) << program.error().to_string();
    auto code = BranchFreeFilter::compile(*program);
    if (!code) {
      // Only the refusals the compiler documents.
      EXPECT_EQ(code.error().kind, Error::Kind::usage) << code.error().to_string();
      continue;
    }
    // Filter (its choice between this code and the translation) on every fourth program:
    // creating one also translates and JITs the program, which is most of this test's time.
    std::optional<Filter> filter;
    if (n % 4 == 0) {
      auto created = Filter::create(*program, Engine::jit);
      ASSERT_TRUE(created) << created.error().to_string();
      ASSERT_TRUE(created->branch_free());
      ASSERT_EQ(created->branch_free_min_caplen(), code->min_caplen());
      filter = std::move(*created);
    }
    ++compiled;
    dispatched += code->has_dispatch();
    // The packets as the code ran them, for the batch loops after.
    std::vector<std::vector<std::uint8_t>> grown_packets;
    std::vector<std::uint32_t> grown_wire, grown_verdicts;
    for (int p = 0; p < packets_per_program; ++p) {
      RandomPacket packet = random_packet(random);
      // Through Filter first, at the generated length (the translation takes short packets).
      std::uint32_t expected =
          with_dispatch ? run(*program, Packet{packet.bytes, packet.wire_length, nullptr})
                        : libpcap_verdict(insns, packet.bytes, packet.wire_length);
      std::uint32_t through_filter =
          filter ? filter->run(Packet{packet.bytes, packet.wire_length, nullptr}) : expected;
      // Then the code itself, the packet grown to its minimum length or a little more.
      if (code->min_caplen() <= 4096 && packet.bytes.size() < code->min_caplen()) {
        std::size_t size = code->min_caplen() + random.below(6);
        while (packet.bytes.size() < size)
          packet.bytes.push_back(static_cast<std::uint8_t>(random.next()));
      }
      std::uint32_t interpreted = run(*program, Packet{packet.bytes, packet.wire_length, nullptr});
      std::uint32_t grown_expected =
          with_dispatch ? interpreted : libpcap_verdict(insns, packet.bytes, packet.wire_length);
      std::uint32_t ours = grown_expected, ours_dispatched = grown_expected,
                    ours_branchy = grown_expected;
      if (packet.bytes.size() >= code->min_caplen()) {
        ours = code->run(packet.bytes.data(), packet.bytes.size(), packet.wire_length);
        ours_branchy =
            code->run_branchy(packet.bytes.data(), packet.bytes.size(), packet.wire_length);
        if (code->has_dispatch())
          ours_dispatched =
              code->run_dispatched(packet.bytes.data(), packet.bytes.size(), packet.wire_length);
      }
      accepted += grown_expected != 0;
      grown_packets.push_back(packet.bytes);
      grown_wire.push_back(packet.wire_length);
      grown_verdicts.push_back(grown_expected);
      if (through_filter != expected || ours != grown_expected ||
          ours_dispatched != grown_expected || ours_branchy != grown_expected ||
          interpreted != grown_expected) {
        ++mismatches;
        ADD_FAILURE() << fmt::format(
            "Filter (jit) {} libpcap {} on the generated packet; branch-free {} dispatched {} "
            "branchy {} interpreter {} libpcap {} on\n{}",
            through_filter, expected, ours, ours_dispatched, ours_branchy, interpreted,
            grown_expected, describe(insns, packet.bytes, packet.wire_length));
      }
    }
    // The batch loops on the same packets (a prefix of them, so batches of every size up to 8
    // come up), one run per form.
    std::vector<Packet> batch;
    const std::size_t size = static_cast<std::size_t>(n) % (grown_packets.size() + 1);
    for (std::size_t p = 0; p < size; ++p)
      batch.push_back(Packet{grown_packets[p], grown_wire[p], nullptr});
    for (Form form : {Form::straight, Form::dispatched, Form::branchy}) {
      BranchFreeFilter::Loop loop = code->loop(form);
      if (loop == nullptr) {
        EXPECT_TRUE(form == Form::dispatched && !code->has_dispatch());
        continue;
      }
      std::vector<std::uint32_t> got =
          run_loop(*code, loop, batch, [&](const Packet& packet) { return run(*program, packet); });
      for (std::size_t p = 0; p < size && mismatches < 5; ++p) {
        if (got[p] == grown_verdicts[p]) continue;
        ++mismatches;
        ADD_FAILURE() << fmt::format("batch loop (form {}) {} expected {} on packet {} of\n{}",
                                     static_cast<int>(form), got[p], grown_verdicts[p], p,
                                     describe(insns, grown_packets[p], grown_wire[p]));
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  // Most programs must compile, and both verdicts must be common, or this proves little.
  EXPECT_GE(compiled, 10000);
  EXPECT_GT(accepted, compiled * packets_per_program / 10);
  // Half the programs start with a dispatch; most of those must get the dispatched code.
  EXPECT_GT(dispatched, compiled / 4);
  fmt::print(
      "{} random programs, {} compiled branch-free ({} also dispatched), {} packets accepted\n",
      programs_per_run, compiled, dispatched, accepted);
}

// Runs `source` (the -d syntax, jump targets absolute) on every length of `bytes` from 0 up,
// through the branch-free code (lengths it takes), Filter (jit), and libpcap; or the classic
// interpreter, for programs that read a scratch word before storing it (libpcap 1.10.3 reads
// uninitialised memory there, bpfvm reads 0).
enum class Oracle { libpcap, interpreter };
void check_all_lengths(const std::string& source, std::vector<std::uint8_t> bytes,
                       Oracle oracle = Oracle::libpcap) {
  SCOPED_TRACE(source);
  auto insns = parse_program(source);
  ASSERT_TRUE(insns) << insns.error().to_string();
  auto program = Program::load(*insns);
  ASSERT_TRUE(program) << program.error().to_string();
  auto code = BranchFreeFilter::compile(*program);
  ASSERT_TRUE(code) << code.error().to_string();
  auto filter = Filter::create(*program, Engine::jit);
  ASSERT_TRUE(filter);
  for (std::size_t length = 0; length <= bytes.size(); ++length) {
    std::vector<std::uint8_t> packet(bytes.begin(), bytes.begin() + static_cast<long>(length));
    for (std::uint32_t wire : {static_cast<std::uint32_t>(length), 1000u}) {
      std::uint32_t expected = oracle == Oracle::libpcap
                                   ? libpcap_verdict(*insns, packet, wire)
                                   : run(*program, Packet{packet, wire, nullptr});
      EXPECT_EQ(filter->run(Packet{packet, wire, nullptr}), expected) << "length " << length;
      if (code && length >= code->min_caplen()) {
        EXPECT_EQ(code->run(packet.data(), packet.size(), wire), expected) << "length " << length;
        EXPECT_EQ(code->run_branchy(packet.data(), packet.size(), wire), expected)
            << "branchy, length " << length;
        if (code->has_dispatch()) {
          EXPECT_EQ(code->run_dispatched(packet.data(), packet.size(), wire), expected)
              << "dispatched, length " << length;
        }
      }
    }
  }
}

std::vector<std::uint8_t> bytes_counting(std::size_t n, std::uint8_t first = 0) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

TEST(BranchFree, ValuesMergedAtJoins) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  // A reaches (3) from (1) as the packet byte, or from (2) as 99.
  for (std::uint8_t first : {0, 1, 2}) {
    check_all_lengths("ldb [0]\njeq #1 jt 3 jf 2\nld #99\nret a", bytes_counting(4, first));
    // X, and a scratch word, the same way.
    check_all_lengths("ldxb 4*([0]&0xf)\nldb [0]\njeq #1 jt 4 jf 3\nldx #7\ntxa\nret a",
                      bytes_counting(4, first));
    check_all_lengths("ldb [0]\nst M[3]\njeq #2 jt 5 jf 3\nld #99\nst M[3]\nld M[3]\nadd #1\nret a",
                      bytes_counting(4, first));
    // Two jumps into one join, each skipping different writes.
    check_all_lengths(
        "ldb [0]\ntax\njeq #0 jt 7 jf 3\njeq #1 jt 6 jf 4\nld #50\nst M[0]\nldx #3\n"
        "txa\nadd #1000\nret a",
        bytes_counting(3, first));
  }
  // A scratch word read before any store is 0, on every path.
  check_all_lengths("ldb [0]\njeq #0 jt 3 jf 2\nst M[5]\nld M[5]\nret a", bytes_counting(3, 0),
                    Oracle::interpreter);
  check_all_lengths("ldb [0]\njeq #0 jt 3 jf 2\nst M[5]\nld M[5]\nret a", bytes_counting(3, 4),
                    Oracle::interpreter);
}

TEST(BranchFree, LoadsAtTheEndOfTheCapture) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  std::vector<std::uint8_t> bytes = bytes_counting(24, 0x42);  // ldxb 4*(0x42&0xf) = 8
  check_all_lengths("ld [20]\nret a", bytes);
  check_all_lengths("ldh [22]\nret a", bytes);
  check_all_lengths("ldxb 4*([0]&0xf)\nld [x + 12]\nret a", bytes);
  check_all_lengths("ldxb 4*([0]&0xf)\nldh [x + 14]\nret a", bytes);
  check_all_lengths("ldxb 4*([0]&0xf)\nldb [x + 15]\nret a", bytes);
  // X + k wraps in 32 bits: still out of bounds.
  check_all_lengths("ldx #0xffffffff\nldb [x + 1]\nret #1", bytes);
  check_all_lengths("ldx #1\nldb [x + 0xffffffff]\nret #1", bytes);
  check_all_lengths("ld [x + 0x80000000]\nret #1", bytes);
  // An out-of-bounds load on a path not taken does not reject.
  check_all_lengths("ldb [0]\njeq #0x42 jt 4 jf 2\nldx #200\nld [x + 0]\nret #7", bytes);
  // Wire length.
  check_all_lengths("ld #pktlen\nret a", bytes);
  check_all_lengths("ldx #pktlen\ntxa\nret a", bytes);
}

TEST(BranchFree, DivisionByZero) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  for (std::uint8_t first : {0, 1, 7}) {
    std::vector<std::uint8_t> bytes = bytes_counting(4, first);
    check_all_lengths("ldb [0]\ntax\nld #100\ndiv x\nret a", bytes);
    check_all_lengths("ldb [0]\ntax\nld #100\nmod x\nret a", bytes);
    check_all_lengths("ldb [0]\ntax\nld #100\nmod x\nret #5", bytes);
    // Division by zero on a path not taken.
    check_all_lengths("ldb [0]\ntax\njeq #0 jt 6 jf 3\nld #100\ndiv x\nret a\nret #3", bytes);
    check_all_lengths("ld #100\ndiv #7\nret a", bytes);
    check_all_lengths("ld #100\nmod #7\nret a", bytes);
  }
}

TEST(BranchFree, ArithmeticAndJumps) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  std::vector<std::uint8_t> bytes = {0x81, 0x20, 0x03, 0xff, 0x00, 0x10};
  const char* programs[] = {
      "ld [0]\nlsh #4\nret a",
      "ld [0]\nrsh #31\nret a",
      "ldb [1]\ntax\nld [0]\nlsh x\nret a",
      "ldb [1]\ntax\nld [0]\nrsh x\nret a",  // X = 32: 0
      "ldb [2]\ntax\nld [0]\nrsh x\nret a",
      "ld [0]\nneg\nret a",
      "ld [0]\nmul #3\nret a",
      "ldb [2]\ntax\nld [0]\nmul x\nsub x\nret a",
      "ld [0]\nxor #0xffffffff\nor #1\nand #0xf0f0f0f1\nret a",
      "ld [0]\njgt #0x81200000 jt 2 jf 3\nret #1\nret #2",
      "ld [0]\njge #0x812003ff jt 2 jf 3\nret #1\nret #2",
      "ldb [0]\njset #0x80 jt 2 jf 3\nret #1\nret #2",
      "ldb [0]\njset #0x40 jt 2 jf 3\nret #1\nret #2",
      "ldb [2]\ntax\nldb [2]\njeq x jt 4 jf 5\nret #9\nret #1\nret #2",
      "ldb [2]\ntax\nldb [1]\njgt x jt 4 jf 5\nret #9\nret #1\nret #2",
      "ldb [2]\ntax\nldb [2]\njge x jt 4 jf 5\nret #9\nret #1\nret #2",
      "ldb [2]\ntax\nldb [1]\njset x jt 4 jf 5\nret #9\nret #1\nret #2",
      "ldb [0]\nja 3\nret #1\nret a",
      "ldb [0]\njeq #0x81 jt 2 jf 2\nret #4",
      "ldb [0]\njeq #0x81 jt 3 jf 3\nret #4\nret #5",
      "ret #0xffffffff",
      "ret #0",
  };
  for (const char* source : programs) check_all_lengths(source, bytes);
}

// `ld [k]; and #mask; jeq #c`, as libpcap compiles `net`: compared as the top byte or two in
// memory when the mask allows; the cases it must leave to the ordinary code too.
TEST(BranchFree, MaskedComparisons) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  for (std::uint8_t first : {0x0a, 0x0b, 0x8a}) {
    std::vector<std::uint8_t> bytes = {0x00, first, 0x14, 0x01, 0x02, 0x03, 0x7f};
    for (const char* source :
         {// the top byte, the top two, either way of the jump to the return
          "ld [1]\nand #0xff000000\njeq #0x0a000000 jt 3 jf 4\nret #1\nret #2",
          "ld [1]\nand #0xff000000\njeq #0x0a000000 jt 4 jf 3\nret #1\nret #0",
          "ld [1]\nand #0xffff0000\njeq #0x0a140000 jt 3 jf 4\nret #1\nret #2",
          "ld [1]\nand #0xffff0000\njeq #0x8a140000 jt 3 jf 4\nret #1\nret #2",
          // c outside the mask never matches; another mask; A read after the jump
          "ld [1]\nand #0xff000000\njeq #0x0a000001 jt 3 jf 4\nret #1\nret #2",
          "ld [1]\nand #0xffffff00\njeq #0x0a140100 jt 3 jf 4\nret #1\nret #2",
          "ld [1]\nand #0xff000000\njeq #0x0a000000 jt 3 jf 4\nret a\nret #2",
          // the and reached by a jump too (A another value there)
          "ldb [0]\njeq #0 jt 2 jf 4\nld [1]\nja 5\nld #0x0a000000\nand #0xff000000\n"
          "jeq #0x0a000000 jt 7 jf 8\nret #1\nret #2",
          // twice in a row, as `not net 10.0.0.0/8` on source and destination
          "ld [1]\nand #0xff000000\njeq #0x0a000000 jt 7 jf 3\nld [2]\nand #0xff000000\n"
          "jeq #0x14000000 jt 7 jf 6\nret #5\nret #0"}) {
      check_all_lengths(source, bytes);
    }
  }
}

// `ldxb 4*([k]&0xf)` again with X unchanged is not computed again; with X written in between
// (on any path, or by a join restoring it) it must be.
TEST(BranchFree, RepeatedHeaderLength) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  for (std::uint8_t first : {0x45, 0x46, 0x4f, 0x00}) {
    std::vector<std::uint8_t> bytes = {first, 0x00, 0x01, 0x02, 0x03};
    for (const char* source :
         {"ldxb 4*([0]&0xf)\nldxb 4*([0]&0xf)\ntxa\nret a",
          "ldxb 4*([0]&0xf)\nldx #7\nldxb 4*([0]&0xf)\ntxa\nret a",
          "ldxb 4*([0]&0xf)\nld #3\ntax\nldxb 4*([0]&0xf)\ntxa\nret a",
          "ldxb 4*([0]&0xf)\nldxb 4*([1]&0xf)\nldxb 4*([0]&0xf)\ntxa\nret a",
          // the two protocol halves of a filter, each computing the header length
          "ldb [1]\njeq #0 jt 2 jf 5\nldxb 4*([0]&0xf)\nldb [x + 0]\nret a\nldx #1\n"
          "ldxb 4*([0]&0xf)\ntxa\nadd x\nret a",
          // a join restoring X between the two
          "ldxb 4*([0]&0xf)\nldb [1]\njeq #0 jt 4 jf 3\nldx #9\ntxa\nldxb 4*([0]&0xf)\n"
          "add x\nret a"}) {
      check_all_lengths(source, bytes);
    }
  }
}

// Indexed loads in the straight-line and dispatched code: the first after X changes compares
// X + the furthest end of the loads that run with that X with the captured length once, and
// the packet runs the branchy code when that is beyond it. Every length of the packet runs:
// the loads on the packet's path in or out of bounds, and loads out of bounds on paths not
// taken. (The absolute load of byte 5 keeps min_caplen at 6, where this applies.)
TEST(BranchFree, IndexedLoadsCheckedOncePerX) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  for (std::uint8_t first : {0x41, 0x42, 0x45, 0x4f}) {
    std::vector<std::uint8_t> bytes = bytes_counting(72, first);
    for (const char* source :
         {"ldb [5]\nldxb 4*([0]&0xf)\nldh [x + 14]\nret a",
          "ldb [5]\nldxb 4*([0]&0xf)\nldh [x + 14]\nldh [x + 16]\nret a",
          // two loads, the second further: one comparison covers both
          "ldb [5]\nldxb 4*([0]&0xf)\nldh [x + 14]\njeq #0x1617 jt 4 jf 5\nld [x + 20]\nret a",
          // the further load only on a path not taken: the packet must not be rejected for it
          "ldb [5]\nldxb 4*([0]&0xf)\nldb [x + 1]\njeq #0 jt 4 jf 5\nldb [x + 40]\nret #7",
          "ldb [5]\njeq #5 jt 2 jf 4\nldxb 4*([0]&0xf)\nldb [x + 30]\nret a",
          // X written between two loads: checked again
          "ldb [5]\nldxb 4*([0]&0xf)\nldb [x + 2]\ntax\nldb [x + 2]\nret a",
          "ldb [5]\nldxb 4*([0]&0xf)\nldb [x + 2]\nldx #50\nldb [x + 2]\nret a",
          // the same header length again (not computed again), then loads further on
          "ldb [5]\nldxb 4*([0]&0xf)\nldb [x + 2]\nldxb 4*([0]&0xf)\nldh [x + 12]\nret a",
          // a join restoring X between two loads
          "ldb [5]\nldxb 4*([0]&0xf)\nldb [x + 2]\njeq #0x50 jt 5 jf 4\nldx #60\n"
          "ldb [x + 3]\nret a",
          // the two halves of a port filter, as libpcap compiles `port 53`
          "ldh [12]\njeq #0x0c0d jt 2 jf 9\nldxb 4*([0]&0xf)\nldh [x + 14]\njeq #0x1c1d jt 8 jf 6\n"
          "ret #0\nldh [x + 16]\njeq #0x1e1f jt 8 jf 9\nret #100\nret #0"}) {
      check_all_lengths(source, bytes);
    }
  }
}

// The branchy form folds two tests that each go to the same `ret #k` on one way, with an
// absolute load between them, into one branch (setcc, or): on every packet, whichever test
// fails, and with other jumps (conditional, ja) into the load, which must not see the first
// test's outcome.
TEST(BranchFree, FoldedTests) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  const std::vector<std::vector<std::uint8_t>> packets = {{0x08, 0x00, 0x00, 0x01, 0x09},
                                                          {0x08, 0x00, 0x00, 0x02, 0x09},
                                                          {0x08, 0x06, 0x00, 0x01, 0x00},
                                                          {0x08, 0x00, 0x00, 0x01, 0x07},
                                                          {0x08, 0x06, 0x00, 0x02, 0x09}};
  for (const auto& bytes : packets) {
    for (const char* source :
         {"ldh [0]\njeq #0x800 jt 2 jf 5\nldb [3]\njeq #1 jt 4 jf 5\nret #1\nret #0",
          "ldh [0]\njeq #0x800 jt 5 jf 2\nldb [3]\njeq #1 jt 5 jf 4\nret #1\nret #0",
          // the return is an accepting one; jset and jgt as the tests
          "ldh [0]\njeq #0x800 jt 2 jf 5\nldb [3]\njeq #1 jt 5 jf 4\nret #0\nret #7",
          "ldh [0]\njset #0x6 jt 5 jf 2\nldb [3]\njgt #1 jt 5 jf 4\nret #1\nret #0",
          // A read after the pair: the second load's value
          "ldh [0]\njeq #0x800 jt 2 jf 5\nldb [3]\njeq #1 jt 4 jf 5\nret a\nret #0",
          // a conditional jump into the load from elsewhere, on either way
          "ldb [4]\njeq #9 jt 4 jf 2\nldh [0]\njeq #0x800 jt 4 jf 6\nldb [3]\njeq #1 jt 7 jf "
          "6\nret #0\nret #1",
          "ldb [4]\njeq #9 jt 2 jf 4\nldh [0]\njeq #0x800 jt 4 jf 6\nldb [3]\njeq #1 jt 7 jf "
          "6\nret #0\nret #1",
          // ja into the load
          "ldb [4]\njeq #9 jt 2 jf 3\nja 5\nldh [0]\njeq #0x800 jt 5 jf 7\nldb [3]\njeq #1 jt 8 "
          "jf 7\nret #0\nret #1",
          // two pairs in a row, the second's first test the first's way on
          "ldh [0]\njeq #0x800 jt 2 jf 7\nldb [3]\njeq #1 jt 4 jf 7\nldb [4]\njeq #9 jt 6 jf 7\n"
          "ret #1\nret #0"}) {
      check_all_lengths(source, bytes);
    }
  }
}

// The branchy form keeps a 16- or 32-bit A in the packet's byte order while it is only compared
// (jeq, jset) or masked (and) with constants, which it swaps instead; an A that meets another
// value at a join, or that anything else reads, is a number as before.
TEST(BranchFree, PacketOrderA) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  const std::vector<std::vector<std::uint8_t>> packets = {{0x81, 0x00, 0x01, 0x02, 0x03},
                                                          {0x88, 0xa8, 0x00, 0x65, 0x45},
                                                          {0x45, 0x01, 0x81, 0x00, 0x00},
                                                          {0x00, 0x81, 0x1f, 0xff, 0x08}};
  for (const auto& bytes : packets) {
    for (const char* source :
         {// libpcap's `vlan`: three TPIDs, then the VLAN ID masked
          "ldh [0]\njeq #0x8100 jt 4 jf 2\njeq #0x88a8 jt 4 jf 3\njeq #0x9100 jt 4 jf 8\n"
          "ldh [2]\nand #0xfff\njeq #0x65 jt 7 jf 8\nret #1\nret #2",
          // constants wider than the load: jeq never matches, jset and and see the low bytes
          "ldh [0]\njeq #0x18100 jt 3 jf 2\njeq #0x8100 jt 4 jf 5\nret #1\nret #2\nret #3",
          "ldh [0]\njset #0x10080 jt 3 jf 2\njset #0x1fff jt 4 jf 5\nret #1\nret #2\nret #3",
          "ldh [0]\nand #0x1ff00\njeq #0x8100 jt 3 jf 4\nret #1\nret #2",
          "ldh [0]\nand #0xff\njeq #0x0 jt 3 jf 4\nret #1\nret #2",
          // a word
          "ld [0]\njeq #0x81000102 jt 3 jf 2\njset #0x80 jt 3 jf 4\nret #1\nret #2",
          "ld [1]\nand #0xffff00\njeq #0x10200 jt 3 jf 4\nret #1\nret #2",
          // an indirect load, compared twice
          "ldxb 4*([4]&0xf)\nldh [x + 0]\njeq #0x81 jt 5 jf 3\njeq #0x4501 jt 5 jf 4\nret #1\n"
          "ret #2",
          // A meets another value at a join: a number there
          "ldh [0]\njeq #0x8100 jt 3 jf 2\nld #0x8101\njeq #0x8101 jt 5 jf 4\nret #1\nret #2",
          "ldh [0]\njeq #0x8100 jt 3 jf 2\nldh [2]\njset #0x100 jt 5 jf 4\nret #1\nret #2",
          // A read as a number after the comparisons
          "ldh [0]\njeq #0x8100 jt 2 jf 3\nret a\nret #2",
          "ldh [0]\njeq #0x8100 jt 2 jf 2\ntax\ntxa\nret a",
          "ldh [0]\njeq #0x8100 jt 2 jf 2\nadd #1\nret a",
          "ldh [0]\nand #0xff00\njgt #0x8000 jt 3 jf 4\nret #1\nret #2",
          "ldh [0]\njeq #0x8100 jt 2 jf 2\nst M[1]\nld M[1]\nret a"}) {
      check_all_lengths(source, bytes);
    }
  }
  // The analysis itself, on libpcap's `vlan 101`: the EtherType and the VLAN ID stay in packet
  // order through their comparisons.
  auto insns = compile("vlan 101");
  ASSERT_TRUE(insns) << insns.error().to_string();
  auto program = Program::load(*insns);
  ASSERT_TRUE(program);
  auto plan = detail::plan_branch_free(*program);
  ASSERT_TRUE(plan);
  const std::vector<int> order = detail::packet_order_a(program->code().steps, plan->live_in);
  EXPECT_EQ(order[0], 2) << listing(*insns, Listing::text);  // ldh [12]
  EXPECT_EQ(order[1], 2);                                    // jeq #0x8100
  // An A that meets another value at a join stays a number.
  auto joined = parse_program(
      "ldh [0]\njeq #0x8100 jt 3 jf 2\nld #0x8101\njeq #0x8101 jt 5 jf 4\nret #1\nret #2");
  ASSERT_TRUE(joined);
  auto joined_program = Program::load(*joined);
  ASSERT_TRUE(joined_program);
  auto joined_plan = detail::plan_branch_free(*joined_program);
  ASSERT_TRUE(joined_plan);
  const std::vector<int> joined_order =
      detail::packet_order_a(joined_program->code().steps, joined_plan->live_in);
  EXPECT_EQ(joined_order[0], 0);
  EXPECT_EQ(joined_order[3], 0);
}

TEST(BranchFree, RefusesWhatItDoesNotCompile) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  auto refused = [](const std::vector<Insn>& insns) {
    auto program = Program::load(insns);
    EXPECT_TRUE(program) << program.error().to_string();
    auto code = BranchFreeFilter::compile(*program);
    EXPECT_FALSE(code.ok());
    if (!code) {
      EXPECT_EQ(code.error().kind, Error::Kind::usage);
    }
    auto filter = Filter::create(*program, Engine::jit);
    EXPECT_TRUE(filter && !filter->branch_free());
  };
  // A backward jump (libpcap's protochain loops).
  refused({{0x05, 0, 0, 1}, {0x05, 0, 0, 0xfffffffe}, {0x06, 0, 0, 1}});
  // An absolute load ending beyond 2^31.
  refused({{0x20, 0, 0, 0x7ffffffe}, {0x06, 0, 0, 1}});
  // Too many instructions.
  std::vector<Insn> long_program(detail::max_branch_free_insns, Insn{0x04, 0, 0, 1});  // add #1
  long_program.push_back({0x16, 0, 0, 0});                                             // ret a
  refused(long_program);
  long_program.erase(long_program.begin());
  auto program = Program::load(long_program);
  EXPECT_TRUE(BranchFreeFilter::compile(*program).ok());
  // Too large a frame: 200 jumps over stores to all sixteen scratch words, which the target
  // reads, each save all sixteen. The translation still gives the right verdicts.
  const std::vector<Insn> stores = frame_heavy_program(0);
  refused(stores);
  program = Program::load(stores);
  ASSERT_TRUE(program) << program.error().to_string();
  auto filter = Filter::create(*program, Engine::jit);
  for (std::uint8_t first : {0, 5, 250}) {
    std::vector<std::uint8_t> bytes = {first, 1, 2, 3};
    EXPECT_EQ(filter->run(Packet::whole(bytes)), run(*program, Packet::whole(bytes)));
  }
}

TEST(BranchFree, AncillaryLoads) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  // Without ancillary values an ancillary load is an out-of-bounds load; with them it reads
  // the value, which the branch-free code does not: Filter must not use it then.
  auto insns = parse_program("ldb [0]\njeq #1 jt 2 jf 4\nld [proto]\nret a\nret #9");
  ASSERT_TRUE(insns) << insns.error().to_string();
  auto program = Program::load(*insns);
  auto filter = Filter::create(*program, Engine::jit);
  ASSERT_TRUE(filter && filter->branch_free());
  Ancillary ancillary;
  ancillary.protocol = 0x86dd;
  std::vector<std::uint8_t> one = {1, 2, 3}, two = {2, 2, 3};
  EXPECT_EQ(filter->run(Packet{one, 3, nullptr}), 0u);
  EXPECT_EQ(filter->run(Packet{two, 3, nullptr}), 9u);
  EXPECT_EQ(filter->run(Packet{one, 3, &ancillary}), 0x86ddu);
  EXPECT_EQ(filter->run(Packet{two, 3, &ancillary}), 9u);
  // Translated without ancillary values, the loads stay packet loads whatever the packet has.
  auto plain = Filter::create(*program, Engine::jit, TranslateOptions{.ancillary = false});
  ASSERT_TRUE(plain && plain->branch_free());
  EXPECT_EQ(plain->run(Packet{one, 3, &ancillary}), 0u);
  check_all_lengths("ld [proto]\nret a", bytes_counting(8));
  check_all_lengths("ldb [0]\njeq #0 jt 2 jf 3\nldh [vlan_tci]\nret #1", bytes_counting(8, 1));
}

TEST(BranchFree, PcapFiltersUseIt) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  const char* expressions[] = {
      "tcp and port 80",
      "tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
      "(udp port 53 or tcp port 443 or ip6) and not net 10.0.0.0/8",
      "vlan 101 and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or icmp[icmptype] == icmp-echo",
      "host 192.168.1.1 and not arp",
      "ip6 and tcp port 22",
  };
  for (const char* expression : expressions) {
    auto insns = compile(expression);
    ASSERT_TRUE(insns) << insns.error().to_string();
    auto program = Program::load(*insns);
    auto code = BranchFreeFilter::compile(*program);
    ASSERT_TRUE(code) << expression << ": " << code.error().to_string();
    EXPECT_LE(code->min_caplen(), 60u) << expression;  // every Ethernet frame takes it
  }
}

// Every corpus filter on every corpus capture: the branch-free code (packets it takes), with
// libpcap's verdict on each packet; most filters must compile.
TEST(BranchFree, PcapCorpus) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  int filters = 0, compiled = 0, runs = 0;
  for (const std::string& file : corpus_files()) {
    auto reader = capture::SavefileReader::open((corpus_dir() / file).string());
    if (!reader) continue;  // unreadable captures are the corpus test's business
    std::vector<std::pair<std::vector<std::uint8_t>, std::uint32_t>> packets;
    for (;;) {
      auto record = reader->next();
      if (!record || !*record) break;
      packets.push_back({{(*record)->data.begin(), (*record)->data.end()}, (*record)->wire_length});
    }
    for (const std::string& expression : corpus_filters()) {
      auto insns = reader->compile(expression, true, PCAP_NETMASK_UNKNOWN);
      if (!insns) continue;
      ++filters;
      auto program = Program::load(*insns);
      ASSERT_TRUE(program) << program.error().to_string();
      auto code = BranchFreeFilter::compile(*program);
      if (!code) continue;
      ++compiled;
      for (const auto& [bytes, wire] : packets) {
        if (bytes.size() < code->min_caplen()) continue;
        ++runs;
        const std::uint32_t expected = libpcap_verdict(*insns, bytes, wire);
        ASSERT_EQ(code->run(bytes.data(), bytes.size(), wire), expected)
            << file << ": " << expression << "\n"
            << describe(*insns, bytes, wire);
        ASSERT_EQ(code->run_branchy(bytes.data(), bytes.size(), wire), expected)
            << "branchy: " << file << ": " << expression << "\n"
            << describe(*insns, bytes, wire);
      }
    }
  }
  EXPECT_GT(compiled, filters * 8 / 10) << compiled << " of " << filters;
  fmt::print("{} corpus filter x capture pairs, {} compiled branch-free, {} packet runs\n", filters,
             compiled, runs);
}

}  // namespace
}  // namespace bpfvm::classic::test

namespace bpfvm::classic::test {
namespace {

// Filter::run(span, span) gives run()'s verdict on every packet, on every engine: long and
// short packets, with and without ancillary values, in one batch (large enough for Engine::jit
// to sample it and choose its code; and 1,100 single runs, past the per-call sample).
TEST(BranchFree, BatchesGiveTheVerdictsOfSingleRuns) {
  Random random(base_seed() ^ 0xba7c4);
  Ancillary ancillary;
  ancillary.protocol = 0x0800;
  std::vector<RandomPacket> packets;
  for (int p = 0; p < 1100; ++p) {
    packets.push_back(random_packet(random));
    // Mostly untagged IPv4 frames, as a `vlan` filter's dispatch pays on.
    if (packets.back().bytes.size() > 14 && !random.chance(10)) {
      packets.back().bytes[12] = 0x08;
      packets.back().bytes[13] = 0x00;
    }
  }
  for (const char* expression :
       {"tcp and port 80", "ip and len > 70", "udp or icmp", "ip[0] & 0xf != 5",
        "vlan 101 and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or icmp[icmptype] == icmp-echo"}) {
    auto insns = compile(expression);
    ASSERT_TRUE(insns) << insns.error().to_string();
    auto program = Program::load(*insns);
    std::vector<Engine> engines = {Engine::interpreter, Engine::ebpf_interpreter};
    if (jit_supported()) engines.push_back(Engine::jit);
    for (Engine engine : engines) {
      auto filter = Filter::create(*program, engine);
      ASSERT_TRUE(filter) << filter.error().to_string();
      std::vector<Packet> batch;
      for (std::size_t p = 0; p < packets.size(); ++p)
        batch.push_back(
            Packet{packets[p].bytes, packets[p].wire_length, p % 3 == 0 ? &ancillary : nullptr});
      std::vector<std::uint32_t> verdicts(batch.size(), 0xdeadbeef);
      filter->run(batch, verdicts);
      for (std::size_t p = 0; p < batch.size(); ++p)
        EXPECT_EQ(verdicts[p], filter->run(batch[p])) << expression << " packet " << p;
    }
  }
}

// The loop generated with the filter (Filter::run(span, span)): batches of 0, 1 and odd sizes,
// around the prefetch distance and larger; packets shorter than the furthest load, and with
// ancillary values, which it leaves to run(); each form's loop directly (it must stop exactly at
// such packets) and through Filter, against single runs and libpcap.
TEST(BranchFree, BatchLoops) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  Random random(base_seed() ^ 0x100b5);
  Ancillary ancillary;
  ancillary.protocol = 0x0800;
  ancillary.vlan_tci = 101;
  ancillary.vlan_present = 1;
  std::vector<RandomPacket> packets;
  for (int p = 0; p < 1200; ++p) {
    RandomPacket packet = random_packet(random);
    // Mostly Ethernet frames that the filters below look into: IPv4 TCP/UDP/ICMP, some IPv6
    // and VLAN tags, port 80 now and then.
    if (packet.bytes.size() >= 60 && !random.chance(10)) {
      const std::uint16_t types[] = {0x0800, 0x0800, 0x0800, 0x86dd, 0x8100};
      const std::uint16_t type = types[random.below(5)];
      packet.bytes[12] = static_cast<std::uint8_t>(type >> 8);
      packet.bytes[13] = static_cast<std::uint8_t>(type);
      packet.bytes[14] = static_cast<std::uint8_t>(0x45 + random.below(3));
      const std::uint8_t protocols[] = {6, 17, 1};
      packet.bytes[23] = protocols[random.below(3)];
      packet.bytes[20] = packet.bytes[21] = 0;
      if (random.chance(50)) packet.bytes[36 + random.below(2) * 2] = 0, packet.bytes[37] = 80;
    }
    packets.push_back(std::move(packet));
  }
  const char* sources[] = {
      "tcp and port 80",
      "tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
      "(udp port 53 or tcp port 443 or ip6) and not net 10.0.0.0/8",
      "vlan 101 and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or icmp[icmptype] == icmp-echo",
      "ip and len > 70",
      "ip[0] & 0xf != 5",
  };
  std::vector<std::vector<Insn>> programs;
  for (const char* source : sources) {
    auto insns = compile(source);
    ASSERT_TRUE(insns) << insns.error().to_string();
    programs.push_back(*insns);
  }
  // By hand: the wire length, scratch words, an indirect load far out, division by X, an
  // ancillary load, and a program without packet loads (no minimum length).
  for (const char* source :
       {"ld #pktlen\nst M[1]\nldb [3]\njgt #100 jt 4 jf 6\nld M[1]\nret a\nldx #3\ntxa\nret a",
        "ldb [0]\ntax\nld [x + 60]\nret a", "ldb [1]\ntax\nld #1000\ndiv x\nret a",
        "ldb [0]\njeq #1 jt 2 jf 4\nld [proto]\nret a\nret #9",
        "ldb [12]\njeq #8 jt 2 jf 3\nret #5\nret #7", "ret #3"}) {
    auto insns = parse_program(source);
    ASSERT_TRUE(insns) << insns.error().to_string();
    programs.push_back(*insns);
  }
  for (const std::vector<Insn>& insns : programs) {
    SCOPED_TRACE(listing(insns, Listing::text));
    auto program = Program::load(insns);
    ASSERT_TRUE(program) << program.error().to_string();
    auto code = BranchFreeFilter::compile(*program);
    ASSERT_TRUE(code) << code.error().to_string();
    ASSERT_NE(code->loop(false), nullptr);
    ASSERT_NE(code->loop(Form::branchy), nullptr);
    ASSERT_EQ(code->loop(true) != nullptr, code->has_dispatch());
    auto filter = Filter::create(*program, Engine::jit);
    ASSERT_TRUE(filter) << filter.error().to_string();
    for (std::size_t size : {0, 1, 2, 3, 5, 15, 16, 17, 18, 33, 101, 1001}) {
      std::vector<Packet> batch;
      std::vector<std::uint32_t> expected;
      const std::size_t start = random.below(static_cast<std::uint32_t>(packets.size() - size));
      for (std::size_t p = start; p < start + size; ++p) {
        const bool with_ancillary = random.chance(10);
        batch.push_back(Packet{packets[p].bytes, packets[p].wire_length,
                               with_ancillary ? &ancillary : nullptr});
        expected.push_back(with_ancillary
                               ? run(*program, batch.back())
                               : libpcap_verdict(insns, packets[p].bytes, packets[p].wire_length));
      }
      // Through Filter, into a longer array whose tail must stay as it was.
      std::vector<std::uint32_t> verdicts(size + 3, 0xdeadbeef);
      filter->run(batch, verdicts);
      for (std::size_t p = 0; p < size; ++p) {
        ASSERT_EQ(verdicts[p], expected[p]) << "Filter, batch of " << size << ", packet " << p;
        ASSERT_EQ(filter->run(batch[p]), expected[p]) << "single run, packet " << p;
      }
      for (std::size_t p = size; p < verdicts.size(); ++p) ASSERT_EQ(verdicts[p], 0xdeadbeef);
      // Each form's loop directly.
      for (Form form : {Form::straight, Form::dispatched, Form::branchy}) {
        BranchFreeFilter::Loop loop = code->loop(form);
        if (loop == nullptr) continue;
        std::vector<std::uint32_t> got =
            run_loop(*code, loop, batch, [&](const Packet& packet) { return filter->run(packet); });
        for (std::size_t p = 0; p < size; ++p)
          ASSERT_EQ(got[p], expected[p])
              << "loop (form " << static_cast<int>(form) << "), batch of " << size << ", packet "
              << p << " of " << batch[p].data.size() << " bytes";
      }
    }
  }
}

}  // namespace
}  // namespace bpfvm::classic::test

namespace bpfvm::classic::test {
namespace {

// The form choice counts the cache lines of packet data each form reads (on batches larger than
// the caches they, not the code, set the time): `tcp and port 80` on IPv4 TCP frames starting
// 10 bytes into a cache line: the straight-line code reads bytes 12 to 57 (the IPv6 ports too),
// two lines, the path bytes 12 to 37, one. Out of the caches a form reading only the path's
// lines (dispatched or branchy; on traffic of one kind the branchy one) wins; in them the
// choice is as before (the straight-line code, within its margin of the others).
TEST(BranchFree, FormChoiceCountsCacheLines) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  auto insns = compile("tcp and port 80");
  ASSERT_TRUE(insns) << insns.error().to_string();
  auto program = Program::load(*insns);
  auto code = BranchFreeFilter::compile(*program);
  ASSERT_TRUE(code) << code.error().to_string();
  ASSERT_TRUE(code->has_dispatch());
  alignas(64) std::array<std::uint8_t, 256> buffer{};
  auto frame_at = [&](std::size_t offset) {
    std::uint8_t* f = buffer.data() + offset;
    std::fill(f, f + 60, 0);
    f[12] = 0x08, f[13] = 0x00;  // IPv4
    f[14] = 0x45;                // header length 20
    f[23] = 6;                   // TCP
    f[34] = 0, f[35] = 80;       // source port 80
    return Packet{{f, 60}, 60, nullptr};
  };
  BranchFreeFilter::FormProfile aligned, straddling;
  for (int i = 0; i < 8; ++i) {
    code->profile(frame_at(0), aligned);
    code->profile(frame_at(10), straddling);
  }
  EXPECT_EQ(aligned.straight_lines, 8);  // bytes 0-63: one line for either
  EXPECT_EQ(aligned.path_lines, 8);
  EXPECT_EQ(straddling.straight_lines, 16);
  EXPECT_EQ(straddling.path_lines, 8);
  // Traffic of two kinds, three IPv4 frames straddling two lines to one IPv6 frame within one
  // (IPv6 reads bytes 12 to 57 on either form): the ways of the first test mispredict for the
  // branchy and dispatched forms, which keeps the straight-line code in the caches; out of
  // them its 3/4 line more per packet outweighs that. (On one kind of traffic the branchy code,
  // never mispredicted, is chosen either way.)
  BranchFreeFilter::FormProfile mixed;
  for (int i = 0; i < 64; ++i) {
    if (i % 4 != 3) {
      code->profile(frame_at(10), mixed);
      continue;
    }
    std::uint8_t* f = buffer.data();
    std::fill(f, f + 74, 0);
    f[12] = 0x86, f[13] = 0xdd;  // IPv6
    f[20] = 6;                   // TCP
    f[54] = 0, f[55] = 80;       // source port 80
    code->profile(Packet{{f, 74}, 74, nullptr}, mixed);
  }
  EXPECT_EQ(mixed.straight_lines, 48 * 2 + 16);
  EXPECT_EQ(mixed.path_lines, 64);
  EXPECT_EQ(code->choose(mixed, false), Form::straight);
  EXPECT_NE(code->choose(mixed, true), Form::straight);
  // Fading halves the line counts with the rest.
  straddling.fade();
  EXPECT_EQ(straddling.straight_lines, 8);
  EXPECT_EQ(straddling.path_lines, 4);

  // A load past the first 64 lines of a packet is not counted (and not shifted out of range).
  auto far = compile("ether[4500] = 1");
  ASSERT_TRUE(far) << far.error().to_string();
  auto far_program = Program::load(*far);
  auto far_code = BranchFreeFilter::compile(*far_program);
  ASSERT_TRUE(far_code) << far_code.error().to_string();
  std::vector<std::uint8_t> big(5000, 1);
  BranchFreeFilter::FormProfile far_profile;
  far_code->profile(Packet{big, 5000, nullptr}, far_profile);
  EXPECT_EQ(far_profile.packets, 1u);
  EXPECT_EQ(far_profile.path_lines, 0);
  EXPECT_EQ(far_profile.straight_lines, 0);
}

}  // namespace
}  // namespace bpfvm::classic::test

namespace bpfvm::classic::test {
namespace {

// A batch whose packet data is larger than the caches (estimated from its samples: 1,000
// packets of 150 KB, all within one 1 MB buffer, so the test stays small) is filtered with the
// form chosen with its cache lines counted: the verdicts are still those of single runs.
TEST(BranchFree, BatchesPastTheCachesGiveTheVerdictsOfSingleRuns) {
  if (!jit_supported()) GTEST_SKIP() << "the branch-free code is x86-64";
  Random random(base_seed() ^ 0xb16b);
  std::vector<std::uint8_t> buffer(1 << 20);
  for (auto& byte : buffer) byte = static_cast<std::uint8_t>(random.below(256));
  std::vector<Packet> batch;
  for (int p = 0; p < 1000; ++p) {
    const std::size_t at = random.below(static_cast<std::uint32_t>(buffer.size() - 150'000));
    std::uint8_t* f = buffer.data() + at;
    if (random.chance(50)) {  // an IPv4 TCP header, port 80 or not
      f[12] = 0x08, f[13] = 0x00, f[14] = 0x45, f[20] = 0, f[21] = 0, f[23] = 6;
      f[34] = 0, f[35] = random.chance(50) ? 80 : 81;
    } else if (random.chance(50)) {  // IPv6 TCP
      f[12] = 0x86, f[13] = 0xdd, f[20] = 6, f[54] = 0, f[55] = random.chance(50) ? 80 : 81;
    }
    batch.push_back(Packet{{f, 150'000}, 150'000, nullptr});
  }
  for (const char* expression :
       {"tcp and port 80", "(udp port 53 or tcp port 443 or ip6) and not net 10.0.0.0/8"}) {
    auto insns = compile(expression);
    ASSERT_TRUE(insns) << insns.error().to_string();
    auto program = Program::load(*insns);
    auto filter = Filter::create(*program, Engine::jit);
    ASSERT_TRUE(filter) << filter.error().to_string();
    // Headers planted later overwrite earlier packets' bytes: the verdicts are taken after.
    std::vector<std::uint32_t> verdicts(batch.size(), 0xdeadbeef);
    for (int round = 0; round < 3; ++round) {
      filter->run(batch, verdicts);
      for (std::size_t p = 0; p < batch.size(); ++p)
        ASSERT_EQ(verdicts[p], filter->run(batch[p])) << expression << " packet " << p;
    }
  }
}

}  // namespace
}  // namespace bpfvm::classic::test
