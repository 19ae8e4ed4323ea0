// The AVX-512 code generator (src/classic/vector_filter.hpp) against libpcap's bpf_filter():
// random programs on batches of random packets, hand-written edge cases with exact verdicts
// (values merged at joins, indexed loads at the end of the capture and past it, division and
// modulo, shifts, 32-bit wrap of 64-bit lanes, `len`, returns, jumps, scratch memory), the batch
// loop's protocol (groups of eight, the group a short packet stops, no verdict written past
// it), the programs it must refuse, and every pcap-corpus filter on every corpus capture.
//
// Packet bytes and descriptors sit against inaccessible pages (GuardedBatch), so a gather that
// reads past a packet's captured bytes, or a descriptor past the batch's end, faults here
// instead of passing unnoticed.
#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>

#include "classic/branch_free.hpp"
#include "classic/pcap_corpus.hpp"
#include "classic/random_classic.hpp"
#include "classic/vector_filter.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <immintrin.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace bpfvm::classic::test {
namespace {

using detail::VectorFilter;

constexpr const char* no_avx512 =
    "this CPU (or its operating system) does not run AVX-512 F/BW/DQ/VL code";

std::uint64_t base_seed() {
  const char* text = std::getenv("BPFVM_CLASSIC_SEED");
  return (text ? std::strtoull(text, nullptr, 0) : 0x5eed'c1a5'51c0'0001ull) ^ 0x7ec7'0f11;
}

// libpcap's bpf_filter() on one program: the oracle.
class Libpcap {
 public:
  explicit Libpcap(std::span<const Insn> insns) {
    for (const Insn& insn : insns) code_.push_back(bpf_insn{insn.code, insn.jt, insn.jf, insn.k});
  }
  std::uint32_t operator()(std::span<const std::uint8_t> bytes, std::uint32_t wire_length) const {
    return bpf_filter(code_.data(), bytes.data(), wire_length, static_cast<u_int>(bytes.size()));
  }

 private:
  std::vector<bpf_insn> code_;
};

std::string hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  for (auto byte : bytes) out += fmt::format("{:02x}", byte);
  return out;
}

std::string describe(std::span<const Insn> insns, std::span<const std::uint8_t> bytes,
                     std::uint32_t wire_length) {
  return fmt::format("{}packet ({} bytes, wire length {}): {}", listing(insns, Listing::text),
                     bytes.size(), wire_length, hex(bytes));
}

// A packet before it is placed in a batch.
struct Input {
  std::vector<std::uint8_t> bytes;
  std::uint32_t wire_length = 0;
  const Ancillary* ancillary = nullptr;
};

// Packet bytes and Packet descriptors in pages with inaccessible pages around them: each
// packet's bytes end where a guard page starts (or, when asked, begin where one ends), and the
// descriptors end at one, so that reading a byte past a packet's capture, or a descriptor at or
// after the batch's end, faults.
class GuardedBatch {
 public:
  GuardedBatch(std::size_t max_packets, std::size_t max_bytes)
      : page_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))),
        slots_(max_packets),
        slot_pages_((max_bytes + page_ - 1) / page_),
        descriptor_pages_((max_packets * sizeof(Packet) + page_ - 1) / page_) {
    // [guard] then per slot [data pages][guard], then [descriptor pages][guard].
    size_ = page_ * (1 + slots_ * (slot_pages_ + 1) + descriptor_pages_ + 1);
    void* base = mmap(nullptr, size_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return;
    base_ = static_cast<std::uint8_t*>(base);
    for (std::size_t s = 0; s < slots_; ++s)
      if (mprotect(slot(s), slot_pages_ * page_, PROT_READ | PROT_WRITE) != 0) return;
    if (mprotect(descriptors_end() - descriptor_pages_ * page_, descriptor_pages_ * page_,
                 PROT_READ | PROT_WRITE) != 0)
      return;
    ok_ = true;
  }
  ~GuardedBatch() {
    if (base_) munmap(base_, size_);
  }
  GuardedBatch(const GuardedBatch&) = delete;
  GuardedBatch& operator=(const GuardedBatch&) = delete;

  bool ok() const { return ok_; }
  std::size_t max_bytes() const { return slot_pages_ * page_; }
  std::size_t max_packets() const { return slots_; }

  // Copies `inputs` in (at most max_packets() of at most max_bytes() bytes). at_start(i) puts
  // packet i's bytes right after a guard page instead of right before one.
  std::span<const Packet> place(const std::vector<Input>& inputs,
                                const std::function<bool(std::size_t)>& at_start = nullptr) {
    const std::size_t n = inputs.size();
    Packet* packets = reinterpret_cast<Packet*>(descriptors_end()) - n;
    for (std::size_t i = 0; i < n; ++i) {
      const std::vector<std::uint8_t>& bytes = inputs[i].bytes;
      std::uint8_t* data = slot(i) + ((at_start && at_start(i)) ? 0 : max_bytes() - bytes.size());
      if (!bytes.empty()) std::memcpy(data, bytes.data(), bytes.size());
      new (&packets[i]) Packet{{data, bytes.size()}, inputs[i].wire_length, inputs[i].ancillary};
    }
    return {packets, n};
  }

 private:
  std::uint8_t* slot(std::size_t s) const { return base_ + page_ * (1 + s * (slot_pages_ + 1)); }
  std::uint8_t* descriptors_end() const {
    return base_ + page_ * (1 + slots_ * (slot_pages_ + 1) + descriptor_pages_);
  }

  std::size_t page_, slots_, slot_pages_, descriptor_pages_, size_ = 0;
  std::uint8_t* base_ = nullptr;
  bool ok_ = false;
};

// Calls a batch loop with every vector register (zmm0-31), every mask register (k1-7) and the
// caller-saved general registers it does not take arguments in holding garbage, as a caller's
// own code may leave them: code that reads a register before writing it gives wrong verdicts
// here instead of passing on whatever the test happened to leave (often zeros).
extern "C" const Packet* bpfvm_test_call_poisoned(const Packet* first, const Packet* end,
                                                  std::uint32_t* verdicts,
                                                  const Packet* prefetch_end,
                                                  VectorFilter::Loop loop);
asm(R"(
    .text
    .p2align 4
    .type bpfvm_test_call_poisoned, @function
bpfvm_test_call_poisoned:
    movl $0x9e3779b9, %eax
    vpbroadcastd %eax, %zmm0
    vmovdqa64 %zmm0, %zmm1
    vmovdqa64 %zmm0, %zmm2
    vmovdqa64 %zmm0, %zmm3
    vmovdqa64 %zmm0, %zmm4
    vmovdqa64 %zmm0, %zmm5
    vmovdqa64 %zmm0, %zmm6
    vmovdqa64 %zmm0, %zmm7
    vmovdqa64 %zmm0, %zmm8
    vmovdqa64 %zmm0, %zmm9
    vmovdqa64 %zmm0, %zmm10
    vmovdqa64 %zmm0, %zmm11
    vmovdqa64 %zmm0, %zmm12
    vmovdqa64 %zmm0, %zmm13
    vmovdqa64 %zmm0, %zmm14
    vmovdqa64 %zmm0, %zmm15
    vmovdqa64 %zmm0, %zmm16
    vmovdqa64 %zmm0, %zmm17
    vmovdqa64 %zmm0, %zmm18
    vmovdqa64 %zmm0, %zmm19
    vmovdqa64 %zmm0, %zmm20
    vmovdqa64 %zmm0, %zmm21
    vmovdqa64 %zmm0, %zmm22
    vmovdqa64 %zmm0, %zmm23
    vmovdqa64 %zmm0, %zmm24
    vmovdqa64 %zmm0, %zmm25
    vmovdqa64 %zmm0, %zmm26
    vmovdqa64 %zmm0, %zmm27
    vmovdqa64 %zmm0, %zmm28
    vmovdqa64 %zmm0, %zmm29
    vmovdqa64 %zmm0, %zmm30
    vmovdqa64 %zmm0, %zmm31
    movq $0x5a5a5a5a5a5a5a5a, %rax
    kmovq %rax, %k1
    kmovq %rax, %k2
    kmovq %rax, %k3
    kmovq %rax, %k4
    kmovq %rax, %k5
    kmovq %rax, %k6
    kmovq %rax, %k7
    movq %rax, %r9
    movq %rax, %r10
    movq %rax, %r11
    jmp *%r8
    .size bpfvm_test_call_poisoned, .-bpfvm_test_call_poisoned
)");

const Packet* call_loop(const VectorFilter& code, const Packet* first, const Packet* end,
                        std::uint32_t* verdicts, const Packet* prefetch_end) {
  return bpfvm_test_call_poisoned(first, end, verdicts, prefetch_end, code.loop());
}

constexpr std::uint32_t sentinel = 0xdeadbeef;
constexpr std::size_t sentinel_tail = 16;

// After the caller protocol: each packet's verdict, and whether the vector code gave it.
struct LoopResult {
  std::vector<std::uint32_t> verdicts;
  std::vector<bool> by_vector;
  std::vector<std::size_t> group_start;  // per packet the vector code ran: its group's first
  std::size_t calls = 0;
  std::size_t vector_packets = 0;
  int protocol_errors = 0;
};

// How the caller resumes after the group that stopped the loop: past the whole group, or past
// the first short packet in it (so later groups start at other offsets of the batch).
enum class Resume { after_group, after_short_packet };

