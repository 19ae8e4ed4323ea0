// The LLVM/kernel disassembly syntax, byte-exact: one instruction per line of the table.
//
// Rows marked llvm14 are what `llvm-objdump -d` (LLVM 14.0.6) prints for the same bytes, and
// llvm14_alu32 what it prints with `--mattr=+alu32`; they were checked by assembling the words
// with `llvm-mc -triple bpfel` (`.quad 0x...`) and disassembling. Rows marked later_llvm are
// instructions llvm-objdump 14 cannot decode (`<unknown>`), written as LLVM 17 and later write
// them; rows marked ours have no faithful LLVM form (see src/isa/llvm_syntax.hpp).
#include <bpfvm/disassembler.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

enum class Reference { llvm14, llvm14_alu32, later_llvm, ours };

struct LlvmCase {
  std::vector<std::uint64_t> words;  // little-endian instruction words, opcode in the low byte
  const char* expected;
  Reference reference;
};

Insn from_word(std::uint64_t word) {
  Insn insn;
  insn.opcode = static_cast<std::uint8_t>(word);
  insn.dst = static_cast<std::uint8_t>((word >> 8) & 0xf);
  insn.src = static_cast<std::uint8_t>((word >> 12) & 0xf);
  insn.offset = static_cast<std::int16_t>(word >> 16);
  insn.imm = static_cast<std::int32_t>(word >> 32);
  return insn;
}

using enum Reference;

