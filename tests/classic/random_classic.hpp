// Random classic programs and packets for differential tests against libpcap's bpf_filter().
//
// Programs use every opcode bpf_filter() executes, with operands chosen to hit the edges:
// loads just inside and just past the captured length, X + k that wraps in 32 bits, ancillary
// offsets, division and modulo by X = 0, shifts by 31, 32 and more, scratch words read before
// they are written. Every program passes libpcap's validator and Program::load, jumps only
// forward (libpcap 1.10.3 loops forever on a backward loop), and ends with a ret.
// Generation is a pure function of the seed (std::mt19937_64 is exactly specified).
#pragma once

#include <bpfvm/classic.hpp>

#include <cstdint>
#include <random>
#include <vector>

namespace bpfvm::classic::test {

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() { return engine_(); }
  std::uint32_t below(std::uint32_t bound) { return static_cast<std::uint32_t>(next() % bound); }
  bool chance(unsigned percent) { return below(100) < percent; }

 private:
  std::mt19937_64 engine_;
};

struct RandomPacket {
  std::vector<std::uint8_t> bytes;
  std::uint32_t wire_length = 0;
};

// A program of up to `max_length` instructions.
std::vector<Insn> random_program(Random& random, std::size_t max_length = 40);

// libpcap 1.10.3's bpf_filter() leaves M[] uninitialised (later releases zero it, as bpfvm
// does): rewrites loads of scratch words that some path has not stored, so that both agree.
void read_only_written_scratch(std::vector<Insn>& insns);

// A packet of 0..96 bytes with a wire length at or above it (and sometimes below, which
// bpf_filter() accepts as well).
RandomPacket random_packet(Random& random);

// A 32-bit value biased towards the edges (0, 1, 31, 32, 0x7fffffff, 0x80000000, ~0, small).
std::uint32_t edgy_value(Random& random);

// Puts in front of `insns` the shape pcap_compile begins with: a load of a header field and
// one or two tests of it jumping into the program (a dispatch, branch_free_dispatch.hpp).
void prepend_dispatch(Random& random, std::vector<Insn>& insns);

// Turns every accepting return but the last into a `ja` to the last, itself made `ret #k`: the
// shape pcap_compile gives (one accepting return, at the end), which the compilers treat
// specially.
void funnel_returns(Random& random, std::vector<Insn>& insns);

// A program the compilers refuse for its frame: after `ldb [load]`, 200 jumps over stores to
// all sixteen scratch words, which their target reads, each saving all sixteen.
std::vector<Insn> frame_heavy_program(std::uint32_t load);

}  // namespace bpfvm::classic::test