// Runs the vector code's batch loop over `packets` as its interface asks of a caller: call,
// filter up to eight packets from where it stopped with `fallback`, call again. Checks the
// protocol on the way: the loop stops at the start of a group, only at a group that is not
// whole or that holds a packet shorter than min_caplen(), and writes no verdict at or past
// where it stopped (the verdict array holds sentinels there and beyond the batch's end).
LoopResult run_loop(const VectorFilter& code, std::span<const Packet> packets,
                    const std::function<std::uint32_t(const Packet&)>& fallback,
                    Resume resume = Resume::after_group) {
  LoopResult result;
  const std::size_t n = packets.size();
  std::vector<std::uint32_t> slots(n + sentinel_tail, sentinel);
  result.by_vector.assign(n, false);
  result.group_start.assign(n, 0);
  const Packet* first = packets.data();
  const Packet* end = first + n;
  auto is_short = [&](std::size_t p) { return packets[p].data.size() < code.min_caplen(); };
  auto protocol_error = [&](const std::string& what) {
    ++result.protocol_errors;
    ADD_FAILURE() << what;
  };
  std::size_t i = 0;
  while (i < n || result.calls == 0) {
    const Packet* stop = call_loop(code, first + i, end, slots.data() + i, end);
    ++result.calls;
    if (stop < first + i || stop > end || (stop - (first + i)) % VectorFilter::lanes != 0) {
      protocol_error(
          fmt::format("the loop called at packet {} of {} returned packet {}", i, n, stop - first));
      break;
    }
    const std::size_t s = static_cast<std::size_t>(stop - first);
    for (std::size_t j = s; j < slots.size(); ++j) {
      if (slots[j] == sentinel) continue;
      protocol_error(fmt::format("the loop stopped at packet {} of {} but wrote slot {} ({:#x})", s,
                                 n, j, slots[j]));
      break;
    }
    for (std::size_t p = i; p < s; ++p) {
      result.by_vector[p] = true;
      result.group_start[p] = p - (p - i) % VectorFilter::lanes;
    }
    result.vector_packets += s - i;
    if (s == n) break;
    const std::size_t group_end = std::min(s + VectorFilter::lanes, n);
    const bool whole = s + VectorFilter::lanes <= n;
    std::size_t first_short = group_end;
    for (std::size_t p = s; p < group_end && first_short == group_end; ++p)
      if (is_short(p)) first_short = p;
    if (whole && first_short == group_end)
      protocol_error(fmt::format(
          "the loop stopped at packet {} of {}, a whole group of packets of at least {} bytes", s,
          n, code.min_caplen()));
    const std::size_t resume_at =
        resume == Resume::after_short_packet && whole && first_short < group_end ? first_short + 1
                                                                                 : group_end;
    for (std::size_t p = s; p < resume_at; ++p) slots[p] = fallback(packets[p]);
    i = resume_at;
  }
  result.verdicts.assign(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(n));
  return result;
}

bool is_far_absolute_load(const Insn& insn) {
  std::uint16_t mode = insn.code & 0xe0, cls = insn.code & 0x07;
  bool absolute = (cls == 0x00 && mode == 0x20) || (cls == 0x01 && mode == 0xa0);  // abs, msh
  return absolute && insn.k > 200;
}

// Appends random bytes to `bytes` up to `size`, eight bytes a draw.
void grow(Random& random, std::vector<std::uint8_t>& bytes, std::size_t size) {
  std::size_t at = bytes.size();
  bytes.resize(std::max(size, at));
  for (; at < size; at += 8) {
    const std::uint64_t bits = random.next();
    std::memcpy(bytes.data() + at, &bits, std::min<std::size_t>(8, size - at));
  }
}

// Under the sanitizers (a Debug build) compiling a program costs about 0.4 ms, most of this
// test's time: fewer programs there, so that it stays within about 5 s.
#if defined(__SANITIZE_ADDRESS__)
#define BPFVM_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BPFVM_TEST_SANITIZED 1
#endif
#endif
#ifdef BPFVM_TEST_SANITIZED
constexpr int programs_per_run = 5000;
#else
constexpr int programs_per_run = 12000;
#endif
constexpr std::size_t min_batch = 8 * 6 + 3;
constexpr std::size_t max_batch = 64;

TEST(VectorFilter, RandomProgramsMatchLibpcap) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  Random random(base_seed());
  GuardedBatch guarded(max_batch, 4096 + 128);
  ASSERT_TRUE(guarded.ok()) << "mmap/mprotect failed";
  Ancillary ancillary;
  ancillary.protocol = 0x0800;
  int compiled = 0, mismatches = 0;
  std::size_t packets_run = 0, by_vector = 0, accepted = 0, stopped_groups = 0;
  std::map<std::string, int> refusals;
  // random_packet() draws a number per byte, which under the sanitizers is most of this test's
  // time: the packets come from a pool of its packets, a few bytes changed each time.
  // A third of them of bytes from a few values (0, 1, 0xff, 0x80, ...), so that comparisons with
  // the generator's edgy constants (and a word's, four bytes at once) go either way often.
  std::vector<RandomPacket> pool;
  for (int p = 0; p < 4096; ++p) {
    pool.push_back(random_packet(random));
    if (p % 3 != 0) continue;
    static constexpr std::uint8_t few[] = {0, 0, 0, 1, 2, 0xff, 0xff, 0x80, 0x7f, 0x20, 0x08};
    for (auto& byte : pool.back().bytes)
      if (!random.chance(10)) byte = few[random.below(std::size(few))];
  }
  int tried = 0;
  for (int n = 0; n < programs_per_run && mismatches < 5; ++n) {
    ++tried;
    std::vector<Insn> insns = random_program(random);
    if (n % 3 == 0) funnel_returns(random, insns);
    if (n % 2 == 1) prepend_dispatch(random, insns);
    // Far absolute loads would make min_caplen too large for the code to run at all, and
    // ancillary loads are refused: bring most of both near.
    for (Insn& insn : insns)
      if (is_far_absolute_load(insn) && random.chance(90)) insn.k = random.below(100);
    // The dispatch may skip the stores random_program puts before every scratch read, which
    // libpcap 1.10.3 would then read uninitialised: redo that rewrite.
    read_only_written_scratch(insns);
    auto program = Program::load(insns);
    ASSERT_TRUE(program) << program.error().to_string();
    auto code = VectorFilter::compile(*program);
    if (!code) {
      EXPECT_EQ(code.error().kind, Error::Kind::usage) << code.error().to_string();
      std::string reason = code.error().to_string();
      std::erase_if(reason, [](char c) { return c >= '0' && c <= '9'; });
      ++refusals[reason];
      continue;
    }
    ++compiled;
    const std::uint64_t min_caplen = code->min_caplen();
    // Mostly packets the code runs (grown to min_caplen, exactly or a little more, when they
    // are shorter), a few shorter ones anywhere, which stop the loop at their group.
    const std::size_t size = min_batch + random.below(max_batch - min_batch + 1);
    std::vector<bool> make_short(size, false);
    for (std::uint32_t s = random.below(4); s > 0; --s) make_short[random.below(size)] = true;
    std::vector<Input> inputs;
    for (std::size_t p = 0; p < size; ++p) {
      RandomPacket packet = pool[random.below(static_cast<std::uint32_t>(pool.size()))];
      for (int b = 0; b < 4 && !packet.bytes.empty(); ++b)
        packet.bytes[random.below(static_cast<std::uint32_t>(packet.bytes.size()))] =
            static_cast<std::uint8_t>(random.next());
      if (make_short[p] && min_caplen > 0) {
        packet.bytes.resize(std::min<std::size_t>(
            packet.bytes.size(),
            random.below(static_cast<std::uint32_t>(std::min<std::uint64_t>(min_caplen, 4096)))));
      } else if (min_caplen <= 4096 && packet.bytes.size() < min_caplen) {
        grow(random, packet.bytes, min_caplen + (random.chance(30) ? 0 : random.below(24)));
      }
      if (packet.bytes.size() > guarded.max_bytes()) packet.bytes.resize(guarded.max_bytes());
      inputs.push_back(Input{std::move(packet.bytes), packet.wire_length,
                             random.chance(10) ? &ancillary : nullptr});
    }
    const Libpcap libpcap(insns);
    std::vector<std::uint32_t> expected;
    for (const Input& input : inputs) expected.push_back(libpcap(input.bytes, input.wire_length));
    std::span<const Packet> batch =
        guarded.place(inputs, [&](std::size_t p) { return p % 5 == 4; });
    LoopResult got = run_loop(
        *code, batch,
        [&](const Packet& packet) {
          return expected[static_cast<std::size_t>(&packet - batch.data())];
        },
        n % 4 < 2 ? Resume::after_group : Resume::after_short_packet);
    if (got.protocol_errors > 0) {
      ++mismatches;
      ADD_FAILURE() << "loop protocol broken on\n" << listing(insns, Listing::text);
      continue;
    }
    packets_run += size;
    by_vector += got.vector_packets;
    stopped_groups += got.calls - 1;
    for (std::size_t p = 0; p < size; ++p) {
      accepted += expected[p] != 0;
      if (got.verdicts[p] == expected[p]) continue;
      ++mismatches;
      const std::size_t start = got.group_start[p];
      std::string group;
      for (std::size_t q = start; q < start + VectorFilter::lanes; ++q)
        group += fmt::format("  lane {}: wire {} {}\n", q - start, inputs[q].wire_length,
                             hex(inputs[q].bytes));
      ADD_FAILURE() << fmt::format(
          "vector code {:#x}, libpcap {:#x} on packet {} (lane {}) of {}\n{}\nits group:\n{}",
          got.verdicts[p], expected[p], p, p - start, size,
          describe(insns, inputs[p].bytes, inputs[p].wire_length), group);
      break;
    }
  }
  EXPECT_EQ(mismatches, 0);
  fmt::print(
      "{} random programs, {} compiled to vector code; {} packets, {} of them run by it ({} "
      "accepted), {} loop stops at short packets or the tail\n",
      tried, compiled, packets_run, by_vector, accepted, stopped_groups);
  for (const auto& [reason, count] : refusals)
    fmt::print("  refused {} times: {}\n", count, reason);
  // A healthy share must compile and run, or this proves little.
  // (77% compiled and 79% of the packets ran on the vector code at 62e20a8.)
  EXPECT_GE(compiled, tried * 7 / 10);
  EXPECT_GT(by_vector, packets_run * 7 / 10);
  EXPECT_GT(accepted, packets_run / 10);
  EXPECT_LT(accepted, packets_run * 9 / 10);
}

// ---- Hand-written edge cases -----------------------------------------------------------------

std::vector<std::uint8_t> counting(std::size_t n, std::uint8_t first = 0) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

std::vector<std::uint8_t> put8(std::vector<std::uint8_t> bytes, std::size_t at, std::uint8_t v) {
  bytes.at(at) = v;
  return bytes;
}

std::vector<std::uint8_t> put32(std::vector<std::uint8_t> bytes, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i)
    bytes.at(at + i) = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  return bytes;
}

