// Classic filters compiled to AVX-512 code that filters eight packets at once.
//
// The branch-free forms (branch_free.hpp) run one packet at a time; the branchy one pays a
// misprediction for every branch that goes the less common way, which on traffic with a
// random minority (802.1Q frames among untagged ones, for `vlan`) costs more than the rest
// of the filter. This form if-converts the program as the straight-line form does, but each
// of A, X and M[k] is a vector of eight 64-bit lanes, one per packet, and each instruction's
// "reached" flag is a mask register with a bit per lane: every instruction runs once for
// eight packets, and nothing branches on packet data.
//
// Packet bytes come in with gathers. An absolute load reads the 8 bytes at
// min(k, min_caplen - 8) of each packet (one gather serves every later absolute load those
// bytes cover) and takes its bytes out with a byte shuffle that also swaps them to host order.
// An indexed load reads the 8 bytes at min(X + k, caplen - 8) of the lanes where it is in
// bounds, shifts each lane by its own distance, and clears the other lanes' flags (the packet
// is rejected when that path is the one it takes), as libpcap rejects an out-of-bounds load.
// Division and modulo go through doubles (exact for 32-bit operands with rounding toward zero,
// all exceptions suppressed); by X, the lanes where X is 0 are rejected the same way.
//
// Not compiled (compile() says why, and the caller keeps the other forms): hosts without
// AVX-512 (F, BW, DQ, VL), programs with ancillary loads or backward jumps, more than
// max_branch_free_insns instructions or any other the branch-free compiler does not take,
// a frame of saved values over max_vector_frame, or a Packet layout other than four 8-byte
// words. Every load reads 8 bytes, so the code takes packets of at least 8 bytes whatever the
// program reads (min_caplen()).
#pragma once

#include <bpfvm/classic.hpp>
#include <bpfvm/result.hpp>

#include "classic/branch_free.hpp"
#include "jit/exec_memory.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace bpfvm::classic::detail {

// The bytes of values saved at jumps for their targets (64 a value): the code runs on the
// caller's stack, as the branch-free code does.
inline constexpr std::size_t max_vector_frame = 16 * 1024;

class VectorFilter {
 public:
  static constexpr std::size_t lanes = 8;

  // The same signature as the branch-free batch loops: runs the packets from `first` in
  // groups of eight while a whole group remains before `end` and each of its packets has at
  // least min_caplen() bytes, writing their verdicts to `verdicts` and on; returns the first
  // packet it did not filter (the start of the group that stopped it, or `end`). The caller
  // filters up to eight packets from there itself, then calls again. `prefetch_end` is
  // ignored.
  using Loop = BranchFreeFilter::Loop;

  // Whether this CPU (and its operating system) runs AVX-512 F, BW, DQ and VL code.
  static bool host_supported();

  // Compiles `program`, or says why not (Error::Kind::usage). `log`, when not null, receives
  // the generated code as assembly text.
  static Result<VectorFilter> compile(const Program& program, std::string* log = nullptr);

  Loop loop() const { return loop_; }
  std::uint64_t min_caplen() const { return min_caplen_; }
  std::size_t code_size() const { return memory_.size(); }
  // Gathers a group of eight packets runs (each reads 64 bytes): the cost model's.
  std::size_t gathers() const { return gathers_; }

 private:
  VectorFilter() = default;
  jit::ExecMemory memory_;
  Loop loop_ = nullptr;
  std::uint64_t min_caplen_ = 0;
  std::size_t gathers_ = 0;
};

}  // namespace bpfvm::classic::detail
