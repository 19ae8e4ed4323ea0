// The pre-decoded form the classic interpreter runs: one step per instruction, jump targets
// resolved to absolute indices, special cases (ancillary loads, backward jumps) given their own
// operations so the common ones stay simple. Built once at load and then trusted.
#pragma once

#include <bpfvm/classic.hpp>

#include "classic/opcode_table.hpp"

#include <cstdint>
#include <vector>

namespace bpfvm::classic::detail {

// The table's operations, then the interpreter's own.
enum class Exec : std::uint8_t {
#define BPFVM_CLASSIC_OPCODE(id, code, mnemonic, operand, listed, freebsd) id,
#include "classic/opcodes.def"
#undef BPFVM_CLASSIC_OPCODE
  // An absolute load at k >= SKF_AD_OFF: a Linux ancillary value when the packet carries
  // ancillary data, otherwise an ordinary (out-of-bounds) load of `size` bytes.
  LD_ANCILLARY,
  // `ja` to an earlier instruction (or to itself): counted, see run().
  JA_BACKWARD,
  // Absolute loads that every path has already proven inside the captured bytes (an earlier
  // load reached at least as far): no bounds check (proven_length.hpp).
  LD_W_ABS_PROVEN,
  LD_H_ABS_PROVEN,
  LD_B_ABS_PROVEN,
  LDX_B_MSH_PROVEN,
};

inline constexpr Exec exec_of(Op op) { return static_cast<Exec>(op); }

struct Step {
  Exec op = Exec::RET_K;
  std::uint8_t size = 0;  // LD_ANCILLARY: the load's width
  std::uint32_t k = 0;    // shifts by a constant: already reduced to k & 31
  std::uint32_t jt = 0;   // jumps: absolute target indices (ja uses jt)
  std::uint32_t jf = 0;
};

struct Code {
  std::vector<Insn> insns;
  std::vector<Step> steps;
  Rules rules = Rules::libpcap;
};

// Backward jumps allowed per packet: 64 plus one per captured byte. libpcap compiles
// `protochain` as a loop that moves at least 8 bytes into the packet per turn, so no program
// libpcap generates comes near it (a packet with a hundred IPv6 extension headers needs a
// hundred turns), while a loop that never ends is cut short.
inline constexpr std::uint64_t backward_jump_allowance = 64;

}  // namespace bpfvm::classic::detail