// A 16-byte packet with byte 8 set to `b`.
std::vector<std::uint8_t> b8(std::uint8_t b) { return put8(counting(16), 8, b); }
// A 16-byte packet with the word at 8 set to `w`.
std::vector<std::uint8_t> w8(std::uint32_t w) { return put32(counting(16), 8, w); }
// A 16-byte packet with the words at 8 and 12 set: what `ld [8]; tax; ld [12]` makes X and A.
std::vector<std::uint8_t> xa(std::uint32_t x, std::uint32_t a) {
  return put32(put32(counting(16), 8, x), 12, a);
}

struct Expect {
  Expect(std::vector<std::uint8_t> bytes_, std::uint32_t verdict_,
         std::optional<std::uint32_t> wire_length_ = std::nullopt)
      : bytes(std::move(bytes_)), verdict(verdict_), wire_length(wire_length_) {}
  std::vector<std::uint8_t> bytes;
  std::uint32_t verdict = 0;
  std::optional<std::uint32_t> wire_length;  // the captured length when not set
};

// Compiles `source` (the -d syntax, jump targets absolute) and runs it on a batch holding every
// one of `expects` once in each of the eight lanes (group g, lane l holds expects[(g + l) % m]),
// all at least min_caplen() bytes long and the batch a whole number of groups, so the loop must
// filter all of it in one call; each verdict must be the one written by hand, which libpcap
// must give too.
void check_verdicts(const std::vector<Insn>& program_insns, const std::vector<Expect>& expects) {
  SCOPED_TRACE(listing(program_insns, Listing::text));
  const std::vector<Insn>* insns = &program_insns;
  auto program = Program::load(*insns);
  ASSERT_TRUE(program) << program.error().to_string();
  auto code = VectorFilter::compile(*program);
  ASSERT_TRUE(code) << code.error().to_string();
  const Libpcap libpcap(*insns);
  const std::size_t m = expects.size();
  for (std::size_t e = 0; e < m; ++e) {
    const Expect& expect = expects[e];
    const std::uint32_t wire =
        expect.wire_length.value_or(static_cast<std::uint32_t>(expect.bytes.size()));
    ASSERT_GE(expect.bytes.size(), code->min_caplen()) << "case " << e << " is too short";
    EXPECT_EQ(libpcap(expect.bytes, wire), expect.verdict)
        << "libpcap disagrees with the expectation of case " << e << ": "
        << describe(*insns, expect.bytes, wire);
  }
  std::vector<Input> inputs;
  std::vector<std::size_t> which;
  for (std::size_t g = 0; g < m; ++g) {
    for (std::size_t l = 0; l < VectorFilter::lanes; ++l) {
      const Expect& expect = expects[(g + l) % m];
      which.push_back((g + l) % m);
      inputs.push_back(Input{
          expect.bytes,
          expect.wire_length.value_or(static_cast<std::uint32_t>(expect.bytes.size())), nullptr});
    }
  }
  GuardedBatch guarded(inputs.size(), 4096);
  ASSERT_TRUE(guarded.ok()) << "mmap/mprotect failed";
  std::span<const Packet> batch = guarded.place(inputs, [](std::size_t p) { return p / 8 % 2; });
  LoopResult got = run_loop(
      *code, batch, [&](const Packet& packet) { return libpcap(packet.data, packet.wire_length); });
  EXPECT_EQ(got.vector_packets, inputs.size());
  EXPECT_EQ(got.calls, 1u);
  for (std::size_t p = 0; p < inputs.size(); ++p) {
    EXPECT_EQ(got.verdicts[p], expects[which[p]].verdict)
        << fmt::format("case {} in lane {}: {}", which[p], p % 8,
                       describe(*insns, inputs[p].bytes, inputs[p].wire_length));
  }
}

void check_verdicts(const std::string& source, const std::vector<Expect>& expects) {
  auto insns = parse_program(source);
  ASSERT_TRUE(insns) << source << ": " << insns.error().to_string();
  check_verdicts(*insns, expects);
}

// check_verdicts() with libpcap's verdicts as the expectation, on `source` with `ldb [15]` put
// in front (the programs below come from branch_free_test.cpp and load from the first bytes
// only: the vector code needs a minimum captured length of 8), on `packets` padded to 16 bytes.
void check_with_libpcap(const std::string& source,
                        const std::vector<std::vector<std::uint8_t>>& packets) {
  auto parsed = parse_program(source);
  ASSERT_TRUE(parsed) << source << ": " << parsed.error().to_string();
  std::vector<Insn> insns = *parsed;
  insns.insert(insns.begin(), Insn{0x30, 0, 0, 15});  // ldb [15]: jumps are relative
  const Libpcap libpcap(insns);
  std::vector<Expect> expects;
  for (std::vector<std::uint8_t> bytes : packets) {
    if (bytes.size() < 16) bytes.resize(16, 0x5a);
    const std::uint32_t verdict = libpcap(bytes, static_cast<std::uint32_t>(bytes.size()));
    expects.push_back(Expect{std::move(bytes), verdict});
  }
  check_verdicts(insns, expects);
}

// Indexed loads that a first one dominates with the same X reuse its gathered bytes (the two
// ports of `tcp port 80`): at the capture's end the later load may be out of bounds where the
// first is not, X may change between them (no reuse), and a later load may not be dominated
// (reached on another way too: no reuse either). Packets of 10 to 20 bytes, X (0, 4 or 8)
// from byte 8.
TEST(VectorFilter, IndexedLoadsShareAGather) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  auto bytes = [](std::size_t n, std::uint8_t x) {
    std::vector<std::uint8_t> b = counting(20, 0x40);
    b.resize(n);
    b[8] = x;
    return b;
  };
  std::vector<std::size_t> gathers;
  for (const char* source :
       {// ldh [x+2] then ldh [x+4] (dominated), as tcp's source and destination ports
        "ldxb 4*([8]&0xf)\nldh [x + 2]\njeq #0x4a4b jt 5 jf 3\nldh [x + 4]\n"
        "jeq #0x4c4d jt 5 jf 6\nret a\nret #0",
        // the same with X changed between: no reuse
        "ldxb 4*([8]&0xf)\nldh [x + 2]\njeq #0x4a4b jt 6 jf 3\nldx #1\nldh [x + 4]\n"
        "jeq #0x4546 jt 6 jf 7\nret a\nret #0",
        // a later load reached another way as well: no reuse
        "ldb [9]\njeq #0x49 jt 2 jf 4\nldxb 4*([8]&0xf)\nldb [x + 1]\nldxb 4*([8]&0xf)\n"
        "ldh [x + 3]\nret a",
        // a word and a byte within the first one's 8 bytes, reused; then one past them
        "ldxb 4*([8]&0xf)\nldb [x + 0]\njset #0x1 jt 3 jf 4\nld [x + 4]\nldb [x + 7]\n"
        "ret a",
        "ldxb 4*([8]&0xf)\nldb [x + 0]\nld [x + 6]\nret a"}) {
    SCOPED_TRACE(source);
    std::vector<Expect> expects;
    auto program = parse_program(source);
    ASSERT_TRUE(program) << program.error().to_string();
    const Libpcap libpcap(*program);
    for (std::size_t n = 10; n <= 20; ++n)
      for (const std::uint8_t x : {0x00, 0x01, 0x02}) {
        std::vector<std::uint8_t> packet = bytes(n, x);
        const std::uint32_t verdict = libpcap(packet, static_cast<std::uint32_t>(n));
        expects.push_back(Expect{std::move(packet), verdict});
      }
    check_verdicts(*program, expects);
    // One gather of the packets' first bytes (for ldxb, ldb [9]), and one per indexed load
    // that does not reuse another's.
    auto loaded = Program::load(*program);
    ASSERT_TRUE(loaded);
    auto code = VectorFilter::compile(*loaded);
    ASSERT_TRUE(code);
    gathers.push_back(code->gathers());
  }
  EXPECT_EQ(gathers, (std::vector<std::size_t>{2, 3, 3, 2, 3}));
}

TEST(VectorFilter, ValuesMergedAtJoins) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  // A reaches `ret a` from the jump as the packet byte, or from `ld #99`.
  check_verdicts("ldb [8]\njeq #1 jt 3 jf 2\nld #99\nret a",
                 {{b8(1), 1}, {b8(2), 99}, {b8(0), 99}, {b8(0xff), 99}});
  // X the same way.
  check_verdicts("ldb [8]\ntax\njeq #1 jt 4 jf 3\nldx #7\ntxa\nret a", {{b8(1), 1}, {b8(5), 7}});
  // A scratch word stored on both paths, differently.
  check_verdicts("ldb [8]\nst M[3]\njeq #2 jt 5 jf 3\nld #99\nst M[3]\nld M[3]\nadd #1\nret a",
                 {{b8(2), 3}, {b8(9), 100}});
  // ALU operations the jump skips.
  check_verdicts("ld [8]\njgt #0x10000000 jt 4 jf 2\nadd #5\nmul #3\nret a",
                 {{w8(0x20000000), 0x20000000}, {w8(0x10), 0x3f}, {w8(0x10000000), 0x3000000f}});
  // Three paths into two joins: A, X and M[2] each different on each, all read after.
  check_verdicts(
      "ldb [8]\nst M[2]\ntax\njeq #0 jt 9 jf 4\njeq #1 jt 8 jf 5\nld #0x500\nst M[2]\n"
      "ldx #0x30\nld #0x7000\nadd x\ntax\nld M[2]\nadd x\nadd #0x10000\nret a",
      {{b8(0), 0x10000}, {b8(1), 0x17002}, {b8(2), 0x17530}, {b8(0xff), 0x17530}});
  // An out-of-bounds indexed load, and a division by X = 0, on paths not taken: no rejection.
  check_verdicts("ldb [8]\njeq #8 jt 4 jf 2\nldx #200\nld [x + 0]\nret #7",
                 {{b8(8), 7}, {b8(9), 0}});
  check_verdicts("ldb [8]\ntax\njeq #0 jt 6 jf 3\nld #100\ndiv x\nret a\nret #7",
                 {{b8(0), 7}, {b8(3), 33}, {b8(200), 0}});
}

