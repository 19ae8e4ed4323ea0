// Byte-exact encodings of the code the JIT emits, one line per case: the instruction in
// assembly, the variant, and the bytes generated for it (the first instruction's code, up
// to where the next instruction begins). The bytes were checked against objdump's
// disassembly when written; they change only when code generation changes on purpose.
//
// BPFVM_JIT_ENCODING_PRINT=1 ./jit_encoding_test prints every case's actual bytes, in the
// table's format, to review a deliberate change.
#include "jit/compiler.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/program.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace bpfvm::jit_test {
namespace {

enum Variant : unsigned { unchecked = 0, checked = 1, counting = 2, blinded = 4 };

struct Case {
  const char* source;  // the instruction under test first; more lines may follow
  unsigned variant;
  const char* bytes;
};

// clang-format off
constexpr Case cases[] = {
  {"add %r1, 5", unchecked, "48 83 c6 05"},  // add rsi,0x5
  {"add %r7, 0x12345", unchecked, "49 81 c5 45 23 01 00"},  // add r13,0x12345
  {"add %r1, %r2", unchecked, "48 01 d6"},  // add rsi,rdx
  {"sub %r9, %r10", unchecked, "49 29 ef"},  // sub r15,rbp
  {"mul %r0, %r6", unchecked, "48 0f af c3"},  // imul rax,rbx
  {"mul %r2, -3", unchecked, "48 6b d2 fd"},  // imul rdx,rdx,0xfffffffffffffffd
  {"or %r4, -1", unchecked, "49 83 c8 ff"},  // or r8,0xffffffffffffffff
  {"and %r5, 0xff", unchecked, "49 81 e1 ff 00 00 00"},  // and r9,0xff
  {"xor %r8, %r8", unchecked, "4d 31 f6"},  // xor r14,r14
  {"mov %r0, 1", unchecked, "b8 01 00 00 00"},  // mov eax,0x1
  {"mov %r0, -1", unchecked, "48 c7 c0 ff ff ff ff"},  // mov rax,0xffffffffffffffff
  {"mov %r1, %r10", unchecked, "48 89 ee"},  // mov rsi,rbp
  {"mov %r1, %r1", unchecked, ""},  // nothing
  {"mov %r1, %r2\nadd %r1, %r3", unchecked, "48 8d 34 0a"},  // lea rsi,[rdx+rcx*1]
  {"mov %r1, %r10\nadd %r1, -8", unchecked, "48 8d 75 f8"},  // lea rsi,[rbp-0x8]
  {"mov %r1, %r2\nadd %r1, %r1", unchecked, "48 8d 34 12"},  // lea rsi,[rdx+rdx*1]
  {"mov %r1, %r2\nadd %r1, 5", counting, "49 83 ac 24 a0 00 00 00 01 0f 82 ?? ?? ?? ?? 48 89 d6"},  // sub QWORD PTR [r12+0xa0],0x1; jb 0x35; mov rsi,rdx
  {"neg %r3", unchecked, "48 f7 d9"},  // neg rcx
  {"lsh %r1, 3", unchecked, "48 c1 e6 03"},  // shl rsi,0x3
  {"lsh %r1, 64", unchecked, ""},  // nothing
  {"rsh %r6, 63", unchecked, "48 c1 eb 3f"},  // shr rbx,0x3f
  {"arsh %r7, 1", unchecked, "49 d1 fd"},  // sar r13,1
  {"lsh %r1, %r3", unchecked, "48 d3 e6"},  // shl rsi,cl
  {"rsh %r1, %r2", unchecked, "49 89 cb 89 d1 48 d3 ee 4c 89 d9"},  // mov r11,rcx; mov ecx,edx; shr rsi,cl; mov rcx,r11
  {"arsh %r3, %r1", unchecked, "49 89 cb 89 f1 49 d3 fb 4c 89 d9"},  // mov r11,rcx; mov ecx,esi; sar r11,cl; mov rcx,r11
  {"add32 %r1, 5", unchecked, "83 c6 05"},  // add esi,0x5
  {"sub32 %r1, %r2", unchecked, "29 d6"},  // sub esi,edx
  {"mul32 %r6, 7", unchecked, "6b db 07"},  // imul ebx,ebx,0x7
  {"mov32 %r1, %r1", unchecked, "89 f6"},  // mov esi,esi
  {"mov32 %r1, -1", unchecked, "be ff ff ff ff"},  // mov esi,0xffffffff
  {"lsh32 %r1, 32", unchecked, "89 f6"},  // mov esi,esi
  {"arsh32 %r9, 31", unchecked, "41 c1 ff 1f"},  // sar r15d,0x1f
  {"neg32 %r0", unchecked, "f7 d8"},  // neg eax
  {"rsh32 %r1, %r3", unchecked, "d3 ee"},  // shr esi,cl
  {"le16 %r1", unchecked, "0f b7 f6"},  // movzx esi,si
  {"le32 %r1", unchecked, "89 f6"},  // mov esi,esi
  {"le64 %r1", unchecked, ""},  // nothing
  {"be16 %r1", unchecked, "66 c1 c6 08 0f b7 f6"},  // rol si,0x8; movzx esi,si
  {"be32 %r8", unchecked, "41 0f ce"},  // bswap r14d
  {"be64 %r0", unchecked, "48 0f c8"},  // bswap rax
  {"bswap16 %r2", unchecked, "66 c1 c2 08 0f b7 d2"},  // rol dx,0x8; movzx edx,dx
  {"movsx864 %r0, %r1", unchecked, "48 0f be c6"},  // movsx rax,sil
  {"movsx1664 %r0, %r1", unchecked, "48 0f bf c6"},  // movsx rax,si
  {"movsx3264 %r0, %r1", unchecked, "48 63 c6"},  // movsxd rax,esi
  {"movsx832 %r6, %r7", unchecked, "41 0f be dd"},  // movsx ebx,r13b
  {"lddw %r1, 0x123456789abcdef0", unchecked, "48 be f0 de bc 9a 78 56 34 12"},  // movabs rsi,0x123456789abcdef0
  {"lddw %r1, 0x7fffffff", unchecked, "be ff ff ff 7f"},  // mov esi,0x7fffffff
  {"div %r1, 0", unchecked, "31 f6"},  // xor esi,esi
  {"mod %r1, 0", unchecked, ""},  // nothing
  {"mod32 %r1, 0", unchecked, "89 f6"},  // mov esi,esi
  {"sdiv %r1, -1", unchecked, "48 f7 de"},  // neg rsi
  {"smod32 %r1, -1", unchecked, "31 f6"},  // xor esi,esi
  {"div %r1, 3", unchecked, "41 bb 03 00 00 00 50 49 89 d2 48 89 f0 31 d2 49 f7 f3 49 89 c3 58 4c 89 d2 4c 89 de"},  // mov r11d,0x3; push rax; mov r10,rdx; mov rax,rsi; xor edx,edx; div r11; mov r11,rax; pop rax; mov rdx,r10; mov rsi,r11
  {"sdiv32 %r0, %r2", unchecked, "41 89 d3 45 85 db 74 1a 41 83 fb ff 74 18 50 49 89 d2 99 41 f7 fb 41 89 c3 58 4c 89 d2 44 89 d8 eb 06 31 c0 eb 02 f7 d8"},  // mov r11d,edx; test r11d,r11d; je 0x22; cmp r11d,0xffffffff; je 0x26; push rax; mov r10,rdx; cdq; idiv r11d; mov r11d,eax; pop rax; mov rdx,r10; mov eax,r11d; jmp 0x28; xor eax,eax; jmp 0x28; neg eax
  {"ldxb %r0, [%r1+3]", unchecked, "0f b6 46 03"},  // movzx eax,BYTE PTR [rsi+0x3]
  {"ldxh %r0, [%r1-2]", unchecked, "0f b7 46 fe"},  // movzx eax,WORD PTR [rsi-0x2]
  {"ldxw %r9, [%r10-512]", unchecked, "44 8b bd 00 fe ff ff"},  // mov r15d,DWORD PTR [rbp-0x200]
  {"ldxdw %r1, [%r1]", unchecked, "48 8b 36"},  // mov rsi,QWORD PTR [rsi]
  {"ldxsb %r0, [%r1]", unchecked, "48 0f be 06"},  // movsx rax,BYTE PTR [rsi]
  {"ldxsh %r0, [%r1]", unchecked, "48 0f bf 06"},  // movsx rax,WORD PTR [rsi]
  {"ldxsw %r0, [%r1]", unchecked, "48 63 06"},  // movsxd rax,DWORD PTR [rsi]
  {"stb [%r1+1], 0x1ff", unchecked, "c6 46 01 ff"},  // mov BYTE PTR [rsi+0x1],0xff
  {"sth [%r1], -1", unchecked, "66 c7 06 ff ff"},  // mov WORD PTR [rsi],0xffff
  {"stdw [%r10-8], -2", unchecked, "48 c7 45 f8 fe ff ff ff"},  // mov QWORD PTR [rbp-0x8],0xfffffffffffffffe
  {"stxb [%r1], %r6", unchecked, "88 1e"},  // mov BYTE PTR [rsi],bl
  {"stxh [%r1], %r7", unchecked, "66 44 89 2e"},  // mov WORD PTR [rsi],r13w
  {"stxdw [%r10-16], %r0", unchecked, "48 89 45 f0"},  // mov QWORD PTR [rbp-0x10],rax
  {"lock add [%r1+8], %r2", unchecked, "4c 8d 5e 08 f0 49 01 13"},  // lea r11,[rsi+0x8]; lock add QWORD PTR [r11],rdx
  {"lock fetch add32 [%r1], %r2", unchecked, "4c 8d 1e f0 41 0f c1 13"},  // lea r11,[rsi]; lock xadd DWORD PTR [r11],edx
  {"lock xchg [%r1], %r3", unchecked, "4c 8d 1e 49 87 0b"},  // lea r11,[rsi]; xchg QWORD PTR [r11],rcx
  {"lock cmpxchg32 [%r1], %r3", unchecked, "4c 8d 1e f0 41 0f b1 0b 89 c0"},  // lea r11,[rsi]; lock cmpxchg DWORD PTR [r11],ecx; mov eax,eax
  {"lock fetch or [%r1], %r2", unchecked, "4c 8d 1e 50 49 8b 03 49 89 c2 49 09 d2 f0 4d 0f b1 13 75 f3 48 89 c2 58"},  // lea r11,[rsi]; push rax; mov rax,QWORD PTR [r11]; mov r10,rax; or r10,rdx; lock cmpxchg QWORD PTR [r11],r10; jne 0x7; mov rdx,rax; pop rax
  {"jeq %r1, 0, +1\nexit\nexit", unchecked, "48 85 f6 0f 84 01 00 00 00"},  // test rsi,rsi; je 0xa
  {"jsgt %r1, %r2, +1\nexit\nexit", unchecked, "48 39 d6 0f 8f 01 00 00 00"},  // cmp rsi,rdx; jg 0xa
  {"jlt32 %r1, 5, +1\nexit\nexit", unchecked, "83 fe 05 0f 82 01 00 00 00"},  // cmp esi,0x5; jb 0xa
  {"jset %r1, 0x80, +1\nexit\nexit", unchecked, "48 f7 c6 80 00 00 00 0f 85 01 00 00 00"},  // test rsi,0x80; jne 0xe
  {"ja +0", unchecked, ""},  // nothing
  {"exit", unchecked, "c3"},  // ret
  {"call local f\nexit\nf:\nexit", unchecked, "4c 8d 9d 00 fc ff ff 4d 3b 5c 24 70 0f 82 ?? ?? ?? ?? 53 41 55 41 56 41 57 55 48 81 ed 00 02 00 00 e8 09 00 00 00 5d 41 5f 41 5e 41 5d 5b"},  // lea r11,[rbp-0x400]; cmp r11,QWORD PTR [r12+0x70]; jb 0x30; push rbx; push r13; push r14; push r15; push rbp; sub rbp,0x200; call 0x2f; pop rbp; pop r15; pop r14; pop r13; pop rbx
  {"ldabsw 4", unchecked, "49 83 bc 24 90 00 00 00 04 0f 86 ?? ?? ?? ?? 4d 8b 5c 24 78 41 8b 43 04 0f c8"},  // cmp QWORD PTR [r12+0x90],0x4; jbe 0x1b; mov r11,QWORD PTR [r12+0x78]; mov eax,DWORD PTR [r11+0x4]; bswap eax
  {"ldindb %r1, -2", unchecked, "41 89 f2 41 83 c2 fe 4d 63 d2 4d 3b 94 24 80 00 00 00 0f 83 ?? ?? ?? ?? 4d 8b 5c 24 78 43 0f b6 04 13"},  // mov r10d,esi; add r10d,0xfffffffe; movsxd r10,r10d; cmp r10,QWORD PTR [r12+0x80]; jae 0x23; mov r11,QWORD PTR [r12+0x78]; movzx eax,BYTE PTR [r11+r10*1]
  {"ldxdw %r0, [%r10-8]", checked, "48 8b 45 f8"},  // mov rax,QWORD PTR [rbp-0x8]
  {"stxw [%r10-512], %r1", checked, "89 b5 00 fe ff ff"},  // mov DWORD PTR [rbp-0x200],esi
  {"ldxw %r0, [%r1+4]", checked, "4c 8d 54 3e 04 4d 3b 54 24 18 0f 83 ?? ?? ?? ?? 8b 46 04"},  // lea r10,[rsi+rdi*1+0x4]; cmp r10,QWORD PTR [r12+0x18]; jae 0x14; mov eax,DWORD PTR [rsi+0x4]
  {"stxb [%r1], %r2", checked, "4c 8d 14 3e 4d 3b 54 24 28 0f 83 ?? ?? ?? ?? 88 16"},  // lea r10,[rsi+rdi*1]; cmp r10,QWORD PTR [r12+0x28]; jae 0x12; mov BYTE PTR [rsi],dl
  {"ldxw %r0, [%r10+0]", checked, "4c 8d 54 3d 00 4d 3b 54 24 18 0f 83 ?? ?? ?? ?? 8b 45 00"},  // lea r10,[rbp+rdi*1+0x0]; cmp r10,QWORD PTR [r12+0x18]; jae 0x14; mov eax,DWORD PTR [rbp+0x0]
  {"mov %r0, 1", counting, "49 83 ac 24 a0 00 00 00 01 0f 82 ?? ?? ?? ?? b8 01 00 00 00"},  // sub QWORD PTR [r12+0xa0],0x1; jb 0x24; mov eax,0x1
};
// clang-format on

std::string hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  for (std::uint8_t b : bytes) out += fmt::format("{}{:02x}", out.empty() ? "" : " ", b);
  return out;
}

