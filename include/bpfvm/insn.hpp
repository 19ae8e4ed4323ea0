// The eBPF instruction encoding (RFC 9669 section 3) and its field constants.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bpfvm {

// One 64-bit instruction slot, little-endian, exactly as it sits in an ELF section or in
// the bytes the kernel's bpf(BPF_PROG_LOAD) takes. lddw occupies two slots.
struct Insn {
  std::uint8_t opcode = 0;
  std::uint8_t dst : 4 = 0;
  std::uint8_t src : 4 = 0;
  std::int16_t offset = 0;
  std::int32_t imm = 0;

  friend bool operator==(const Insn&, const Insn&) = default;
};
static_assert(sizeof(Insn) == 8, "eBPF instructions are 8 bytes");

// Instruction classes (low three bits of the opcode).
namespace cls {
inline constexpr std::uint8_t ld = 0x00, ldx = 0x01, st = 0x02, stx = 0x03, alu32 = 0x04,
                              jmp = 0x05, jmp32 = 0x06, alu64 = 0x07;
}  // namespace cls

inline constexpr std::uint8_t insn_class(std::uint8_t opcode) { return opcode & 0x07; }

// Registers: r0 return value, r1-r5 arguments, r6-r9 callee-saved, r10 frame pointer.
inline constexpr int register_count = 11;
inline constexpr int frame_pointer = 10;

// Each frame of a running program has a 512-byte stack (RFC 9669 section 2.2 via Linux).
inline constexpr std::size_t stack_frame_size = 512;
// Local calls may nest this deep (frames in use, counting the entry frame), as Linux.
inline constexpr std::size_t max_call_frames = 8;
// The largest program the loader accepts, as Linux's BPF_COMPLEXITY_LIMIT_INSNS.
inline constexpr std::size_t max_program_insns = 1'000'000;

// Pseudo sources of lddw (src field), as Linux's BPF_PSEUDO_* names them. The loader of
// objects resolves 1 to 6; a raw program may only use 0.
namespace lddw_src {
inline constexpr std::uint8_t imm64 = 0, map_fd = 1, map_value = 2, btf_id = 3, func = 4,
                              map_idx = 5, map_idx_value = 6;
}  // namespace lddw_src

}  // namespace bpfvm