TEST(VectorFilter, IndexedLoadsAtTheEndOfTheCapture) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  // X is byte 8 of a 24-byte packet (byte i = i otherwise): the load ends at the capture's
  // end, one byte past it, further, or well inside (the 8 bytes at X + k, or at caplen - 8).
  auto at = [](std::uint8_t x) { return put8(counting(24), 8, x); };
  check_verdicts("ldb [8]\ntax\nld [x + 4]\nret a", {{at(16), 0x14151617},
                                                     {at(17), 0},
                                                     {at(15), 0x13141516},
                                                     {at(0), 0x04050607},
                                                     {at(8), 0x0c0d0e0f},
                                                     {at(20), 0},
                                                     {at(255), 0}});
  check_verdicts("ldb [8]\ntax\nldh [x + 6]\nret a",
                 {{at(16), 0x1617}, {at(17), 0}, {at(0), 0x0607}, {at(3), 0x090a}});
  check_verdicts("ldb [8]\ntax\nldb [x + 7]\nret a",
                 {{at(16), 0x17}, {at(17), 0}, {at(1), 1}, {at(10), 0x11}});
  // X fixed, the captured length varying (the wire length plays no part).
  check_verdicts("ldb [8]\nldx #16\nld [x + 4]\nret a", {{counting(9), 0},
                                                         {counting(19), 0},
                                                         {counting(23), 0},
                                                         {counting(24), 0x14151617},
                                                         {counting(25), 0x14151617},
                                                         {counting(64), 0x14151617},
                                                         {counting(24), 0x14151617, 10},
                                                         {counting(23), 0, 1000}});
  check_verdicts("ldb [8]\nldx #16\nldh [x + 6]\nret a",
                 {{counting(23), 0}, {counting(24), 0x1617}, {counting(40, 1), 0x1718}});
  // X + k past 2^32 does not wrap around to the start of the packet.
  check_verdicts("ld [8]\ntax\nldb [x + 2]\nret a", {{w8(0xfffffffe), 0},
                                                     {w8(0xffffffff), 0},
                                                     {w8(0xfffffff8), 0},
                                                     {w8(0x80000000), 0},
                                                     {w8(1), 3},
                                                     {w8(13), 15},
                                                     {w8(14), 0}});
  check_verdicts("ldb [8]\nldx #0xffffffff\nldb [x + 1]\nret #1", {{counting(16), 0}});
  check_verdicts("ldb [8]\nldx #1\nld [x + 0xffffffff]\nret #1", {{counting(16), 0}});
  check_verdicts("ldb [8]\nldx #4\nld [x + 0xfffffffc]\nret #1", {{counting(16), 0}});
  check_verdicts("ldb [8]\nld [x + 0x80000000]\nret #1", {{counting(16), 0}});
  // ldxb 4*([k]&0xf) at the end of the capture, and absolute loads of every width sharing one
  // 8-byte read, or at the far end of min_caplen.
  check_verdicts("ldxb 4*([23]&0xf)\ntxa\nadd #1\nret a",
                 {{counting(24), 29}, {put8(counting(24), 23, 0xf0), 1}});
  check_verdicts("ldb [2]\ntax\nld [20]\nadd x\nret a",
                 {{counting(24), 0x14151619}, {counting(30, 0x10), 0x24252639}});
  check_verdicts(
      "ld [8]\nst M[0]\nldh [9]\nst M[1]\nldb [15]\nldx M[1]\nadd x\nldx M[0]\nxor x\nret a",
      {{counting(16), 0x08090312}, {counting(16, 0x10), 0x18191a1b ^ (0x191a + 0x1f)}});
}

TEST(VectorFilter, DivisionAndModulo) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  check_verdicts("ld [8]\ntax\nld [12]\ndiv x\nret a", {{xa(1, 0xffffffff), 0xffffffff},
                                                        {xa(0xfffffffe, 0xffffffff), 1},
                                                        {xa(0xffffffff, 0xffffffff), 1},
                                                        {xa(0xffffffff, 0xfffffffe), 0},
                                                        {xa(3, 7), 2},
                                                        {xa(7, 0xffffffff), 0x24924924},
                                                        {xa(0x10000, 0xffffffff), 0xffff},
                                                        {xa(2, 0x80000001), 0x40000000},
                                                        {xa(0x80000000, 0xffffffff), 1},
                                                        {xa(0x1234, 0xdeadbeef), 0xc3ba5}});
  // By X = 0 the packet is rejected (the `or` makes every quotient non-zero).
  check_verdicts("ld [8]\ntax\nld [12]\ndiv x\nor #0x100000\nret a", {{xa(0, 5), 0},
                                                                      {xa(0, 0), 0},
                                                                      {xa(0, 0xffffffff), 0},
                                                                      {xa(1, 5), 0x100005},
                                                                      {xa(5, 4), 0x100000}});
  check_verdicts("ld [8]\ntax\nld [12]\nmod x\nret a", {{xa(3, 7), 1},
                                                        {xa(0xfffffffe, 0xffffffff), 1},
                                                        {xa(0xffffffff, 0xfffffffe), 0xfffffffe},
                                                        {xa(0x10000, 0x12345678), 0x5678},
                                                        {xa(7, 0xffffffff), 3},
                                                        {xa(0x1234, 0xdeadbeef), 0x76b},
                                                        {xa(1, 0xffffffff), 0}});
  check_verdicts(
      "ld [8]\ntax\nld [12]\nmod x\nor #0x100000\nret a",
      {{xa(0, 5), 0}, {xa(1, 5), 0x100000}, {xa(0, 0xffffffff), 0}, {xa(2, 5), 0x100001}});
  // By constants.
  check_verdicts("ld [12]\ndiv #1\nret a", {{xa(0, 0xffffffff), 0xffffffff}, {xa(0, 7), 7}});
  check_verdicts("ld [12]\ndiv #0xfffffffe\nret a",
                 {{xa(0, 0xffffffff), 1}, {xa(0, 0xfffffffe), 1}, {xa(0, 0xfffffffd), 0}});
  check_verdicts("ld [12]\ndiv #7\nret a", {{xa(0, 0xffffffff), 0x24924924}, {xa(0, 49), 7}});
  check_verdicts("ld [12]\ndiv #0x80000000\nret a",
                 {{xa(0, 0xffffffff), 1}, {xa(0, 0x7fffffff), 0}});
  check_verdicts("ld [12]\nmod #3\nret a", {{xa(0, 7), 1}, {xa(0, 0xffffffff), 0}, {xa(0, 5), 2}});
  check_verdicts("ld [12]\nmod #0xffffffff\nret a",
                 {{xa(0, 0xfffffffe), 0xfffffffe}, {xa(0, 0xffffffff), 0}});
  check_verdicts("ld [12]\nmod #0x10000\nret a", {{xa(0, 0x12345678), 0x5678}});
}

// Division goes through doubles with the rounding embedded in the instructions and every
// exception suppressed: the caller's MXCSR (any rounding mode, every exception unmasked, which
// would trap on an inexact quotient) changes nothing.
TEST(VectorFilter, DivisionUnderAnyMxcsr) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> operands = {
      {3, 7},          {0xfffffffe, 0xffffffff}, {7, 0xffffffff},          {0x1234, 0xdeadbeef},
      {0, 5},          {1, 0xffffffff},          {0xffffffff, 0xfffffffe}, {10, 1},
      {0x10000, 1000}, {3, 0x80000000},          {0xfffffffd, 0xfffffffe}, {9, 0x7fffffff}};
  for (const char* source :
       {"ld [8]\ntax\nld [12]\ndiv x\nret a", "ld [8]\ntax\nld [12]\nmod x\nor #0x100\nret a",
        "ld [12]\ndiv #3\nret a", "ld [12]\nmod #0xfffffffe\nret a"}) {
    SCOPED_TRACE(source);
    auto insns = parse_program(source);
    ASSERT_TRUE(insns);
    auto program = Program::load(*insns);
    ASSERT_TRUE(program);
    auto code = VectorFilter::compile(*program);
    ASSERT_TRUE(code) << code.error().to_string();
    const Libpcap libpcap(*insns);
    std::vector<Input> inputs;
    std::vector<std::uint32_t> expected;
    for (int round = 0; round < 2; ++round) {
      for (const auto& [x, a] : operands) {
        inputs.push_back(Input{xa(x, a), 16, nullptr});
        expected.push_back(libpcap(inputs.back().bytes, 16));
      }
    }
    inputs.resize(24, inputs.front());
    expected.resize(24, expected.front());
    GuardedBatch guarded(inputs.size(), 4096);
    ASSERT_TRUE(guarded.ok());
    std::span<const Packet> batch = guarded.place(inputs);
    for (unsigned rounding = 0; rounding < 4; ++rounding) {
      std::vector<std::uint32_t> verdicts(inputs.size(), sentinel);
      const unsigned saved = _mm_getcsr();
      // Flags clear, exceptions unmasked (bits 7-12), rounding mode in bits 13-14.
      _mm_setcsr((saved & ~0x7fbfu) | (rounding << 13));
      const Packet* stop =
          call_loop(*code, batch.data(), batch.data() + batch.size(), verdicts.data(), nullptr);
      _mm_setcsr(saved);
      EXPECT_EQ(stop, batch.data() + batch.size()) << "rounding mode " << rounding;
      for (std::size_t p = 0; p < inputs.size(); ++p)
        EXPECT_EQ(verdicts[p], expected[p]) << "rounding mode " << rounding << ", packet " << p;
    }
  }
}

TEST(VectorFilter, Shifts) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  // By X: X >= 32 gives 0 (not a rejection: the `or` shows it), as the interpreter and libpcap.
  const std::uint32_t a = 0x80000001;
  check_verdicts("ld [8]\ntax\nld [12]\nlsh x\nor #0x10\nret a", {{xa(0, a), 0x80000011},
                                                                  {xa(1, a), 0x12},
                                                                  {xa(31, a), 0x80000010},
                                                                  {xa(32, a), 0x10},
                                                                  {xa(33, a), 0x10},
                                                                  {xa(63, a), 0x10},
                                                                  {xa(64, a), 0x10},
                                                                  {xa(0x80000000, a), 0x10},
                                                                  {xa(0xffffffff, a), 0x10}});
  check_verdicts("ld [8]\ntax\nld [12]\nrsh x\nor #0x10\nret a", {{xa(0, a), 0x80000011},
                                                                  {xa(1, a), 0x40000010},
                                                                  {xa(31, a), 0x11},
                                                                  {xa(32, a), 0x10},
                                                                  {xa(33, a), 0x10},
                                                                  {xa(64, a), 0x10},
                                                                  {xa(0xffffffff, a), 0x10}});
  // By constants (libpcap 1.10 on x86-64 shifts by k & 31).
  check_verdicts("ld [12]\nlsh #31\nret a", {{xa(0, a), 0x80000000}, {xa(0, 2), 0}});
  check_verdicts("ld [12]\nrsh #31\nret a", {{xa(0, a), 1}, {xa(0, 0x7fffffff), 0}});
  check_verdicts("ld [12]\nlsh #33\nret a", {{xa(0, a), 2}});
  check_verdicts("ld [12]\nrsh #33\nret a", {{xa(0, a), 0x40000000}});
}

