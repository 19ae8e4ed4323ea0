// The classic interpreter, with the semantics of libpcap's bpf_filter(). Dispatch is generated
// from the opcode table (computed goto with GCC and Clang, a switch elsewhere); a row without
// a handler below is a compile error.
#include <bpfvm/classic.hpp>

#include "classic/code.hpp"

#include <cstring>

#if (defined(__GNUC__) || defined(__clang__)) && !defined(BPFVM_SWITCH_DISPATCH)
#define BPFVM_CLASSIC_COMPUTED_GOTO 1
#else
#define BPFVM_CLASSIC_COMPUTED_GOTO 0
#endif

namespace bpfvm::classic {
namespace {

using u8 = std::uint8_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using detail::Exec;
using detail::Step;

inline u32 load_be32(const u8* p) {
  return (u32{p[0]} << 24) | (u32{p[1]} << 16) | (u32{p[2]} << 8) | u32{p[3]};
}
inline u32 load_be16(const u8* p) { return (u32{p[0]} << 8) | u32{p[1]}; }

// An ordinary load of `size` bytes at `offset`; false when [offset, offset + size) is not
// inside the captured bytes. 64-bit arithmetic, so X + k never wraps (libpcap checks the same
// bound in three 32-bit steps).
inline bool load_bytes(const u8* data, u64 caplen, u64 offset, int size, u32& out) {
  if (offset + static_cast<u64>(size) > caplen) return false;
  const u8* p = data + offset;
  out = size == 4 ? load_be32(p) : size == 2 ? load_be16(p) : u32{p[0]};
  return true;
}

}  // namespace

std::uint32_t run(const Program& program, const Packet& packet) {
  const Step* const base = program.code().steps.data();
  const Step* pc = base;
  const u8* const data = packet.data.data();
  const u64 caplen = packet.data.size();
  u32 A = 0;
  u32 X = 0;
  u32 M[scratch_words] = {};
  u64 backward_jumps_left = caplen + detail::backward_jump_allowance;

#define K pc->k
#define LOAD(size, offset)                                                   \
  {                                                                          \
    u64 at = (offset);                                                       \
    if (at + (size) > caplen) [[unlikely]]                                   \
      return 0;                                                              \
    const u8* p = data + at;                                                 \
    A = (size) == 4 ? load_be32(p) : (size) == 2 ? load_be16(p) : u32{p[0]}; \
    NEXT;                                                                    \
  }
#define BRANCH(condition)                        \
  {                                              \
    pc = base + ((condition) ? pc->jt : pc->jf); \
    DISPATCH();                                  \
  }

#if BPFVM_CLASSIC_COMPUTED_GOTO
  static constexpr void* dispatch_table[] = {
#define BPFVM_CLASSIC_OPCODE(id, code, mnemonic, operand, listed, freebsd) &&op_##id,
#include "classic/opcodes.def"
#undef BPFVM_CLASSIC_OPCODE
      &&op_LD_ANCILLARY,    &&op_JA_BACKWARD,     &&op_LD_W_ABS_PROVEN,
      &&op_LD_H_ABS_PROVEN, &&op_LD_B_ABS_PROVEN, &&op_LDX_B_MSH_PROVEN,
  };
  static_assert(std::size(dispatch_table) == static_cast<std::size_t>(Exec::LDX_B_MSH_PROVEN) + 1,
                "one handler per operation");
#define CASE(id) op_##id:
#define DISPATCH() goto* dispatch_table[static_cast<std::size_t>(pc->op)]
#else
#define CASE(id) case Exec::id:
// A goto, not `continue`: NEXT wraps DISPATCH in do/while(0), where `continue` would only
// leave the do/while and fall into the next case.
#define DISPATCH() goto dispatch
#endif
#define NEXT    \
  do {          \
    ++pc;       \
    DISPATCH(); \
  } while (0)

#if BPFVM_CLASSIC_COMPUTED_GOTO
  DISPATCH();
  {
#else
  {
  dispatch:
    switch (pc->op) {
#endif
    // clang-format off
    CASE(LD_W_ABS)  LOAD(4, K)
    CASE(LD_H_ABS)  LOAD(2, K)
    CASE(LD_B_ABS)  LOAD(1, K)
    CASE(LD_W_IND)  LOAD(4, u64{X} + K)
    CASE(LD_H_IND)  LOAD(2, u64{X} + K)
    CASE(LD_B_IND)  LOAD(1, u64{X} + K)
    CASE(LD_W_LEN)  A = packet.wire_length; NEXT;
    CASE(LD_IMM)    A = K; NEXT;
    CASE(LD_MEM)    A = M[K]; NEXT;
    CASE(LDX_IMM)   X = K; NEXT;
    CASE(LDX_MEM)   X = M[K]; NEXT;
    CASE(LDX_W_LEN) X = packet.wire_length; NEXT;
    CASE(LDX_B_MSH) {
      if (u64{K} >= caplen) [[unlikely]] return 0;
      X = (data[K] & 0xfu) << 2;
      NEXT;
    }
    CASE(ST)        M[K] = A; NEXT;
    CASE(STX)       M[K] = X; NEXT;
    CASE(ADD_K)     A += K; NEXT;
    CASE(SUB_K)     A -= K; NEXT;
    CASE(MUL_K)     A *= K; NEXT;
    CASE(DIV_K)     A /= K; NEXT;   // both validators refuse a constant 0
    CASE(MOD_K)     A %= K; NEXT;
    CASE(AND_K)     A &= K; NEXT;
    CASE(OR_K)      A |= K; NEXT;
    CASE(XOR_K)     A ^= K; NEXT;
    CASE(LSH_K)     A <<= K; NEXT;  // k already reduced to k & 31
    CASE(RSH_K)     A >>= K; NEXT;
    CASE(ADD_X)     A += X; NEXT;
    CASE(SUB_X)     A -= X; NEXT;
    CASE(MUL_X)     A *= X; NEXT;
    CASE(DIV_X)     if (X == 0) [[unlikely]] return 0; A /= X; NEXT;
    CASE(MOD_X)     if (X == 0) [[unlikely]] return 0; A %= X; NEXT;
    CASE(AND_X)     A &= X; NEXT;
    CASE(OR_X)      A |= X; NEXT;
    CASE(XOR_X)     A ^= X; NEXT;
    CASE(LSH_X)     A = X < 32 ? A << X : 0; NEXT;
    CASE(RSH_X)     A = X < 32 ? A >> X : 0; NEXT;
    CASE(NEG)       A = 0u - A; NEXT;
    CASE(JA)        pc = base + pc->jt; DISPATCH();
    CASE(JEQ_K)     BRANCH(A == K)
    CASE(JGT_K)     BRANCH(A > K)
    CASE(JGE_K)     BRANCH(A >= K)
    CASE(JSET_K)    BRANCH((A & K) != 0)
    CASE(JEQ_X)     BRANCH(A == X)
    CASE(JGT_X)     BRANCH(A > X)
    CASE(JGE_X)     BRANCH(A >= X)
    CASE(JSET_X)    BRANCH((A & X) != 0)
    CASE(RET_K)     return K;
    CASE(RET_A)     return A;
    CASE(TAX)       X = A; NEXT;
    CASE(TXA)       A = X; NEXT;
    CASE(LD_W_ABS_PROVEN)  A = load_be32(data + K); NEXT;
    CASE(LD_H_ABS_PROVEN)  A = load_be16(data + K); NEXT;
    CASE(LD_B_ABS_PROVEN)  A = data[K]; NEXT;
    CASE(LDX_B_MSH_PROVEN) X = (data[K] & 0xfu) << 2; NEXT;
    // clang-format on
    CASE(LD_ANCILLARY) {
      if (packet.ancillary == nullptr) {
        u32 value;
        if (!load_bytes(data, caplen, K, pc->size, value)) return 0;
        A = value;
        NEXT;
      }
      u32 offset = K - ancillary_base;
      if (offset == skf_ad::alu_xor_x) {
        A ^= X;
        NEXT;
      }
      auto value = packet.ancillary->value(offset);
      if (!value) return 0;
      A = *value;
      NEXT;
    }
    CASE(JA_BACKWARD) {
      // A jump to itself can never end; a loop that runs out of its allowance is rejected.
      if (pc->jt == static_cast<u32>(pc - base) || backward_jumps_left-- == 0) return 0;
      pc = base + pc->jt;
      DISPATCH();
    }
#if !BPFVM_CLASSIC_COMPUTED_GOTO
    }
    return 0;  // not reached: every operation has a case, and each one jumps or returns
#endif
}

#undef K
#undef LOAD
#undef BRANCH
#undef CASE
#undef DISPATCH
#undef NEXT
}

}  // namespace bpfvm::classic