// clang-format off
const LlvmCase llvm_cases[] = {
    {{0x00000001000000b7}, "r0 = 1", llvm14},
    {{0x00000001000000b4}, "w0 = 1", llvm14},
    {{0xffffffff000001b4}, "w1 = -1", llvm14},
    {{0x7fffffff000001b7}, "r1 = 2147483647", llvm14},
    {{0x80000000000001b7}, "r1 = -2147483648", llvm14},
    {{0x00000000000021bf}, "r1 = r2", llvm14},
    {{0x00000000000021bc}, "w1 = w2", llvm14},
    {{0x000000000000100f}, "r0 += r1", llvm14},
    {{0x8000000000000107}, "r1 += -2147483648", llvm14},
    {{0x000000000000210c}, "w1 += w2", llvm14},
    {{0x0000000500000014}, "w0 -= 5", llvm14},
    {{0xfffffff900000124}, "w1 *= -7", llvm14},
    {{0x000000000000212c}, "w1 *= w2", llvm14},
    {{0x000000000000103f}, "r0 /= r1", llvm14},
    {{0x0000000000000134}, "w1 /= 0", llvm14},
    {{0x7fffffff00000147}, "r1 |= 2147483647", llvm14},
    {{0x0000000500000144}, "w1 |= 5", llvm14},
    {{0x0000000500000154}, "w1 &= 5", llvm14},
    {{0x0000000500000164}, "w1 <<= 5", llvm14},
    {{0x0000000500000174}, "w1 >>= 5", llvm14},
    {{0xffffffff000001a4}, "w1 ^= -1", llvm14},
    {{0x00000000000021ac}, "w1 ^= w2", llvm14},
    {{0x00000003000000c7}, "r0 s>>= 3", llvm14},
    {{0x00000003000000c4}, "w0 s>>= 3", llvm14},
    {{0x00000000000010cc}, "w0 s>>= w1", llvm14},
    {{0x0000000000000087}, "r0 = -r0", llvm14},
    {{0x0000000000000084}, "w0 = -w0", llvm14},
    {{0x00000010000000dc}, "r0 = be16 r0", llvm14},
    {{0x00000040000001dc}, "r1 = be64 r1", llvm14},
    {{0x00000020000000d4}, "r0 = le32 r0", llvm14},
    {{0x00000040000001d4}, "r1 = le64 r1", llvm14},
    {{0x0000001000000018, 0x1122334400000000}, "r0 = 1234605615003729936 ll", llvm14},
    {{0xffffffff00000118, 0xffffffff00000000}, "r1 = -1 ll", llvm14},
    {{0x0000000500000118, 0x0000000000000000}, "r1 = 5 ll", llvm14},
    {{0x0000000500001118, 0x0000000000000000}, "ld_pseudo\tr1, 1, 5", llvm14},
    {{0x0000000000021069}, "r0 = *(u16 *)(r1 + 2)", llvm14},
    {{0x0000000000042161}, "r1 = *(u32 *)(r2 + 4)", llvm14},
    {{0x0000000000002171}, "r1 = *(u8 *)(r2 + 0)", llvm14},
    {{0x0000000000ff0179}, "r1 = *(u64 *)(r0 + 255)", llvm14},
    {{0x000000008000a179}, "r1 = *(u64 *)(r10 - 32768)", llvm14},
    {{0x0000000000fca163}, "*(u32 *)(r1 + 252) = r10", llvm14},
    {{0x000000000004216b}, "*(u16 *)(r1 + 4) = r2", llvm14},
    {{0x00000000ffff1a73}, "*(u8 *)(r10 - 1) = r1", llvm14},
    {{0x000000007fff1a7b}, "*(u64 *)(r10 + 32767) = r1", llvm14},
    {{0x00000000fff81adb}, "lock *(u64 *)(r10 - 8) += r1", llvm14},
    {{0x00000040fff821db}, "lock *(u64 *)(r1 - 8) |= r2", llvm14},
    {{0x00000050fff821db}, "lock *(u64 *)(r1 - 8) &= r2", llvm14},
    {{0x000000a0fff821db}, "lock *(u64 *)(r1 - 8) ^= r2", llvm14},
    {{0x00000001fff81adb}, "r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)", llvm14},
    {{0x00000041fff821db}, "r2 = atomic_fetch_or((u64 *)(r1 - 8), r2)", llvm14},
    {{0x00000051fff821db}, "r2 = atomic_fetch_and((u64 *)(r1 - 8), r2)", llvm14},
    {{0x000000a1fff821db}, "r2 = atomic_fetch_xor((u64 *)(r1 - 8), r2)", llvm14},
    {{0x000000e1fff81adb}, "r1 = xchg_64(r10 - 8, r1)", llvm14},
    {{0x000000f1fff810db}, "r0 = cmpxchg_64(r0 - 8, r0, r1)", llvm14},
    {{0x00000000fffc10c3}, "lock *(u32 *)(r0 - 4) += w1", llvm14_alu32},
    {{0x00000040fff821c3}, "lock *(u32 *)(r1 - 8) |= w2", llvm14_alu32},
    {{0x00000050fff821c3}, "lock *(u32 *)(r1 - 8) &= w2", llvm14_alu32},
    {{0x000000a0fff821c3}, "lock *(u32 *)(r1 - 8) ^= w2", llvm14_alu32},
    {{0x00000001fffc10c3}, "w1 = atomic_fetch_add((u32 *)(r0 - 4), w1)", llvm14_alu32},
    {{0x00000041fff821c3}, "w2 = atomic_fetch_or((u32 *)(r1 - 8), w2)", llvm14_alu32},
    {{0x00000051fff821c3}, "w2 = atomic_fetch_and((u32 *)(r1 - 8), w2)", llvm14_alu32},
    {{0x000000a1fff821c3}, "w2 = atomic_fetch_xor((u32 *)(r1 - 8), w2)", llvm14_alu32},
    {{0x000000e1fffc10c3}, "w1 = xchg32_32(r0 - 4, w1)", llvm14_alu32},
    {{0x000000f1fffc10c3}, "w0 = cmpxchg32_32(r0 - 4, w0, w1)", llvm14_alu32},
    {{0x0000000c00000020}, "r0 = *(u32 *)skb[12]", llvm14},
    {{0x0000000c00000028}, "r0 = *(u16 *)skb[12]", llvm14},
    {{0xffffffff00000030}, "r0 = *(u8 *)skb[-1]", llvm14},
    {{0x0000000000001048}, "r0 = *(u16 *)skb[r1]", llvm14},
    {{0x0000000000001050}, "r0 = *(u8 *)skb[r1]", llvm14},
    {{0x0000000000030005}, "goto +3", llvm14},
    {{0x0000000000000005}, "goto +0", llvm14},
    {{0x00000000ffff0005}, "goto -1", llvm14},
    {{0x0000000080000005}, "goto -32768", llvm14},
    {{0x0000000000030115}, "if r1 == 0 goto +3", llvm14},
    {{0xffffffff00030115}, "if r1 == -1 goto +3", llvm14},
    {{0x7fffffff00000115}, "if r1 == 2147483647 goto +0", llvm14},
    {{0x0000000200010125}, "if r1 > 2 goto +1", llvm14},
    {{0x0000000200010135}, "if r1 >= 2 goto +1", llvm14},
    {{0x000000000000215d}, "if r1 != r2 goto +0", llvm14},
    {{0x0000000200010165}, "if r1 s> 2 goto +1", llvm14},
    {{0x0000000200010175}, "if r1 s>= 2 goto +1", llvm14},
    {{0x00000002000101a5}, "if r1 < 2 goto +1", llvm14},
    {{0x00000002000101b5}, "if r1 <= 2 goto +1", llvm14},
    {{0x00000002000101c5}, "if r1 s< 2 goto +1", llvm14},
    {{0x00000002000101d5}, "if r1 s<= 2 goto +1", llvm14},
    {{0xfffffffb00030116}, "if w1 == -5 goto +3", llvm14},
    {{0x8000000000000116}, "if w1 == -2147483648 goto +0", llvm14},
    {{0x00000000fffd211e}, "if w1 == w2 goto -3", llvm14},
    {{0x00000000fffe216e}, "if w1 s> w2 goto -2", llvm14},
    {{0x00000002000101c6}, "if w1 s< 2 goto +1", llvm14},
    {{0x0000000500000085}, "call 5", llvm14},
    {{0x7fffffff00000085}, "call 2147483647", llvm14},
    {{0xffffffff00001085}, "call -1", llvm14},
    {{0x0000000700002085}, "call 7", llvm14},
    {{0x0000000000000095}, "exit", llvm14},
    {{0x0000000300010137}, "r1 s/= 3", later_llvm},
    {{0x000000000001213f}, "r1 s/= r2", later_llvm},
    {{0x0000000300010134}, "w1 s/= 3", later_llvm},
    {{0x0000000300010197}, "r1 s%= 3", later_llvm},
    {{0x000000000001219c}, "w1 s%= w2", later_llvm},
    {{0x00000000000821bf}, "r1 = (s8)r2", later_llvm},
    {{0x00000000002021bf}, "r1 = (s32)r2", later_llvm},
    {{0x00000000001021bc}, "w1 = (s16)w2", later_llvm},
    {{0x00000010000001d7}, "r1 = bswap16 r1", later_llvm},
    {{0x00000040000001d7}, "r1 = bswap64 r1", later_llvm},
    {{0x0000000000002191}, "r1 = *(s8 *)(r2 + 0)", later_llvm},
    {{0x00000000fffe2189}, "r1 = *(s16 *)(r2 - 2)", later_llvm},
    {{0x0000000000042181}, "r1 = *(s32 *)(r2 + 4)", later_llvm},
    {{0x00000005fffc0a62}, "*(u32 *)(r10 - 4) = 5", later_llvm},
    {{0xfffffffffff80a7a}, "*(u64 *)(r10 - 8) = -1", later_llvm},
    {{0x0000000300000006}, "gotol +3", later_llvm},
    {{0x0000000200010145}, "if r1 & 2 goto +1", later_llvm},
    {{0x000000000001214e}, "if w1 & w2 goto +1", later_llvm},
    {{0x0000000500000194}, "w1 %= 5", later_llvm},
    {{0x000000000000219c}, "w1 %= w2", later_llvm},
    {{0x000000000000028d}, "callx r2", ours},
    {{0x0000000400001040}, "r0 = *(u32 *)skb[r1 + 4]", ours},
    {{0xfffffffc00001048}, "r0 = *(u16 *)skb[r1 - 4]", ours},
    {{0xffffffff00002118, 0x0000000100000000}, "ld_pseudo\tr1, 2, 8589934591", ours},
    {{0x00000000000000f0}, ".8byte 0x00000000000000f0", ours},
    {{0x0000000000001007}, ".8byte 0x0000000000001007", ours},
};
// clang-format on

TEST(IsaLlvmSyntax, PrintsEachFormExactly) {
  for (const LlvmCase& c : llvm_cases) {
    std::vector<Insn> insns;
    for (std::uint64_t word : c.words) insns.push_back(from_word(word));
    EXPECT_EQ(disassemble_insn(insns, 0, Syntax::llvm), c.expected)
        << "word 0x" << std::hex << c.words[0];
  }
}

TEST(IsaLlvmSyntax, ProgramIsOneLinePerInstructionWithLddwOnce) {
  std::vector<Insn> insns;
  for (std::uint64_t word : {0x0000000500000118ull, 0ull, 0x00000000000000b7ull, 0x95ull})
    insns.push_back(from_word(word));
  EXPECT_EQ(disassemble(insns, Syntax::llvm), "r1 = 5 ll\nr0 = 0\nexit\n");
}

}  // namespace
}  // namespace bpfvm
