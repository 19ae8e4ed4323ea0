// Packet pointers (Linux: PTR_TO_PACKET, PTR_TO_PACKET_END, PTR_TO_PACKET_META): what a
// program may do with the data, data_end and data_meta pointers its context gives.
//
//   arithmetic    pointer +/- scalar: a constant moves `fixed_off` and keeps the range; a
//                 variable amount goes into `value`, gives a new id and no range
//                 (adjust_ptr_min_max_vals, check_reg_sane_offset); nothing on pkt_end
//   comparisons   pkt vs pkt_end (and meta vs pkt) with >, >=, <, <=, either order, 64-bit:
//                 the edge where the pointer is within the end proves the range for every
//                 pointer with the same id, in every frame and spill (try_match_pkt_pointers,
//                 find_good_pkt_pointers); on the other edge the pointer itself is marked at
//                 or beyond the end (mark_pkt_end), which decides its next comparison
//   accesses      within [0, range) from the pointer's base, variable part non-negative,
//                 writes where the type allows them (check_packet_access,
//                 may_access_direct_pkt_data)
//   helpers       a helper that changes the packet turns every packet pointer into an
//                 unknown scalar (clear_all_pkt_pointers)
//   ld_abs/ld_ind legacy loads for socket_filter and sched_cls (check_ld_abs)
#pragma once

#include "isa/decoder.hpp"
#include "verifier/scalar_alu.hpp"
#include "verifier/scalar_branch.hpp"
#include "verifier/verifier_state.hpp"
#include "verifier/verify.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace bpfvm::verifier {

// Linux's MAX_PACKET_OFF: no range is proven for a pointer that may be further from data.
inline constexpr std::int64_t max_packet_offset = 0xffff;
// Ranges of a packet pointer proven at (>=) or beyond (>) the end, by the comparison that
// failed for it (Linux AT_PKT_END, BEYOND_PKT_END, set by mark_pkt_end): no byte through it
// is accessible, and its next comparison with the end is decided.
inline constexpr std::int32_t at_packet_end = -1;
inline constexpr std::int32_t beyond_packet_end = -2;

// `size` bytes at `insn_off` from packet (or meta) pointer `p` held in register `reg`.
std::optional<std::string> check_packet_access(const VerifyOptions& options, const RegValue& p,
                                               int reg, std::int64_t insn_off, std::int64_t size,
                                               bool write);

// 64-bit `dst op= src` where either operand is a packet pointer of any kind: the new dst or
// why the arithmetic is refused.
std::optional<std::string> packet_alu(AluOp op, int bits, int dst_reg, int src_reg,
                                      VerifierState& st, const RegValue& src);

// A 64-bit register comparison of two pointers at least one of which is a packet pointer:
// refines the packet ranges on the edge(s) where they are proven.
void refine_packet_branch(CmpOp op, int dst_reg, int src_reg, VerifierState* taken,
                          VerifierState* fallthrough);

// A comparison of a packet pointer marked at or beyond the end (range at_packet_end,
// beyond_packet_end) with pkt_end whose outcome is known: whether it is taken.
std::optional<bool> packet_branch_taken(CmpOp op, const RegValue& dst, const RegValue& src);

// Every packet, packet end and meta pointer (registers of every frame and spilled slots)
// becomes an unknown scalar: the packet may have moved.
void clear_packet_pointers(VerifierState& st);

// ld_abs / ld_ind (BPF_LD | BPF_ABS / BPF_IND).
std::optional<std::string> check_ld_abs(const VerifyOptions& options, const DecodedInsn& d,
                                        VerifierState& st);

}  // namespace bpfvm::verifier