// A, X and M[] are 64-bit lanes: every 32-bit operation must wrap as in 32 bits, which a
// later right shift, division or comparison would show.
TEST(VectorFilter, ThirtyTwoBitWrap) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  check_verdicts("ld [8]\nneg\nret a", {{w8(1), 0xffffffff},
                                        {w8(0x80000000), 0x80000000},
                                        {w8(5), 0xfffffffb},
                                        {w8(0xffffffff), 1},
                                        {w8(0), 0}});
  check_verdicts("ld [8]\nneg\nrsh #28\nret a",
                 {{w8(1), 0xf}, {w8(0x10000000), 0xf}, {w8(0x80000000), 8}});
  check_verdicts("ld [8]\nmul #0x10001\nret a",
                 {{w8(0x10001), 0x20001}, {w8(0xffffffff), 0xfffeffff}});
  check_verdicts("ld [8]\nmul #4\nrsh #4\nret a", {{w8(0x4000001f), 7}, {w8(0x10), 4}});
  check_verdicts("ld [8]\ntax\nld [12]\nmul x\nrsh #1\nret a",
                 {{xa(0x10000, 0x18000), 0x40000000}, {xa(3, 0x55555556), 1}, {xa(2, 3), 3}});
  check_verdicts("ld [8]\nmul #2\njeq #2 jt 3 jf 4\nret #1\nret #2",
                 {{w8(0x80000001), 1}, {w8(1), 1}, {w8(2), 2}});
  check_verdicts("ld [8]\nadd #3\nrsh #1\nret a", {{w8(0xffffffff), 1}, {w8(5), 4}});
  check_verdicts("ld [8]\nadd #2\njgt #5 jt 3 jf 4\nret #1\nret #2",
                 {{w8(0xffffffff), 2}, {w8(4), 1}});
  check_verdicts(
      "ld [8]\ntax\nld [12]\nadd x\nrsh #1\nret a",
      {{xa(0x80000000, 0x80000002), 1}, {xa(1, 2), 1}, {xa(0xffffffff, 0xffffffff), 0x7fffffff}});
  check_verdicts("ld [8]\nsub #1\nrsh #28\nret a", {{w8(0), 0xf}, {w8(0x10000001), 1}});
  check_verdicts("ld [8]\ntax\nld [12]\nsub x\nrsh #28\nret a",
                 {{xa(1, 0), 0xf}, {xa(0x80000000, 0), 8}, {xa(1, 0x20000001), 2}});
  check_verdicts("ld [8]\nlsh #1\nrsh #1\nret a",
                 {{w8(0x80000001), 1}, {w8(0xffffffff), 0x7fffffff}});
  check_verdicts("ld [8]\nadd #3\ndiv #2\nret a", {{w8(0xffffffff), 1}, {w8(9), 6}});
  check_verdicts("ld [8]\ntax\nld [12]\nadd x\nmod #0x10\nret a", {{xa(0xfffffff0, 0x15), 5}});
  check_verdicts("ld [8]\nxor #0xffffffff\nor #1\nand #0xf0f0f0f1\nret a",
                 {{w8(0x0f0f0f0f), 0xf0f0f0f1}, {w8(0xffffffff), 1}});
  check_verdicts("ld [8]\ntax\nld [12]\nand x\nret a", {{xa(0xff00ff00, 0x0ff00ff0), 0x0f000f00}});
  check_verdicts("ld [8]\ntax\nld [12]\nor x\nret a", {{xa(0xff00ff00, 0x0ff00ff0), 0xfff0fff0}});
  check_verdicts("ld [8]\ntax\nld [12]\nxor x\nret a", {{xa(0xff00ff00, 0x0ff00ff0), 0xf0f0f0f0}});
}

TEST(VectorFilter, WireLength) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  check_verdicts("ld [8]\nld #pktlen\nret a", {{counting(16), 1000, 1000},
                                               {counting(16), 3, 3},
                                               {counting(16), 0xffffffff, 0xffffffff},
                                               {counting(16), 0, 0},
                                               {counting(20), 20}});
  check_verdicts("ld [8]\nldx #pktlen\ntxa\nadd #1\nret a",
                 {{counting(16), 17}, {counting(16), 0, 0xffffffff}, {counting(16), 101, 100}});
  check_verdicts("ld [8]\nld #pktlen\njgt #100 jt 3 jf 4\nret #1\nret #2",
                 {{counting(16), 1, 101}, {counting(16), 2, 100}, {counting(200), 1}});
}

TEST(VectorFilter, ReturnsAndJumps) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  // Several returns of constants and A in one program.
  check_verdicts(
      "ldb [8]\njeq #0 jt 4 jf 2\njeq #1 jt 5 jf 3\njgt #0x80 jt 6 jf 7\nret #10\nret #11\n"
      "ret #0xffffffff\nret a",
      {{b8(0), 10}, {b8(1), 11}, {b8(0x81), 0xffffffff}, {b8(5), 5}, {b8(0x80), 0x80}});
  check_verdicts("ldb [8]\njeq #3 jt 2 jf 3\nret #0\nret #0x40000", {{b8(3), 0}, {b8(4), 0x40000}});
  // Comparisons with constants are unsigned, at their boundaries.
  check_verdicts("ld [8]\njgt #0x80000000 jt 2 jf 3\nret #1\nret #2", {{w8(0x80000000), 2},
                                                                       {w8(0x80000001), 1},
                                                                       {w8(0xffffffff), 1},
                                                                       {w8(0), 2},
                                                                       {w8(0x7fffffff), 2}});
  check_verdicts("ld [8]\njge #0x80000000 jt 2 jf 3\nret #1\nret #2",
                 {{w8(0x80000000), 1}, {w8(0x7fffffff), 2}, {w8(0xffffffff), 1}, {w8(0), 2}});
  check_verdicts("ld [8]\njset #0x80000001 jt 2 jf 3\nret #1\nret #2",
                 {{w8(0x80000000), 1}, {w8(1), 1}, {w8(0x7ffffffe), 2}, {w8(0), 2}});
  check_verdicts("ld [8]\njeq #0xffffffff jt 2 jf 3\nret #1\nret #2",
                 {{w8(0xffffffff), 1}, {w8(0xfffffffe), 2}, {w8(0x7fffffff), 2}});
  // And with X.
  check_verdicts("ld [8]\ntax\nld [12]\njgt x jt 4 jf 5\nret #1\nret #2",
                 {{xa(5, 5), 2},
                  {xa(5, 6), 1},
                  {xa(0xffffffff, 0), 2},
                  {xa(0, 0xffffffff), 1},
                  {xa(0x80000000, 0x7fffffff), 2},
                  {xa(0x7fffffff, 0x80000000), 1}});
  check_verdicts("ld [8]\ntax\nld [12]\njge x jt 4 jf 5\nret #1\nret #2",
                 {{xa(5, 5), 1},
                  {xa(6, 5), 2},
                  {xa(0x80000000, 0x7fffffff), 2},
                  {xa(0x7fffffff, 0x80000000), 1},
                  {xa(0, 0), 1}});
  check_verdicts("ld [8]\ntax\nld [12]\njset x jt 4 jf 5\nret #1\nret #2",
                 {{xa(0x80000000, 0xffffffff), 1}, {xa(0x0f, 0xf0), 2}, {xa(0, 0xffffffff), 2}});
  check_verdicts("ld [8]\ntax\nld [12]\njeq x jt 4 jf 5\nret #1\nret #2",
                 {{xa(0x12345678, 0x12345678), 1}, {xa(0x80000000, 0), 2}, {xa(1, 0x80000001), 2}});
  // Both ways to one target; ja.
  check_verdicts("ld [8]\njeq #5 jt 2 jf 2\nret #3", {{w8(5), 3}, {w8(6), 3}});
  check_verdicts("ldb [8]\nja 3\nret #1\nret a", {{b8(7), 7}, {b8(0x90), 0x90}});
}

TEST(VectorFilter, RegistersAndScratchMemory) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  check_verdicts("ld [8]\nst M[15]\ntax\nstx M[0]\nld #0\nldx #0\nld M[15]\nldx M[0]\nadd x\nret a",
                 {{w8(5), 10}, {w8(0x80000001), 2}});
  check_verdicts("ld [8]\ntax\nld #7\ntxa\nret a", {{w8(0x12345678), 0x12345678}});
  check_verdicts("ld [8]\ntax\nld #7\nadd x\ntax\nld #0\ntxa\nret a",
                 {{w8(0x12345678), 0x1234567f}, {w8(0xfffffffa), 1}});
  check_verdicts("ldxb 4*([8]&0xf)\ntxa\nadd #1\nret a",
                 {{b8(0x45), 21}, {b8(0xff), 61}, {b8(0x40), 1}});
  // All sixteen words: M[m] = w + m, then their sum, 16 w + 120.
  std::string source = "ld [8]\n";
  for (int m = 0; m < 16; ++m) source += fmt::format("st M[{}]\nadd #1\n", m);
  source += "ld #0\n";
  for (int m = 0; m < 16; ++m) source += fmt::format("ldx M[{}]\nadd x\n", m);
  source += "ret a";
  check_verdicts(source, {{w8(1), 136}, {w8(0x10000000), 120}, {w8(0xfffffff0), 0xffffff78}});
}

// ---- Shapes the code generator treats specially ---------------------------------------------

