// The interpreter: runs the pre-decoded program. Dispatch is generated from the opcode
// table (computed goto with GCC and Clang, a switch elsewhere); a row without a handler
// below is a compile error in both modes.
#include <bpfvm/vm.hpp>

#include "vm/code.hpp"
#include "vm/engine_support.hpp"
#include "vm/run_errors.hpp"
#include "vm/run_state.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>

#if (defined(__GNUC__) || defined(__clang__)) && !defined(BPFVM_SWITCH_DISPATCH)
#define BPFVM_COMPUTED_GOTO 1
#else
#define BPFVM_COMPUTED_GOTO 0
#endif

namespace bpfvm {
namespace {

using detail::access_error;
using detail::CodeInsn;
using detail::misaligned_atomic_error;
using detail::RunState;

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using s8 = std::int8_t;
using s16 = std::int16_t;
using s32 = std::int32_t;
using s64 = std::int64_t;

static_assert(std::endian::native == std::endian::little,
              "the interpreter assumes a little-endian host, as eBPF's usual targets are");

template <class T>
T load_from(u64 address) {
  T value;
  std::memcpy(&value, reinterpret_cast<const void*>(address), sizeof value);
  return value;
}

template <class T>
void store_to(u64 address, T value) {
  std::memcpy(reinterpret_cast<void*>(address), &value, sizeof value);
}

// RFC 9669 section 4.1: division by zero yields zero, modulo by zero leaves dst unchanged,
// and the signed forms of INT_MIN / -1 wrap (quotient INT_MIN, remainder 0).
template <class S>
S signed_div(S dividend, S divisor) {
  using U = std::make_unsigned_t<S>;
  if (divisor == 0) return 0;
  if (divisor == -1) return static_cast<S>(U{0} - static_cast<U>(dividend));
  return dividend / divisor;
}

template <class S>
S signed_mod(S dividend, S divisor) {
  if (divisor == 0) return dividend;
  if (divisor == -1) return 0;
  return dividend % divisor;
}

// LD_ABS/LD_IND (RFC 9669 section 5.5, Linux semantics): a big-endian load from the packet;
// false when [offset, offset + size) is not inside it.
bool load_packet(std::span<const u8> packet, s64 offset, int size, u64& out) {
  if (offset < 0 || static_cast<u64>(offset) + static_cast<u64>(size) > packet.size()) return false;
  u64 value = 0;
  for (int i = 0; i < size; ++i)
    value = (value << 8) | packet[static_cast<std::size_t>(offset) + i];
  out = value;
  return true;
}

// LD_ABS / LD_IND out of the packet: the program ends with r0 = 0 (Linux), even when the
// load is in a callback.
[[gnu::cold]] Result<u64> packet_end(RunState& state) {
  state.end_requested = true;
  return u64{0};
}

// The errors of checked mode, built out of line from the instruction that failed: the
// handlers only jump to one cold block, so no error's arguments stay live in the hot loop.
// `base_value` is the register the address was computed from (dst for stores and atomics).
[[gnu::cold, gnu::noinline]] Error access_fault_error(const RunState& state, std::size_t index,
                                                      const CodeInsn& insn, u64 base_value) {
  const OpcodeInfo& row = info(insn.op);
  const bool is_load = row.shape == Shape::Load;
  const int size = access_size(row);
  const u64 address = base_value + static_cast<u64>(insn.offset);
  if (row.shape == Shape::Atomic && state.admits(address, static_cast<std::size_t>(size), true))
    return misaligned_atomic_error(index, address, size);
  const char* what = is_load ? "load" : row.shape == Shape::Atomic ? "atomic" : "store";
  return access_error(state, index, what, address, size, !is_load, is_load ? insn.src : insn.dst,
                      insn.offset);
}

// Zeroes one stack frame. Through the C library's memset, not GCC's inline `rep stosq` for a
// constant size: that costs more than the rest of a short run's set-up on current x86 cores,
// and libc's vector stores do 512 bytes in a few cycles. The empty asm hides the constant.
inline void zero_frame(void* frame) {
  std::size_t size = stack_frame_size;
  asm("" : "+r"(size));
  std::memset(frame, 0, size);
}

struct Frame {
  const CodeInsn* return_to;
  u64 callee_saved[4];  // r6-r9
};

// Runs `code` from slot `entry` with r1-r5 from `args` and r10 = `frame` until the function
// entered there returns: the whole program for a run, one callback for a helper (bpf_loop).
// Shares `state` (regions, stack frames, budget) with whoever called it.
template <bool kChecked, bool kBudget>
Result<u64> execute(RunState& state, const u64 (&args)[5], u64 frame, std::size_t entry) {
  u64 reg[register_count] = {0, args[0], args[1], args[2], args[3], args[4], 0, 0, 0, 0, frame};
  const detail::Code& code = *state.code;
  Frame frames[max_call_frames];
  std::size_t depth = 0;  // frames below the current one, in this activation
  // Frames of the activations below (a callback runs below its caller's frames).
  const std::size_t depth_base = (state.stack_end - reg[frame_pointer]) / stack_frame_size;
  u64 budget = state.budget;

  const CodeInsn* const base = code.slots.data();
  const CodeInsn* pc = base + entry;
// The current instruction's index, for errors. A macro rather than a lambda capturing `pc` by
// reference: taking pc's address makes GCC keep it in memory across every handler.
#define INDEX static_cast<std::size_t>(pc - base)

// Shorthands for the handlers below; `pc` is the current instruction.
#define DST reg[pc->dst]
#define SRC reg[pc->src]
#define IMM pc->imm
#define DST32 static_cast<u32>(reg[pc->dst])
#define SRC32 static_cast<u32>(reg[pc->src])
#define IMM32 static_cast<u32>(pc->imm)

// A refused access jumps to the one cold block at the end (access_fault_error rebuilds the
// details from the instruction), so the handlers keep no error path of their own.
#define CHECK_ACCESS(address, size, write)                      \
  if constexpr (kChecked) {                                     \
    if (!state.admits((address), (size), (write))) [[unlikely]] \
      goto access_fault;                                        \
  }
#define LOAD(T, ext)                                                 \
  {                                                                  \
    u64 address = SRC + static_cast<u64>(pc->offset);                \
    CHECK_ACCESS(address, sizeof(T), false)                          \
    DST = static_cast<u64>(static_cast<ext>(load_from<T>(address))); \
    NEXT;                                                            \
  }
#define STORE(T, value)                               \
  {                                                   \
    u64 address = DST + static_cast<u64>(pc->offset); \
    CHECK_ACCESS(address, sizeof(T), true)            \
    store_to<T>(address, static_cast<T>(value));      \
    NEXT;                                             \
  }
#define ATOMIC_ADDRESS(T)                           \
  u64 address = DST + static_cast<u64>(pc->offset); \
  CHECK_ACCESS(address, sizeof(T), true)            \
  if constexpr (kChecked) {                         \
    if (address % sizeof(T) != 0) [[unlikely]]      \
      goto access_fault;                            \
  }                                                 \
  T* target = reinterpret_cast<T*>(address);
#define ATOMIC(T, builtin, fetch)                                   \
  {                                                                 \
    ATOMIC_ADDRESS(T)                                               \
    T old = builtin(target, static_cast<T>(SRC), __ATOMIC_SEQ_CST); \
    if (fetch) SRC = old;                                           \
    NEXT;                                                           \
  }
#define CMPXCHG(T)                                                                               \
  {                                                                                              \
    ATOMIC_ADDRESS(T)                                                                            \
    T expected = static_cast<T>(reg[0]);                                                         \
    __atomic_compare_exchange_n(target, &expected, static_cast<T>(SRC), false, __ATOMIC_SEQ_CST, \
                                __ATOMIC_SEQ_CST);                                               \
    reg[0] = expected;                                                                           \
    NEXT;                                                                                        \
  }
#define JUMP_IF(condition)    \
  {                           \
    if (condition) {          \
      pc = base + pc->target; \
      DISPATCH();             \
    }                         \
    NEXT;                     \
  }
#define PACKET_LOAD(size, offset_expr)                                               \
  {                                                                                  \
    u64 value;                                                                       \
    if (!load_packet(state.packet, (offset_expr), (size), value)) goto packet_fault; \
    reg[0] = value;                                                                  \
    NEXT;                                                                            \
  }

// What helpers see of the run at a call: the calling frame and the budget left.
#define PUBLISH                             \
  state.frame_pointer = reg[frame_pointer]; \
  state.budget = budget;

#define BUDGET_STEP               \
  if constexpr (kBudget) {        \
    if (budget == 0) [[unlikely]] \
      goto budget_fault;          \
    --budget;                     \
  }

#if BPFVM_COMPUTED_GOTO
  static constexpr void* dispatch_table[] = {
#define BPFVM_OPCODE(id, opcode, variant, value, mnemonic, shape, group, cpu) &&op_##id,
#include "isa/opcodes.def"
#undef BPFVM_OPCODE
  };
#define CASE(id) op_##id:
#define DISPATCH()                                          \
  do {                                                      \
    BUDGET_STEP                                             \
    goto* dispatch_table[static_cast<std::size_t>(pc->op)]; \
  } while (0)
#else
#define CASE(id) case Op::id:
// A goto, not `continue`: NEXT wraps DISPATCH in do/while(0), where `continue` would only
// leave the do/while and fall into the next case.
#define DISPATCH() goto dispatch
#endif
#define NEXT    \
  do {          \
    ++pc;       \
    DISPATCH(); \
  } while (0)

#if BPFVM_COMPUTED_GOTO
  DISPATCH();
  {
#else
  {
  dispatch:
    BUDGET_STEP
    switch (pc->op) {
#endif
    // clang-format off
    CASE(ADD64_IMM)  DST += static_cast<u64>(IMM); NEXT;
    CASE(ADD64_REG)  DST += SRC; NEXT;
    CASE(SUB64_IMM)  DST -= static_cast<u64>(IMM); NEXT;
    CASE(SUB64_REG)  DST -= SRC; NEXT;
    CASE(MUL64_IMM)  DST *= static_cast<u64>(IMM); NEXT;
    CASE(MUL64_REG)  DST *= SRC; NEXT;
    CASE(DIV64_IMM)  DST = IMM == 0 ? 0 : DST / static_cast<u64>(IMM); NEXT;
    CASE(DIV64_REG)  DST = SRC == 0 ? 0 : DST / SRC; NEXT;
    CASE(SDIV64_IMM) DST = static_cast<u64>(signed_div<s64>(static_cast<s64>(DST), IMM)); NEXT;
    CASE(SDIV64_REG) DST = static_cast<u64>(signed_div<s64>(static_cast<s64>(DST), static_cast<s64>(SRC))); NEXT;
    CASE(OR64_IMM)   DST |= static_cast<u64>(IMM); NEXT;
    CASE(OR64_REG)   DST |= SRC; NEXT;
    CASE(AND64_IMM)  DST &= static_cast<u64>(IMM); NEXT;
    CASE(AND64_REG)  DST &= SRC; NEXT;
    CASE(LSH64_IMM)  DST <<= (IMM & 63); NEXT;
    CASE(LSH64_REG)  DST <<= (SRC & 63); NEXT;
    CASE(RSH64_IMM)  DST >>= (IMM & 63); NEXT;
    CASE(RSH64_REG)  DST >>= (SRC & 63); NEXT;
    CASE(MOD64_IMM)  DST = IMM == 0 ? DST : DST % static_cast<u64>(IMM); NEXT;
    CASE(MOD64_REG)  DST = SRC == 0 ? DST : DST % SRC; NEXT;
    CASE(SMOD64_IMM) DST = static_cast<u64>(signed_mod<s64>(static_cast<s64>(DST), IMM)); NEXT;
    CASE(SMOD64_REG) DST = static_cast<u64>(signed_mod<s64>(static_cast<s64>(DST), static_cast<s64>(SRC))); NEXT;
    CASE(XOR64_IMM)  DST ^= static_cast<u64>(IMM); NEXT;
    CASE(XOR64_REG)  DST ^= SRC; NEXT;
    CASE(MOV64_IMM)  DST = static_cast<u64>(IMM); NEXT;
    CASE(MOV64_REG)  DST = SRC; NEXT;
    CASE(MOVSX8_64)  DST = static_cast<u64>(static_cast<s64>(static_cast<s8>(SRC))); NEXT;
    CASE(MOVSX16_64) DST = static_cast<u64>(static_cast<s64>(static_cast<s16>(SRC))); NEXT;
    CASE(MOVSX32_64) DST = static_cast<u64>(static_cast<s64>(static_cast<s32>(SRC))); NEXT;
    CASE(ARSH64_IMM) DST = static_cast<u64>(static_cast<s64>(DST) >> (IMM & 63)); NEXT;
    CASE(ARSH64_REG) DST = static_cast<u64>(static_cast<s64>(DST) >> (SRC & 63)); NEXT;
    CASE(NEG64)      DST = u64{0} - DST; NEXT;

    CASE(ADD32_IMM)  DST = static_cast<u32>(DST32 + IMM32); NEXT;
    CASE(ADD32_REG)  DST = static_cast<u32>(DST32 + SRC32); NEXT;
    CASE(SUB32_IMM)  DST = static_cast<u32>(DST32 - IMM32); NEXT;
    CASE(SUB32_REG)  DST = static_cast<u32>(DST32 - SRC32); NEXT;
    CASE(MUL32_IMM)  DST = static_cast<u32>(DST32 * IMM32); NEXT;
    CASE(MUL32_REG)  DST = static_cast<u32>(DST32 * SRC32); NEXT;
    CASE(DIV32_IMM)  DST = IMM32 == 0 ? 0 : DST32 / IMM32; NEXT;
    CASE(DIV32_REG)  DST = SRC32 == 0 ? 0 : DST32 / SRC32; NEXT;
    CASE(SDIV32_IMM) DST = static_cast<u32>(signed_div<s32>(static_cast<s32>(DST32), static_cast<s32>(IMM32))); NEXT;
    CASE(SDIV32_REG) DST = static_cast<u32>(signed_div<s32>(static_cast<s32>(DST32), static_cast<s32>(SRC32))); NEXT;
    CASE(OR32_IMM)   DST = DST32 | IMM32; NEXT;
    CASE(OR32_REG)   DST = DST32 | SRC32; NEXT;
    CASE(AND32_IMM)  DST = DST32 & IMM32; NEXT;
    CASE(AND32_REG)  DST = DST32 & SRC32; NEXT;
    CASE(LSH32_IMM)  DST = static_cast<u32>(DST32 << (IMM32 & 31)); NEXT;
    CASE(LSH32_REG)  DST = static_cast<u32>(DST32 << (SRC32 & 31)); NEXT;
    CASE(RSH32_IMM)  DST = DST32 >> (IMM32 & 31); NEXT;
    CASE(RSH32_REG)  DST = DST32 >> (SRC32 & 31); NEXT;
    CASE(MOD32_IMM)  DST = IMM32 == 0 ? DST32 : DST32 % IMM32; NEXT;
    CASE(MOD32_REG)  DST = SRC32 == 0 ? DST32 : DST32 % SRC32; NEXT;
    CASE(SMOD32_IMM) DST = static_cast<u32>(signed_mod<s32>(static_cast<s32>(DST32), static_cast<s32>(IMM32))); NEXT;
    CASE(SMOD32_REG) DST = static_cast<u32>(signed_mod<s32>(static_cast<s32>(DST32), static_cast<s32>(SRC32))); NEXT;
    CASE(XOR32_IMM)  DST = DST32 ^ IMM32; NEXT;
    CASE(XOR32_REG)  DST = DST32 ^ SRC32; NEXT;
    CASE(MOV32_IMM)  DST = IMM32; NEXT;
    CASE(MOV32_REG)  DST = SRC32; NEXT;
    CASE(MOVSX8_32)  DST = static_cast<u32>(static_cast<s32>(static_cast<s8>(SRC))); NEXT;
    CASE(MOVSX16_32) DST = static_cast<u32>(static_cast<s32>(static_cast<s16>(SRC))); NEXT;
    CASE(ARSH32_IMM) DST = static_cast<u32>(static_cast<s32>(DST32) >> (IMM32 & 31)); NEXT;
    CASE(ARSH32_REG) DST = static_cast<u32>(static_cast<s32>(DST32) >> (SRC32 & 31)); NEXT;
    CASE(NEG32)      DST = static_cast<u32>(u32{0} - DST32); NEXT;

    // Byte order (RFC 9669 section 4.2). The host is little-endian: `le` only truncates.
    CASE(LE16)       DST = static_cast<u16>(DST); NEXT;
    CASE(LE32)       DST = static_cast<u32>(DST); NEXT;
    CASE(LE64)       NEXT;
    CASE(BE16)       DST = __builtin_bswap16(static_cast<u16>(DST)); NEXT;
    CASE(BE32)       DST = __builtin_bswap32(static_cast<u32>(DST)); NEXT;
    CASE(BE64)       DST = __builtin_bswap64(DST); NEXT;
    CASE(BSWAP16)    DST = __builtin_bswap16(static_cast<u16>(DST)); NEXT;
    CASE(BSWAP32)    DST = __builtin_bswap32(static_cast<u32>(DST)); NEXT;
    CASE(BSWAP64)    DST = __builtin_bswap64(DST); NEXT;

    CASE(LDDW)       DST = static_cast<u64>(IMM); pc += 2; DISPATCH();

    CASE(LDXW)       LOAD(u32, u32)
    CASE(LDXH)       LOAD(u16, u16)
    CASE(LDXB)       LOAD(u8, u8)
    CASE(LDXDW)      LOAD(u64, u64)
    CASE(LDXSW)      LOAD(s32, s64)
    CASE(LDXSH)      LOAD(s16, s64)
    CASE(LDXSB)      LOAD(s8, s64)
    CASE(STW)        STORE(u32, IMM)
    CASE(STH)        STORE(u16, IMM)
    CASE(STB)        STORE(u8, IMM)
    CASE(STDW)       STORE(u64, IMM)
    CASE(STXW)       STORE(u32, SRC)
    CASE(STXH)       STORE(u16, SRC)
    CASE(STXB)       STORE(u8, SRC)
    CASE(STXDW)      STORE(u64, SRC)

    CASE(ATOMIC32_ADD)       ATOMIC(u32, __atomic_fetch_add, false)
    CASE(ATOMIC32_FETCH_ADD) ATOMIC(u32, __atomic_fetch_add, true)
    CASE(ATOMIC32_OR)        ATOMIC(u32, __atomic_fetch_or, false)
    CASE(ATOMIC32_FETCH_OR)  ATOMIC(u32, __atomic_fetch_or, true)
    CASE(ATOMIC32_AND)       ATOMIC(u32, __atomic_fetch_and, false)
    CASE(ATOMIC32_FETCH_AND) ATOMIC(u32, __atomic_fetch_and, true)
    CASE(ATOMIC32_XOR)       ATOMIC(u32, __atomic_fetch_xor, false)
    CASE(ATOMIC32_FETCH_XOR) ATOMIC(u32, __atomic_fetch_xor, true)
    CASE(ATOMIC32_XCHG)      ATOMIC(u32, __atomic_exchange_n, true)
    CASE(ATOMIC32_CMPXCHG)   CMPXCHG(u32)
    CASE(ATOMIC64_ADD)       ATOMIC(u64, __atomic_fetch_add, false)
    CASE(ATOMIC64_FETCH_ADD) ATOMIC(u64, __atomic_fetch_add, true)
    CASE(ATOMIC64_OR)        ATOMIC(u64, __atomic_fetch_or, false)
    CASE(ATOMIC64_FETCH_OR)  ATOMIC(u64, __atomic_fetch_or, true)
    CASE(ATOMIC64_AND)       ATOMIC(u64, __atomic_fetch_and, false)
    CASE(ATOMIC64_FETCH_AND) ATOMIC(u64, __atomic_fetch_and, true)
    CASE(ATOMIC64_XOR)       ATOMIC(u64, __atomic_fetch_xor, false)
    CASE(ATOMIC64_FETCH_XOR) ATOMIC(u64, __atomic_fetch_xor, true)
    CASE(ATOMIC64_XCHG)      ATOMIC(u64, __atomic_exchange_n, true)
    CASE(ATOMIC64_CMPXCHG)   CMPXCHG(u64)

    // Legacy packet loads: the offset is computed in 32 bits, as Linux's bpf_gen_ld_abs.
    CASE(LDABSW)     PACKET_LOAD(4, static_cast<s32>(IMM32))
    CASE(LDABSH)     PACKET_LOAD(2, static_cast<s32>(IMM32))
    CASE(LDABSB)     PACKET_LOAD(1, static_cast<s32>(IMM32))
    CASE(LDINDW)     PACKET_LOAD(4, static_cast<s32>(SRC32 + IMM32))
    CASE(LDINDH)     PACKET_LOAD(2, static_cast<s32>(SRC32 + IMM32))
    CASE(LDINDB)     PACKET_LOAD(1, static_cast<s32>(SRC32 + IMM32))

    CASE(JA)         pc = base + pc->target; DISPATCH();
    CASE(JA32)       pc = base + pc->target; DISPATCH();
    CASE(JEQ64_IMM)  JUMP_IF(DST == static_cast<u64>(IMM))
    CASE(JEQ64_REG)  JUMP_IF(DST == SRC)
    CASE(JGT64_IMM)  JUMP_IF(DST > static_cast<u64>(IMM))
    CASE(JGT64_REG)  JUMP_IF(DST > SRC)
    CASE(JGE64_IMM)  JUMP_IF(DST >= static_cast<u64>(IMM))
    CASE(JGE64_REG)  JUMP_IF(DST >= SRC)
    CASE(JSET64_IMM) JUMP_IF((DST & static_cast<u64>(IMM)) != 0)
    CASE(JSET64_REG) JUMP_IF((DST & SRC) != 0)
    CASE(JNE64_IMM)  JUMP_IF(DST != static_cast<u64>(IMM))
    CASE(JNE64_REG)  JUMP_IF(DST != SRC)
    CASE(JSGT64_IMM) JUMP_IF(static_cast<s64>(DST) > IMM)
    CASE(JSGT64_REG) JUMP_IF(static_cast<s64>(DST) > static_cast<s64>(SRC))
    CASE(JSGE64_IMM) JUMP_IF(static_cast<s64>(DST) >= IMM)
    CASE(JSGE64_REG) JUMP_IF(static_cast<s64>(DST) >= static_cast<s64>(SRC))
    CASE(JLT64_IMM)  JUMP_IF(DST < static_cast<u64>(IMM))
    CASE(JLT64_REG)  JUMP_IF(DST < SRC)
    CASE(JLE64_IMM)  JUMP_IF(DST <= static_cast<u64>(IMM))
    CASE(JLE64_REG)  JUMP_IF(DST <= SRC)
    CASE(JSLT64_IMM) JUMP_IF(static_cast<s64>(DST) < IMM)
    CASE(JSLT64_REG) JUMP_IF(static_cast<s64>(DST) < static_cast<s64>(SRC))
    CASE(JSLE64_IMM) JUMP_IF(static_cast<s64>(DST) <= IMM)
    CASE(JSLE64_REG) JUMP_IF(static_cast<s64>(DST) <= static_cast<s64>(SRC))
    CASE(JEQ32_IMM)  JUMP_IF(DST32 == IMM32)
    CASE(JEQ32_REG)  JUMP_IF(DST32 == SRC32)
    CASE(JGT32_IMM)  JUMP_IF(DST32 > IMM32)
    CASE(JGT32_REG)  JUMP_IF(DST32 > SRC32)
    CASE(JGE32_IMM)  JUMP_IF(DST32 >= IMM32)
    CASE(JGE32_REG)  JUMP_IF(DST32 >= SRC32)
    CASE(JSET32_IMM) JUMP_IF((DST32 & IMM32) != 0)
    CASE(JSET32_REG) JUMP_IF((DST32 & SRC32) != 0)
    CASE(JNE32_IMM)  JUMP_IF(DST32 != IMM32)
    CASE(JNE32_REG)  JUMP_IF(DST32 != SRC32)
    CASE(JSGT32_IMM) JUMP_IF(static_cast<s32>(DST32) > static_cast<s32>(IMM32))
    CASE(JSGT32_REG) JUMP_IF(static_cast<s32>(DST32) > static_cast<s32>(SRC32))
    CASE(JSGE32_IMM) JUMP_IF(static_cast<s32>(DST32) >= static_cast<s32>(IMM32))
    CASE(JSGE32_REG) JUMP_IF(static_cast<s32>(DST32) >= static_cast<s32>(SRC32))
    CASE(JLT32_IMM)  JUMP_IF(DST32 < IMM32)
    CASE(JLT32_REG)  JUMP_IF(DST32 < SRC32)
    CASE(JLE32_IMM)  JUMP_IF(DST32 <= IMM32)
    CASE(JLE32_REG)  JUMP_IF(DST32 <= SRC32)
    CASE(JSLT32_IMM) JUMP_IF(static_cast<s32>(DST32) < static_cast<s32>(IMM32))
    CASE(JSLT32_REG) JUMP_IF(static_cast<s32>(DST32) < static_cast<s32>(SRC32))
    CASE(JSLE32_IMM) JUMP_IF(static_cast<s32>(DST32) <= static_cast<s32>(IMM32))
    CASE(JSLE32_REG) JUMP_IF(static_cast<s32>(DST32) <= static_cast<s32>(SRC32))
        // clang-format on

        CASE(CALL_HELPER) {
      const Helper* helper = pc->helper;
      HelperCall call(state, helper->user);
      PUBLISH;
      reg[0] = helper->function(call, reg[1], reg[2], reg[3], reg[4], reg[5]);
      budget = state.budget;
      if (state.helper_failure || state.end_requested) [[unlikely]]
        goto helper_stop;
      NEXT;
    }
    CASE(CALLX) {
      // An id above 32 bits names no helper; it must not wrap onto one that exists.
      const Helper* helper = DST > UINT32_MAX ? nullptr : code.helpers.find(static_cast<u32>(DST));
      if (helper == nullptr) [[unlikely]]
        goto callx_fault;
      HelperCall call(state, helper->user);
      PUBLISH;
      reg[0] = helper->function(call, reg[1], reg[2], reg[3], reg[4], reg[5]);
      budget = state.budget;
      if (state.helper_failure || state.end_requested) [[unlikely]]
        goto helper_stop;
      NEXT;
    }
    CASE(CALL_BTF) {
      // Program::load refuses unresolved BTF calls, so this cannot be reached.
      return insn_error(Error::Kind::invalid_program, INDEX, "call btf is not resolved");
    }
    CASE(CALL_LOCAL) {
      if (depth_base + depth + 1 >= max_call_frames) [[unlikely]]
        goto call_depth_fault;
      Frame& frame = frames[depth++];
      frame.return_to = pc + 1;
      std::memcpy(frame.callee_saved, &reg[6], sizeof frame.callee_saved);
      reg[frame_pointer] -= stack_frame_size;
      state.stack_begin -= stack_frame_size;
      if constexpr (kChecked) zero_frame(reinterpret_cast<void*>(state.stack_begin));
      pc = base + pc->target;
      DISPATCH();
    }
    CASE(EXIT) {
    exit_frame:
      if (depth == 0) {
        state.budget = budget;
        return reg[0];
      }
      Frame& frame = frames[--depth];
      std::memcpy(&reg[6], frame.callee_saved, sizeof frame.callee_saved);
      reg[frame_pointer] += stack_frame_size;
      state.stack_begin += stack_frame_size;
      pc = frame.return_to;
      DISPATCH();
    }
#if !BPFVM_COMPUTED_GOTO
  }
#endif
}

helper_stop : if (state.pending_error) return *state.pending_error;
if (state.helper_failure) return detail::helper_failed_error(INDEX, *state.helper_failure);
if (state.frame_return) {
  // bpf_tail_call from a subprogram ran its target in this frame: the subprogram returns
  // the target's r0 to its caller.
  reg[0] = *state.frame_return;
  state.frame_return.reset();
  state.end_requested = false;
  goto exit_frame;
}
state.budget = budget;
return reg[0];

// The cold exits: every handler's failure jumps here rather than returning on the spot.
packet_fault : __attribute__((unused));
return packet_end(state);
budget_fault : __attribute__((unused));
return detail::budget_error(INDEX, state.budget_limit);
call_depth_fault : __attribute__((unused));
return detail::call_depth_error(INDEX);
callx_fault : __attribute__((unused));
return detail::callx_unknown_error(INDEX, pc->dst, DST);
access_fault : __attribute__((unused));
if constexpr (kChecked) {
  const OpcodeInfo& row = info(pc->op);
  return access_fault_error(state, INDEX, *pc, row.shape == Shape::Load ? SRC : DST);
}
// Unchecked code never jumps here.
return u64{0};

#undef DST
#undef SRC
#undef IMM
#undef DST32
#undef SRC32
#undef IMM32
#undef CHECK_ACCESS
#undef LOAD
#undef STORE
#undef ATOMIC_ADDRESS
#undef ATOMIC
#undef CMPXCHG
#undef JUMP_IF
#undef PACKET_LOAD
#undef BUDGET_STEP
#undef PUBLISH
#undef INDEX
#undef CASE
#undef DISPATCH
#undef NEXT
}

template <bool kChecked, bool kBudget>
Result<u64> run(const detail::Code& code, const RunInput& input, const RunOptions& options) {
  RunState state;
  alignas(16) u8 stack[max_call_frames * stack_frame_size];
  auto stack_top = reinterpret_cast<std::uintptr_t>(stack) + sizeof stack;
  state.stack_floor = reinterpret_cast<std::uintptr_t>(stack);
  state.stack_end = stack_top;
  state.stack_begin = stack_top - stack_frame_size;
  state.entry_frame = stack_top;
  // Regions are admitted in both modes: helpers ask HelperCall::accessible either way.
  auto add_region = [&](const void* base, std::size_t size, bool writable) {
    if (base == nullptr || size == 0) return;
    auto begin = reinterpret_cast<std::uintptr_t>(base);
    state.regions.push_back({begin, begin + size, writable});
  };
  state.context = input.context;
  add_region(input.context, input.context_size, input.context_writable);
  // A raw run's packet is its context: admitting the same bytes twice would only slow checks.
  if (input.packet.data() != input.context || input.packet.size() > input.context_size)
    add_region(input.packet.data(), input.packet.size(), false);
  for (const MemoryRegion& region : options.regions)
    add_region(region.base, region.size, region.writable);
  state.code = &code;
  state.input = &input;
  state.packet = input.packet;
  state.checked = kChecked;
  state.budgeted = kBudget;
  state.budget = options.budget.value_or(0);
  state.budget_limit = state.budget;
  detail::RunGuard guard;
  guard.enter(state, code);
  // Checked mode runs programs nobody has proven safe, which may read stack they never
  // wrote: each frame starts zeroed so that nothing of earlier runs or of the host leaks.
  if constexpr (kChecked) zero_frame(stack + sizeof stack - stack_frame_size);

  const u64 args[5] = {reinterpret_cast<u64>(input.context), input.r2, 0, 0, 0};
  Result<u64> result = execute<kChecked, kBudget>(state, args, stack_top, 0);
  if (result && state.tail_call) [[unlikely]]
    return detail::run_tail_calls(state, guard);
  return result;
}

Result<u64> execute_any(RunState& state, const u64 (&args)[5], u64 frame, std::size_t entry) {
  if (state.checked)
    return state.budgeted ? execute<true, true>(state, args, frame, entry)
                          : execute<true, false>(state, args, frame, entry);
  return state.budgeted ? execute<false, true>(state, args, frame, entry)
                        : execute<false, false>(state, args, frame, entry);
}

}  // namespace

namespace detail {

Result<u64> run_function(RunState& state, std::size_t entry, const u64 (&args)[5]) {
  // The callback's frame lies below the calling one; it is one frame too many when it would
  // begin below the stack area (max_call_frames, the entry frame included, as local calls).
  const u64 frame = state.frame_pointer - stack_frame_size;
  if (frame < state.stack_floor + stack_frame_size) return detail::call_depth_error(entry);
  const std::uintptr_t saved_begin = state.stack_begin;
  const u64 saved_frame = state.frame_pointer;
  state.stack_begin = frame - stack_frame_size;
  if (state.checked) zero_frame(reinterpret_cast<void*>(state.stack_begin));
  ++state.callback_depth;
  Result<u64> result = execute_any(state, args, frame, entry);
  --state.callback_depth;
  state.stack_begin = saved_begin;
  state.frame_pointer = saved_frame;
  return result;
}

Result<u64> run_tail_call_in_frame(RunState& state, const Program& target) {
  const Code* saved_code = state.code;
  const std::uintptr_t saved_begin = state.stack_begin;
  const u64 saved_entry = state.entry_frame;
  const u64 frame = state.frame_pointer;
  // Admits the targets' global data and pins map values while they run.
  RunGuard guard;
  std::optional<Program> current = target;
  Result<u64> result = u64{0};
  while (current) {
    state.code = &current->code();
    guard.enter(state, *state.code);
    state.entry_frame = frame;
    state.stack_begin = frame - stack_frame_size;
    if (state.checked) zero_frame(reinterpret_cast<void*>(state.stack_begin));
    const u64 args[5] = {reinterpret_cast<u64>(state.input->context), state.input->r2, 0, 0, 0};
    result = execute_any(state, args, frame, 0);
    // A target's own tail call from its entry frame continues the chain here.
    std::optional<Program> next = std::move(state.tail_call);
    state.tail_call.reset();
    state.end_requested = false;
    if (!result) break;
    current = std::move(next);
  }
  state.code = saved_code;
  state.stack_begin = saved_begin;
  state.entry_frame = saved_entry;
  state.frame_pointer = frame;
  return result;
}

Result<u64> run_tail_calls(RunState& state, RunGuard& guard) {
  Result<u64> result = u64{0};
  while (state.tail_call) {
    // Linux reuses the frame and passes the context in r1; the other registers are unknown
    // to the target, here zero (and r2 the raw program's length, as at entry).
    state.tail_called = std::move(state.tail_call);
    state.tail_call.reset();
    state.end_requested = false;
    state.code = &state.tail_called->code();
    guard.enter(state, *state.code);
    state.stack_begin = state.stack_end - stack_frame_size;
    state.entry_frame = state.stack_end;
    if (state.checked) zero_frame(reinterpret_cast<void*>(state.stack_begin));
    const u64 args[5] = {reinterpret_cast<u64>(state.input->context), state.input->r2, 0, 0, 0};
    result = execute_any(state, args, state.stack_end, 0);
    if (!result) return result;
  }
  return result;
}

}  // namespace detail

RunInput RunInput::raw(std::span<std::uint8_t> memory) {
  RunInput input;
  input.context = memory.empty() ? nullptr : memory.data();
  input.context_size = memory.size();
  input.r2 = memory.size();
  input.packet = memory;
  return input;
}

Result<std::uint64_t> interpret(const Program& program, const RunInput& input,
                                const RunOptions& options) {
  const detail::Code& code = program.code();
  bool checked = options.memory_mode == MemoryMode::checked;
  bool budgeted = options.budget.has_value();
  if (checked)
    return budgeted ? run<true, true>(code, input, options)
                    : run<true, false>(code, input, options);
  return budgeted ? run<false, true>(code, input, options)
                  : run<false, false>(code, input, options);
}

}  // namespace bpfvm
