// The analysis behind the branch-free compiler (branch_free.hpp): which values are live
// where, the jumps (edges) that skip over writes to a value live at their target and must
// restore it there, where each jump target's or-ed flags live (a register while one is free,
// else a stack slot), the frame, and whether the program is one the compiler takes at all.
#pragma once

#include <bpfvm/classic.hpp>
#include <bpfvm/result.hpp>

#include "classic/code.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>

namespace bpfvm::classic::detail {

// Values the program can hold: A, X and the scratch words, as bits of a mask.
using Values = std::uint32_t;
inline constexpr Values value_a = 1u << 0, value_x = 1u << 1;
constexpr Values value_m(std::uint32_t k) { return 1u << (2 + k); }

// A jump from `from` to a target other than the next instruction.
struct BranchFreeEdge {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  Values merged = 0;       // values live at `to` that instructions between them overwrite
  std::int32_t flag = -1;  // stack slot of the edge's flag, when merged != 0
  std::int32_t saved[2 + scratch_words] = {};  // stack slots of the saved values, by bit
};

// The frame, as offsets from its base (branch_free.cpp puts it in the red zone when it fits).
constexpr std::int32_t scratch_slot(std::uint32_t k) { return static_cast<std::int32_t>(4 * k); }
inline constexpr std::int32_t safe_slot = 64;
inline constexpr std::int32_t wire_slot = 72;
inline constexpr std::int32_t first_free_slot = 76;

// Registers for pending flags (branch_free.cpp names them: rbx, rbp, r12-r14).
inline constexpr std::size_t pending_register_count = 5;

struct BranchFreePlan {
  std::uint64_t min_caplen = 0;  // the furthest end of an absolute load
  bool reads_ancillary = false;
  bool reads_wire_length = false;
  std::vector<bool> rejects;    // per instruction: a `ret #0`
  std::vector<Values> live_in;  // per instruction
  // Per instruction: when A holds the same absolute packet load on every path into it, that
  // load (k * 8 + size), else -1. Such an A is read again from the packet where a jump brings
  // it, instead of being saved at the jump and restored with cmov.
  std::vector<std::int64_t> a_load;
  std::vector<std::int32_t> pending_slot;          // per target: the or of its jumps' flags, or -1
  std::vector<int> pending_register;               // per target: its register, or -1
  std::uint32_t used_registers = 0;                // bit r: pending register r is used
  std::vector<std::size_t> first_jump;             // per target: the first jump to it
  std::vector<std::vector<std::size_t>> incoming;  // per target: its edges
  std::vector<BranchFreeEdge> edges;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::size_t> edge_of;  // (from, to) -> edge
  std::int32_t frame = 0;  // bytes, a multiple of 16
};

// The values an instruction writes, and those it reads.
Values defined_values(const Step& step);
Values used_values(const Step& step);

// Per instruction: the width (2 or 4) of an A held in the packet's byte order, for a packet
// load whose value (while it is A) is only compared with jeq, tested with jset or masked with
// and against constants (which commute with a byte swap of A and the constant), on every way
// into each instruction that reads it; the load and those instructions get the width, the rest
// 0. The branchy form then loads without bswap and swaps the constants instead.
std::vector<int> packet_order_a(std::span<const Step> steps, const std::vector<Values>& live_in);

// Whether `op` is a conditional jump (jt and jf both successors).
bool is_conditional(Exec op);

// The bytes an absolute packet load reads (ld/ldh/ldb [k], ldxb 4*([k]&0xf)), 0 for others.
int absolute_size(Exec op);

// The plan for `program`, or why the branch-free compiler does not take it
// (Error::Kind::usage). Pending flags get at most `registers` (<= pending_register_count) of
// the pending registers, in their order: the batch loop keeps its own state in the last two.
Result<BranchFreePlan> plan_branch_free(const Program& program,
                                        std::size_t registers = pending_register_count);

}  // namespace bpfvm::classic::detail