// The branch-free tests' cases for the analyses the vector code shares (an A kept in the
// packet's byte order while only compared or masked, comparisons of a field repeated on other
// paths, ldxb repeated with X unchanged, indexed loads near the end), with libpcap's verdicts.
TEST(VectorFilter, PacketOrderAndRepeatedComparisons) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  const std::vector<std::vector<std::uint8_t>> packets = {
      {0x81, 0x00, 0x01, 0x02, 0x03}, {0x88, 0xa8, 0x00, 0x65, 0x45},
      {0x45, 0x01, 0x81, 0x00, 0x00}, {0x00, 0x81, 0x1f, 0xff, 0x08},
      {0x08, 0x00, 0x00, 0x01, 0x09}, {0x08, 0x06, 0x00, 0x02, 0x09},
      {0x0a, 0x14, 0x01, 0x02, 0x03}};
  for (const char* source :
       {// libpcap's `vlan`: three TPIDs, then the VLAN ID masked
        "ldh [0]\njeq #0x8100 jt 4 jf 2\njeq #0x88a8 jt 4 jf 3\njeq #0x9100 jt 4 jf 8\n"
        "ldh [2]\nand #0xfff\njeq #0x65 jt 7 jf 8\nret #1\nret #2",
        // constants wider than the load: jeq never matches, jset and and see the low bytes
        "ldh [0]\njeq #0x18100 jt 3 jf 2\njeq #0x8100 jt 4 jf 5\nret #1\nret #2\nret #3",
        "ldh [0]\njset #0x10080 jt 3 jf 2\njset #0x1fff jt 4 jf 5\nret #1\nret #2\nret #3",
        "ldh [0]\nand #0x1ff00\njeq #0x8100 jt 3 jf 4\nret #1\nret #2",
        "ld [0]\njeq #0x81000102 jt 3 jf 2\njset #0x80 jt 3 jf 4\nret #1\nret #2",
        "ld [1]\nand #0xffff00\njeq #0x10200 jt 3 jf 4\nret #1\nret #2",
        "ldxb 4*([4]&0xf)\nldh [x + 0]\njeq #0x81 jt 5 jf 3\njeq #0x4501 jt 5 jf 4\nret #1\n"
        "ret #2",
        // A meets another value at a join; A read as a number after comparisons
        "ldh [0]\njeq #0x8100 jt 3 jf 2\nld #0x8101\njeq #0x8101 jt 5 jf 4\nret #1\nret #2",
        "ldh [0]\njeq #0x8100 jt 3 jf 2\nldh [2]\njset #0x100 jt 5 jf 4\nret #1\nret #2",
        "ldh [0]\njeq #0x8100 jt 2 jf 3\nret a\nret #2",
        "ldh [0]\njeq #0x8100 jt 2 jf 2\nadd #1\nret a",
        "ldh [0]\nand #0xff00\njgt #0x8000 jt 3 jf 4\nret #1\nret #2",
        "ldh [0]\njeq #0x8100 jt 2 jf 2\nst M[1]\nld M[1]\nret a",
        // the same field compared the same way on two paths, A changed in between on one
        "ldh [0]\njeq #0x800 jt 2 jf 4\nldb [3]\njeq #1 jt 7 jf 4\nldh [0]\njeq #0x800 jt 6 jf 8\n"
        "ret #5\nret #6\nret #7",
        "ldh [0]\njeq #0x800 jt 3 jf 2\nadd #1\nldh [0]\njeq #0x800 jt 5 jf 6\nret #1\nret #2",
        "ldh [0]\njeq #0x800 jt 2 jf 3\nld #0x800\njeq #0x800 jt 4 jf 5\nret #1\nret #2",
        // masked comparisons, as `net`
        "ld [0]\nand #0xff000000\njeq #0x0a000000 jt 3 jf 4\nret #1\nret #2",
        "ld [0]\nand #0xffff0000\njeq #0x0a140000 jt 3 jf 4\nret #1\nret #2",
        "ld [0]\nand #0xff000000\njeq #0x0a000000 jt 3 jf 4\nret a\nret #2",
        // folded tests
        "ldh [0]\njeq #0x800 jt 2 jf 5\nldb [3]\njeq #1 jt 4 jf 5\nret #1\nret #0",
        "ldh [0]\njset #0x6 jt 5 jf 2\nldb [3]\njgt #1 jt 5 jf 4\nret #1\nret #0",
        "ldb [4]\njeq #9 jt 2 jf 3\nja 5\nldh [0]\njeq #0x800 jt 5 jf 7\nldb [3]\njeq #1 jt 8 "
        "jf 7\nret #0\nret #1",
        // ldxb again with X unchanged, or written in between
        "ldxb 4*([0]&0xf)\nldxb 4*([0]&0xf)\ntxa\nret a",
        "ldxb 4*([0]&0xf)\nldx #7\nldxb 4*([0]&0xf)\ntxa\nret a",
        "ldxb 4*([0]&0xf)\nld #3\ntax\nldxb 4*([0]&0xf)\ntxa\nret a",
        "ldxb 4*([0]&0xf)\nldb [1]\njeq #0 jt 4 jf 3\nldx #9\ntxa\nldxb 4*([0]&0xf)\nadd x\nret "
        "a"}) {
    check_with_libpcap(source, packets);
  }
  // Indexed loads at every distance from the end of 72-byte packets.
  for (std::uint8_t first : {0x41, 0x42, 0x45, 0x4f}) {
    for (const char* source :
         {"ldb [5]\nldxb 4*([0]&0xf)\nldh [x + 14]\njeq #0x1617 jt 4 jf 5\nld [x + 20]\nret a",
          "ldb [5]\nldxb 4*([0]&0xf)\nldb [x + 1]\njeq #0 jt 4 jf 5\nldb [x + 40]\nret #7",
          "ldb [5]\nldxb 4*([0]&0xf)\nldb [x + 2]\ntax\nldb [x + 2]\nret a",
          "ldh [12]\njeq #0x0c0d jt 2 jf 9\nldxb 4*([0]&0xf)\nldh [x + 14]\njeq #0x1c1d jt 8 jf 6\n"
          "ret #0\nldh [x + 16]\njeq #0x1e1f jt 8 jf 9\nret #100\nret #0"}) {
      std::vector<std::vector<std::uint8_t>> lengths;
      for (std::size_t length = 16; length <= 72; length += 5)
        lengths.push_back(counting(length, first));
      check_with_libpcap(source, lengths);
    }
  }
}

// More jump targets pending at once than the registers that hold their lanes (eight), more
// 8-byte windows of absolute loads than the registers that keep them (seven), and values
// carried past many instructions.
TEST(VectorFilter, RegisterPressure) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  Random random(base_seed() ^ 0x9e55);
  std::vector<std::vector<std::uint8_t>> packets;
  for (int p = 0; p < 24; ++p) {
    std::vector<std::uint8_t> bytes;
    grow(random, bytes, 100 + random.below(20));
    bytes[8] = static_cast<std::uint8_t>(p % 14);
    packets.push_back(std::move(bytes));
  }
  // Twelve tests, each jumping forward past the others to a target of its own, A changing
  // between them (so each jump saves it), X and M[3] too on some.
  std::string chain = "ldb [8]\nst M[3]\n";
  const int tests = 12;
  const int chain_end = 2 + 3 * tests;  // index of the fall-through return
  for (int j = 0; j < tests; ++j) {
    const int at = 2 + 3 * j;
    chain +=
        fmt::format("jeq #{} jt {} jf {}\nadd #{}\n{}\n", j, chain_end + 1 + 2 * j, at + 1, j + 1,
                    j % 3 == 0   ? "tax"
                    : j % 3 == 1 ? "st M[3]"
                                 : "sub #1");
  }
  chain += "ret #7777\n";
  for (int j = 0; j < tests; ++j)
    chain += fmt::format("{}\nret a\n", j % 2 == 0 ? "add x" : "ld M[3]");
  check_with_libpcap(chain, packets);
  // Ten windows, each read twice (the first ones again after they were replaced).
  std::string windows = "ld [0]\ntax\n";
  for (int w = 1; w < 10; ++w) windows += fmt::format("ld [{}]\nadd x\ntax\n", w * 9);
  for (int w = 0; w < 10; ++w) windows += fmt::format("ldh [{}]\nadd x\ntax\n", w * 9 + 2);
  windows += "txa\nret a";
  check_with_libpcap(windows, packets);
  // Random long programs (up to 250 instructions), on the same packets.
  int compiled = 0;
  for (int n = 0; n < 150; ++n) {
    std::vector<Insn> insns = random_program(random, 250);
    for (Insn& insn : insns)
      if (is_far_absolute_load(insn)) insn.k = random.below(100);
    read_only_written_scratch(insns);
    auto program = Program::load(insns);
    ASSERT_TRUE(program) << program.error().to_string();
    auto code = VectorFilter::compile(*program);
    if (!code || code->min_caplen() > 100) continue;
    ++compiled;
    const Libpcap libpcap(insns);
    std::vector<Expect> expects;
    for (const auto& bytes : packets)
      expects.push_back(Expect{bytes, libpcap(bytes, static_cast<std::uint32_t>(bytes.size()))});
    check_verdicts(insns, expects);
    if (HasFailure()) break;
  }
  EXPECT_GT(compiled, 75);
}

// ---- Failures found by the random programs, reduced ---------------------------------------------

// Found at 74cd58d (VectorFilter with lanes' flags in mask registers), by the random programs
// (each of their first failures reduces to one of these): an absolute load into A followed by
// the target of an unreachable jump (one that jumps over the load), with A read only after that
// target: the load's bytes are gathered but never extracted into A, which keeps 0 (its initial
// value) or, when the target writes X, whatever the caller left in zmm0 (the poison 0x9e3779b9
// here).
TEST(VectorFilter, ReducedLoadBeforeTargetOfUnreachableJump) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  const std::vector<std::uint8_t> packet = put8(counting(10), 9, 0xe9);  // ldh [8] = 0x08e9
  // (001) is unreachable; its target (003) is a `ja` to the next instruction. Gives 0.
  check_verdicts("ja 2\nja 3\nldh [8]\nja 4\nret a", {{packet, 0x08e9}});
  // The target writes X. Gives the caller's zmm0.
  check_verdicts("ldb [8]\nja 3\nja 4\nldb [0]\nldx #1\nret a",
                 {{counting(9, 1), 1}, {counting(9, 0x42), 0x42}});
  check_verdicts("ja 2\nja 3\nldb [0]\nldxb 4*([8]&0xf)\nret a",
                 {{std::vector<std::uint8_t>(9, 0), 0}, {counting(9, 7), 7}});
  // Variants that are right: the target reads A, is `ret a`, or stores A.
  check_verdicts("ja 2\nja 3\nldh [8]\nadd #0\nret a", {{packet, 0x08e9}});
  check_verdicts("ja 2\nja 4\nldb [0]\nldxb 4*([8]&0xf)\nret a", {{counting(9, 1), 1}});
  check_verdicts("ldb [8]\nja 3\nja 4\nldb [0]\nst M[0]\nret a", {{counting(9, 1), 1}});
}