// "??" in the expectation matches any byte (displacements to out-of-line stubs, whose place
// depends on everything after the instruction).
bool matches(const std::string& expected, const std::string& actual) {
  if (expected.size() != actual.size()) return false;
  for (std::size_t i = 0; i < expected.size(); ++i)
    if (expected[i] != '?' && expected[i] != actual[i]) return false;
  return true;
}

std::string first_insn_bytes(const Case& c) {
  auto insns = assemble(std::string(c.source) +
                        (std::string(c.source).find("exit") == std::string::npos ? "\nexit" : ""));
  EXPECT_TRUE(insns.ok()) << c.source << ": " << insns.error().to_string();
  if (!insns) return "";
  auto program = Program::load(*insns);
  EXPECT_TRUE(program.ok()) << c.source << ": " << program.error().to_string();
  if (!program) return "";
  jit::EmitOptions options;
  options.checked = (c.variant & checked) != 0;
  options.count_instructions = (c.variant & counting) != 0;
  options.blind_constants = (c.variant & blinded) != 0;
  options.blinding_seed = 1;
  auto compiled = jit::compile_code(program->code(), options);
  EXPECT_TRUE(compiled.ok());
  if (!compiled) return "";
  const jit::EmitLayout& layout = compiled->layout;
  std::uint32_t end = layout.body_end;
  for (std::size_t i = 1; i < layout.insn_begin.size(); ++i) {
    if (layout.insn_begin[i] != jit::EmitLayout::none) {
      end = layout.insn_begin[i];
      break;
    }
  }
  return hex({compiled->memory.data() + layout.insn_begin[0], end - layout.insn_begin[0]});
}