// Found at b170c34 ("an A that is the same packet field on every way into a target is loaded
// again there"): a jump whose one way changes A (xor) before joining the other at `ret a`
// returns the packet field unchanged, as if both ways carried it.
TEST(VectorFilter, ReducedFieldChangedOnOneWayToAJoin) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  // (004) is the jump's target and a `ja` to the join (005).
  check_verdicts("ld [6]\njeq #0 jt 4 jf 2\nxor #1\nja 5\nja 5\nret a",
                 {{put8(counting(10), 9, 0x61), 0x06070860},
                  {std::vector<std::uint8_t>(10, 0), 0},
                  {put8(counting(10), 9, 0x05), 0x06070804}});
  // Right: the jump goes to the join itself.
  check_verdicts(
      "ld [6]\njeq #0 jt 3 jf 2\nxor #1\nret a",
      {{put8(counting(10), 9, 0x61), 0x06070860}, {std::vector<std::uint8_t>(10, 0), 0}});
}

// ---- The batch loop's protocol ----------------------------------------------------------------

TEST(VectorFilter, LoopProtocol) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  // Every packet's verdict is its own word at byte 8: a verdict in the wrong slot shows.
  auto insns = parse_program("ld [8]\nret a");
  ASSERT_TRUE(insns);
  auto program = Program::load(*insns);
  ASSERT_TRUE(program);
  auto code = VectorFilter::compile(*program);
  ASSERT_TRUE(code) << code.error().to_string();
  EXPECT_EQ(code->min_caplen(), 12u);  // the end of the furthest absolute load
  ASSERT_NE(code->loop(), nullptr);
  const Libpcap libpcap(*insns);
  constexpr std::size_t most = 48;
  GuardedBatch guarded(most, 4096);
  ASSERT_TRUE(guarded.ok()) << "mmap/mprotect failed";
  auto packet_bytes = [](std::size_t p, std::size_t size) {
    std::vector<std::uint8_t> bytes = counting(size, static_cast<std::uint8_t>(p));
    if (size >= 12) bytes = put32(bytes, 8, 0x1000 + static_cast<std::uint32_t>(p));
    return bytes;
  };
  // `short_at`: the packets shorter than min_caplen (by one byte, or empty).
  auto check = [&](std::size_t size, const std::vector<std::size_t>& short_at) {
    SCOPED_TRACE(fmt::format("batch of {}, short packets at {}", size, fmt::join(short_at, ",")));
    std::vector<Input> inputs;
    for (std::size_t p = 0; p < size; ++p) {
      const bool is_short = std::find(short_at.begin(), short_at.end(), p) != short_at.end();
      const std::size_t bytes = is_short ? (p % 2 ? 11 : 0) : 12 + p % 5;
      inputs.push_back(Input{packet_bytes(p, bytes), 1000, nullptr});
    }
    std::span<const Packet> batch = guarded.place(inputs);
    // One call: it stops at the first group that is not whole or holds a short packet.
    std::size_t expected_stop = 0;
    while (expected_stop + 8 <= size &&
           std::none_of(short_at.begin(), short_at.end(),
                        [&](std::size_t s) { return s >= expected_stop && s < expected_stop + 8; }))
      expected_stop += 8;
    std::vector<std::uint32_t> verdicts(size + sentinel_tail, sentinel);
    const Packet* stop =
        call_loop(*code, batch.data(), batch.data() + size, verdicts.data(), batch.data() + size);
    EXPECT_EQ(stop - batch.data(), static_cast<std::ptrdiff_t>(expected_stop));
    for (std::size_t p = 0; p < verdicts.size(); ++p) {
      const std::uint32_t expected =
          p < expected_stop ? 0x1000 + static_cast<std::uint32_t>(p) : sentinel;
      EXPECT_EQ(verdicts[p], expected) << "slot " << p;
    }
    // The whole protocol, resuming either way: every verdict libpcap's.
    for (Resume resume : {Resume::after_group, Resume::after_short_packet}) {
      LoopResult got = run_loop(
          *code, batch,
          [&](const Packet& packet) { return libpcap(packet.data, packet.wire_length); }, resume);
      for (std::size_t p = 0; p < size; ++p)
        EXPECT_EQ(got.verdicts[p], libpcap(inputs[p].bytes, 1000)) << "packet " << p;
    }
  };
  for (std::size_t size : {0, 1, 5, 7, 8, 9, 15, 16, 17, 23, 24, 40, 43, 48}) check(size, {});
  for (std::size_t at = 0; at < 40; at += 3) check(40, {at});
  check(43, {7, 8});
  check(43, {0, 15, 16, 41});
  check(48, {47});
  // Every packet exactly min_caplen long runs.
  std::vector<Input> exact;
  for (std::size_t p = 0; p < 16; ++p) exact.push_back(Input{packet_bytes(p, 12), 12, nullptr});
  std::span<const Packet> batch = guarded.place(exact);
  std::vector<std::uint32_t> verdicts(16 + sentinel_tail, sentinel);
  EXPECT_EQ(call_loop(*code, batch.data(), batch.data() + 16, verdicts.data(), nullptr),
            batch.data() + 16);
  for (std::size_t p = 0; p < 16; ++p) EXPECT_EQ(verdicts[p], 0x1000 + p);
  // Called from the middle of a batch, the verdicts go from `verdicts` on.
  verdicts.assign(16 + sentinel_tail, sentinel);
  EXPECT_EQ(call_loop(*code, batch.data() + 3, batch.data() + 16, verdicts.data(), nullptr),
            batch.data() + 11);
  for (std::size_t p = 0; p < verdicts.size(); ++p)
    EXPECT_EQ(verdicts[p], p < 8 ? 0x1000 + p + 3 : sentinel) << "slot " << p;
}

// ---- What it must refuse ------------------------------------------------------------------------

// Compiles `insns`, which must fail with Error::Kind::usage, the message naming `reason`;
// returns the message.
std::string refusal(const std::vector<Insn>& insns, std::string_view reason) {
  auto program = Program::load(insns);
  EXPECT_TRUE(program) << program.error().to_string();
  if (!program) return {};
  auto code = VectorFilter::compile(*program);
  EXPECT_FALSE(code.ok()) << "compiled:\n" << listing(insns, Listing::text);
  if (code) return {};
  EXPECT_EQ(code.error().kind, Error::Kind::usage) << code.error().to_string();
  EXPECT_NE(code.error().message.find(reason), std::string::npos)
      << code.error().to_string() << " does not say " << reason;
  fmt::print("refused: {}\n", code.error().to_string());
  return code.error().to_string();
}

std::vector<Insn> parsed(const char* source) {
  auto insns = parse_program(source);
  EXPECT_TRUE(insns) << insns.error().to_string();
  return insns ? *insns : std::vector<Insn>{};
}

TEST(VectorFilter, RefusesWhatItDoesNotCompile) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  // A backward jump (as libpcap compiles protochain).
  refusal({{0x20, 0, 0, 8}, {0x05, 0, 0, 1}, {0x05, 0, 0, 0xfffffffe}, {0x06, 0, 0, 1}},
          "backward");
  // Ancillary loads (k >= SKF_AD_OFF), of each width, on the only path or on one of two.
  refusal(parsed("ld [8]\nld [proto]\nret a"), "ancillary");
  refusal({{0x20, 0, 0, 8}, {0x28, 0, 0, ancillary_base + skf_ad::vlan_tag}, {0x16, 0, 0, 0}},
          "ancillary");
  refusal({{0x20, 0, 0, 8}, {0x30, 0, 0, ancillary_base}, {0x16, 0, 0, 0}}, "ancillary");
  refusal(parsed("ld [8]\njeq #0 jt 2 jf 3\nldh [vlan_tci]\nret #1"), "ancillary");
  // Every load reads 8 bytes: a program whose loads end before byte 8 (or with indexed loads
  // only, or none) compiles with a minimum length of 8 all the same, and shorter packets are
  // left to the caller (the loop protocol's checks: run_loop).
  for (const char* source : {"ldb [0]\nret a", "ld [3]\nret a", "ldb [6]\nret a",
                             "ldxb 4*([6]&0xf)\ntxa\nret a", "ldx #2\nld [x + 0]\nret a", "ret #1",
                             "ld [4]\nret a", "ldh [6]\nret a", "ldb [7]\nret a"}) {
    auto program = Program::load(parsed(source));
    ASSERT_TRUE(program);
    auto code = VectorFilter::compile(*program);
    ASSERT_TRUE(code) << source << ": " << code.error().to_string();
    EXPECT_EQ(code->min_caplen(), 8u) << source;
  }
  check_verdicts("ldb [0]\nret a", {{counting(8, 5), 5}, {counting(9, 7), 7}});
  check_verdicts("ldx #6\nld [x + 0]\nret a", {{counting(10), 0x06070809}, {counting(8), 0}});
  check_verdicts("ld [4]\nret a", {{counting(8), 0x04050607}, {counting(9, 1), 0x05060708}});
  // More than max_branch_free_insns instructions; exactly that many compile.
  std::vector<Insn> long_program{{0x20, 0, 0, 8}};  // ld [8]
  while (long_program.size() < detail::max_branch_free_insns)
    long_program.push_back({0x04, 0, 0, 1});  // add #1
  long_program.push_back({0x16, 0, 0, 0});    // ret a
  refusal(long_program, "instructions");
  long_program.erase(long_program.begin() + 1);
  ASSERT_EQ(long_program.size(), detail::max_branch_free_insns);
  std::string source = listing(long_program, Listing::text);
  check_verdicts(source, {{w8(1), 255}, {w8(0xffffffff), 253}});
}