TEST(JitEncoding, EveryCaseEmitsItsBytes) {
  const bool print = std::getenv("BPFVM_JIT_ENCODING_PRINT") != nullptr;
  for (const Case& c : cases) {
    std::string actual = first_insn_bytes(c);
    if (print) {
      std::string source = c.source;
      for (std::size_t at; (at = source.find('\n')) != std::string::npos;)
        source.replace(at, 1, "\\n");
      std::printf("  {\"%s\", %u, \"%s\"},\n", source.c_str(), c.variant, actual.c_str());
    }
    EXPECT_TRUE(matches(c.bytes, actual))
        << c.source << "\n  expected: " << c.bytes << "\n  actual:   " << actual;
  }
}

// Blinded constants: the program's immediate never appears in the code.
TEST(JitEncoding, BlindingHidesImmediates) {
  for (const char* source :
       {"mov %r1, 0x41424344", "add %r1, 0x41424344", "stw [%r10-4], 0x41424344",
        "jeq %r1, 0x41424344, +1\nexit\nexit", "lddw %r1, 0x4142434441424344",
        "div %r1, 0x41424344", "ldabsw 0x41424344", "ldindw %r1, 0x41424344"}) {
    Case c{source, blinded, ""};
    std::string bytes = first_insn_bytes(c);
    EXPECT_EQ(bytes.find("44 43 42 41"), std::string::npos) << source << ": " << bytes;
    EXPECT_FALSE(bytes.empty()) << source;
  }
}

}  // namespace
}  // namespace bpfvm::jit_test