// `targets` jumps over stores to A, X and all sixteen scratch words, each to a target of its
// own after them, all eighteen values read after the targets: each target restores eighteen
// values (64 bytes each in the vector code's frame), each jump saves eighteen (4 bytes each in
// the branch-free plan's).
std::vector<Insn> saved_values_program(std::uint8_t targets) {
  std::vector<Insn> insns{{0x30, 0, 0, 8}};   // ldb [8]
  for (std::uint8_t j = 0; j < targets; ++j)  // jeq #j jt (target j) jf next
    insns.push_back({0x15, static_cast<std::uint8_t>(targets - 1 - j + 18 + j), 0, j});
  for (std::uint32_t m = 0; m < 16; ++m) insns.push_back({0x02, 0, 0, m});      // st M[m]
  insns.push_back({0x01, 0, 0, 1});                                             // ldx #1
  insns.push_back({0x00, 0, 0, 2});                                             // ld #2
  for (std::uint8_t j = 0; j < targets; ++j) insns.push_back({0x44, 0, 0, 0});  // or #0
  insns.push_back({0x0c, 0, 0, 0});                                             // add x
  for (std::uint32_t m = 0; m < 16; ++m) {
    insns.push_back({0x61, 0, 0, m});  // ldx M[m]
    insns.push_back({0x0c, 0, 0, 0});  // add x
  }
  insns.push_back({0x16, 0, 0, 0});  // ret a
  return insns;
}

// Runs `insns` on 24 packets through the loop, the classic interpreter the oracle (these
// programs read scratch words some paths leave unwritten: libpcap 1.10.3 leaves them
// uninitialised, bpfvm has them 0).
void check_with_interpreter(const std::vector<Insn>& insns) {
  SCOPED_TRACE(listing(insns, Listing::text));
  auto program = Program::load(insns);
  ASSERT_TRUE(program) << program.error().to_string();
  auto code = VectorFilter::compile(*program);
  ASSERT_TRUE(code) << code.error().to_string();
  std::vector<Input> inputs;
  for (std::size_t p = 0; p < 24; ++p)
    inputs.push_back(Input{b8(static_cast<std::uint8_t>(p % 12)), 16, nullptr});
  GuardedBatch guarded(inputs.size(), 4096);
  ASSERT_TRUE(guarded.ok());
  auto oracle = [&](const Packet& packet) {
    return run(*program, Packet{packet.data, packet.wire_length, nullptr});
  };
  std::span<const Packet> batch = guarded.place(inputs);
  LoopResult got = run_loop(*code, batch, oracle);
  EXPECT_EQ(got.vector_packets, inputs.size());
  for (std::size_t p = 0; p < inputs.size(); ++p)
    EXPECT_EQ(got.verdicts[p], oracle(batch[p])) << "packet " << p;
}

// The frame of saved values: under max_vector_frame the program compiles and runs right; over
// it, it is refused, saying so; over the branch-free plan's own limit, refused too.
TEST(VectorFilter, SavedValuesFrame) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  // 10 targets x 18 values x 64 bytes = 11,520 bytes.
  check_with_interpreter(saved_values_program(10));
  // 20 x 18 x 64 = 23,040 bytes, over 16 KB (the plan's frame: 20 x 80 bytes, within 4 KB).
  refusal(saved_values_program(20), "saved values");
  // 200 jumps each saving sixteen words: the branch-free plan's frame is over its 4 KB.
  refusal(frame_heavy_program(8), "frame");
}

// The code keeps its state in registers and on the caller's stack: threads may share it.
TEST(VectorFilter, SharedByThreads) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  // Joins carrying A, X and all of M[]: the frame holds lanes and values.
  const std::vector<Insn> insns = saved_values_program(6);
  auto program = Program::load(insns);
  ASSERT_TRUE(program);
  auto code = VectorFilter::compile(*program);
  ASSERT_TRUE(code) << code.error().to_string();
  Random random(base_seed() ^ 0x7417);
  constexpr int threads = 4;
  std::vector<std::vector<std::vector<std::uint8_t>>> bytes(threads);
  std::vector<std::vector<Packet>> batches(threads);
  std::vector<std::vector<std::uint32_t>> expected(threads);
  for (int t = 0; t < threads; ++t) {
    for (int p = 0; p < 256; ++p) {
      std::vector<std::uint8_t> packet = b8(static_cast<std::uint8_t>(random.below(9)));
      packet[9] = static_cast<std::uint8_t>(random.next());
      bytes[t].push_back(std::move(packet));
    }
    for (const auto& packet : bytes[t]) {
      batches[t].push_back(Packet{packet, 16, nullptr});
      expected[t].push_back(run(*program, batches[t].back()));
    }
  }
  std::vector<int> wrong(threads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<std::uint32_t> verdicts(batches[t].size());
      for (int round = 0; round < 200; ++round) {
        std::fill(verdicts.begin(), verdicts.end(), sentinel);
        const Packet* end = batches[t].data() + batches[t].size();
        if (call_loop(*code, batches[t].data(), end, verdicts.data(), end) != end) ++wrong[t];
        if (verdicts != expected[t]) ++wrong[t];
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  for (int t = 0; t < threads; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
}

// An absolute load ending past 2^31 (no packet is that long), which the header does not name:
// refused, or compiled with every packet left to the caller.
TEST(VectorFilter, FarAbsoluteLoad) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  const std::vector<Insn> far{{0x30, 0, 0, 8}, {0x20, 0, 0, 0x7ffffffe}, {0x16, 0, 0, 0}};
  auto program = Program::load(far);
  ASSERT_TRUE(program) << program.error().to_string();
  auto code = VectorFilter::compile(*program);
  if (!code) {
    EXPECT_EQ(code.error().kind, Error::Kind::usage);
    fmt::print("refused: {}\n", code.error().to_string());
    return;
  }
  EXPECT_EQ(code->min_caplen(), 0x80000002u);
  std::vector<Input> inputs(16, Input{counting(64), 64, nullptr});
  GuardedBatch guarded(inputs.size(), 4096);
  ASSERT_TRUE(guarded.ok());
  LoopResult got = run_loop(*code, guarded.place(inputs), [](const Packet&) { return 0u; });
  EXPECT_EQ(got.vector_packets, 0u);
}

// The generated code as text, and its size, for a filter pcap_compile makes; common filters
// compile.
TEST(VectorFilter, PcapFiltersCompile) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  for (const char* expression :
       {"tcp and port 80", "udp or icmp", "ip and len > 70",
        "tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
        "(udp port 53 or tcp port 443 or ip6) and not net 10.0.0.0/8",
        "vlan 101 and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or icmp[icmptype] == icmp-echo",
        "host 192.168.1.1 and not arp", "ip6 and tcp port 22"}) {
    auto insns = compile(expression);
    ASSERT_TRUE(insns) << insns.error().to_string();
    auto program = Program::load(*insns);
    ASSERT_TRUE(program);
    std::string log;
    auto code = VectorFilter::compile(*program, &log);
    ASSERT_TRUE(code) << expression << ": " << code.error().to_string();
    EXPECT_FALSE(log.empty()) << expression;
    EXPECT_GT(code->code_size(), 0u) << expression;
    EXPECT_GE(code->gathers(), 1u) << expression;
    EXPECT_LE(code->min_caplen(), 60u) << expression;  // every Ethernet frame takes it
  }
}

// ---- The pcap corpus
// ------------------------------------------------------------------------------

// Every corpus filter on every corpus capture, through the loop (libpcap for the packets it
// leaves): every verdict libpcap's.
TEST(VectorFilter, PcapCorpus) {
  if (!VectorFilter::host_supported()) GTEST_SKIP() << no_avx512;
  if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
  int filters = 0, compiled = 0;
  std::size_t runs = 0, by_vector = 0;
  std::map<std::string, int> refusals;
  std::map<std::string, Result<VectorFilter>> codes;
  for (const std::string& file : corpus_files()) {
    auto reader = capture::SavefileReader::open((corpus_dir() / file).string());
    if (!reader) continue;  // unreadable captures are the corpus test's business
    std::vector<std::vector<std::uint8_t>> bytes;
    std::vector<Packet> packets;
    for (;;) {
      auto record = reader->next();
      if (!record || !*record) break;
      bytes.emplace_back((*record)->data.begin(), (*record)->data.end());
      packets.push_back(Packet{{}, (*record)->wire_length, nullptr});
    }
    for (std::size_t p = 0; p < packets.size(); ++p) packets[p].data = bytes[p];
    for (const std::string& expression : corpus_filters()) {
      auto insns = reader->compile(expression, true, PCAP_NETMASK_UNKNOWN);
      if (!insns) continue;
      ++filters;
      // Captures of one link type get the same programs: each is compiled once.
      const std::string key(reinterpret_cast<const char*>(insns->data()),
                            insns->size() * sizeof(Insn));
      auto cached = codes.find(key);
      if (cached == codes.end()) {
        auto program = Program::load(*insns);
        ASSERT_TRUE(program) << program.error().to_string();
        cached = codes.emplace(key, VectorFilter::compile(*program)).first;
      }
      const Result<VectorFilter>& code = cached->second;
      if (!code) {
        std::string reason = code.error().to_string();
        std::erase_if(reason, [](char c) { return c >= '0' && c <= '9'; });
        ++refusals[reason];
        continue;
      }
      ++compiled;
      const Libpcap libpcap(*insns);
      std::vector<std::uint32_t> expected;
      for (std::size_t p = 0; p < packets.size(); ++p)
        expected.push_back(libpcap(bytes[p], packets[p].wire_length));
      LoopResult got = run_loop(*code, packets, [&](const Packet& packet) {
        return expected[static_cast<std::size_t>(&packet - packets.data())];
      });
      ASSERT_EQ(got.protocol_errors, 0) << file << ": " << expression;
      runs += packets.size();
      by_vector += got.vector_packets;
      for (std::size_t p = 0; p < packets.size(); ++p) {
        ASSERT_EQ(got.verdicts[p], expected[p])
            << file << ": " << expression << ", packet " << p << " (lane " << p % 8 << ")\n"
            << describe(*insns, bytes[p], packets[p].wire_length);
      }
    }
  }
  fmt::print(
      "{} corpus filter x capture pairs, {} compiled to vector code; {} packet runs, {} "
      "by the vector code\n",
      filters, compiled, runs, by_vector);
  for (const auto& [reason, count] : refusals)
    fmt::print("  refused {} times: {}\n", count, reason);
  EXPECT_GT(compiled, filters * 7 / 10) << compiled << " of " << filters;
}

}  // namespace
}  // namespace bpfvm::classic::test
