// Printing one decoded instruction in the LLVM/kernel syntax, as llvm-objdump 14 prints BPF
// (`llvm-objdump -d`, decimal immediates, `r0 = *(u16 *)(r1 + 2)`, `if w1 s> w2 goto -2`).
//
// Where llvm-objdump 14 has no form, the form later LLVM releases print is used and marked
// "(LLVM >= 17)" below: sdiv/smod, movsx, bswap, sign-extending loads, store immediate
// (`*(u32 *)(r10 - 4) = 5`), gotol. Where no LLVM has a faithful form, the choice is marked
// "(ours)". 32-bit atomics follow llvm-objdump 14 with `--mattr=+alu32` (`w` registers): without
// it, version 14 prints fetch forms as plain `lock` ones, which would be wrong.
#pragma once

#include "isa/insn_fields.hpp"
#include "isa/opcode_table.hpp"

#include <bpfvm/insn.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace bpfvm::llvm_syntax {

inline std::string reg(int number, bool wide = true) {
  return fmt::format("{}{}", wide ? 'r' : 'w', number);
}

// `(r10 - 8)`, `(r1 + 0)`: the base and a signed offset, as llvm-objdump 14 writes it.
inline std::string address(int base, std::int16_t offset) {
  return fmt::format("r{} {} {}", base, offset < 0 ? '-' : '+',
                     offset < 0 ? -static_cast<int>(offset) : offset);
}

inline std::string relative(std::int64_t displacement) { return fmt::format("{:+}", displacement); }

// RFC 9669 section 4.1: the ALU operation code, high four bits of the opcode.
inline std::string_view alu_operator(const Insn& insn) {
  bool is_signed = insn.offset == 1;  // sdiv/smod (RFC 9669 section 4.1, LLVM >= 17)
  switch (insn.opcode & 0xf0) {
    case 0x00: return "+=";
    case 0x10: return "-=";
    case 0x20: return "*=";
    case 0x30: return is_signed ? "s/=" : "/=";
    case 0x40: return "|=";
    case 0x50: return "&=";
    case 0x60: return "<<=";
    case 0x70: return ">>=";
    case 0x90: return is_signed ? "s%=" : "%=";
    case 0xa0: return "^=";
    case 0xb0: return "=";
    case 0xc0: return "s>>=";
  }
  return "?=";
}

// RFC 9669 section 4.3: the jump condition. llvm-objdump 14 has no jset form; `&` is what
// later LLVM and the kernel's verifier log print.
inline std::string_view jump_operator(std::uint8_t opcode) {
  switch (opcode & 0xf0) {
    case 0x10: return "==";
    case 0x20: return ">";
    case 0x30: return ">=";
    case 0x40: return "&";
    case 0x50: return "!=";
    case 0x60: return "s>";
    case 0x70: return "s>=";
    case 0xa0: return "<";
    case 0xb0: return "<=";
    case 0xc0: return "s<";
    case 0xd0: return "s<=";
  }
  return "?";
}

inline std::string_view atomic_operator(std::int32_t operation) {
  switch (operation) {
    case 0x00: return "+=";
    case 0x40: return "|=";
    case 0x50: return "&=";
    case 0xa0: return "^=";
  }
  return "?=";
}

inline std::string_view atomic_name(std::int32_t operation) {
  switch (operation) {
    case 0x00: return "add";
    case 0x40: return "or";
    case 0x50: return "and";
    case 0xa0: return "xor";
  }
  return "?";
}

// `lock *(u64 *)(r1 - 8) += r2`, `r2 = atomic_fetch_add((u64 *)(r1 - 8), r2)`,
// `r1 = xchg_64(r10 - 8, r1)`, `w0 = cmpxchg32_32(r1 - 4, w0, w2)`.
inline std::string print_atomic(const Insn& insn) {
  bool wide = !fields::is_32bit(insn.opcode);
  std::string size(fields::size_name(insn.opcode));
  std::string src = reg(insn.src, wide);
  std::string place = address(insn.dst, insn.offset);
  std::int32_t operation = insn.imm & ~fields::atomic_fetch;
  if (operation == fields::atomic_cmpxchg)
    return fmt::format("{0} = {1}({2}, {0}, {3})", reg(0, wide),
                       wide ? "cmpxchg_64" : "cmpxchg32_32", place, src);
  if (operation == fields::atomic_xchg)
    return fmt::format("{0} = {1}({2}, {0})", src, wide ? "xchg_64" : "xchg32_32", place);
  if ((insn.imm & fields::atomic_fetch) != 0)
    return fmt::format("{0} = atomic_fetch_{1}((u{2} *)({3}), {0})", src, atomic_name(operation),
                       wide ? 64 : 32, place);
  return fmt::format("lock *({} *)({}) {} {}", size, place, atomic_operator(operation), src);
}

// lddw: `r1 = -1 ll`; with a pseudo source (map fd, map value, ...) llvm-objdump 14 prints
// `ld_pseudo\tr1, 1, 5` with the low 32 bits of the value. Ours prints the whole 64-bit value
// there, which is the same when the high half is zero.
inline std::string print_lddw(const Insn& insn, std::uint64_t imm64) {
  if (insn.src == lddw_src::imm64)
    return fmt::format("{} = {} ll", reg(insn.dst), static_cast<std::int64_t>(imm64));
  return fmt::format("ld_pseudo\t{}, {}, {}", reg(insn.dst), insn.src, imm64);
}

// Legacy packet loads (RFC 9669 section 5.5): `r0 = *(u8 *)skb[12]`, `r0 = *(u32 *)skb[r1]`.
// llvm-objdump 14 ignores ldind's imm; ours adds it when it is not zero: `skb[r1 + 4]` (ours).
inline std::string print_packet_load(const Insn& insn, Shape shape) {
  std::string_view size = fields::size_name(insn.opcode);
  if (shape == Shape::LdAbs) return fmt::format("r0 = *({} *)skb[{}]", size, insn.imm);
  if (insn.imm == 0) return fmt::format("r0 = *({} *)skb[{}]", size, reg(insn.src));
  return fmt::format("r0 = *({} *)skb[{} {} {}]", size, reg(insn.src), insn.imm < 0 ? '-' : '+',
                     insn.imm < 0 ? -static_cast<std::int64_t>(insn.imm) : insn.imm);
}

inline std::string print_jump(const Insn& insn, Shape shape) {
  bool wide = !fields::is_32bit(insn.opcode);
  std::string_view op = jump_operator(insn.opcode);
  if (shape == Shape::JmpImm)
    return fmt::format("if {} {} {} goto {}", reg(insn.dst, wide), op, insn.imm,
                       relative(insn.offset));
  return fmt::format("if {} {} {} goto {}", reg(insn.dst, wide), op, reg(insn.src, wide),
                     relative(insn.offset));
}

// `row` matches `insn` and fields::fully_described holds; imm64 is lddw's whole value.
inline std::string print(const Insn& insn, const OpcodeInfo& row, std::uint64_t imm64) {
  bool wide = !fields::is_32bit(insn.opcode);
  std::string dst = reg(insn.dst, wide);
  switch (row.shape) {
    case Shape::AluImm: return fmt::format("{} {} {}", dst, alu_operator(insn), insn.imm);
    case Shape::AluReg:
      return fmt::format("{} {} {}", dst, alu_operator(insn), reg(insn.src, wide));
    case Shape::AluUnary: return fmt::format("{0} = -{0}", dst);
    // le/be/bswap always name 64-bit registers in LLVM, whatever the class.
    case Shape::Endian: return fmt::format("{0} = {1} {0}", reg(insn.dst), row.mnemonic);
    case Shape::MovSx:  // (LLVM >= 17)
      return fmt::format("{} = (s{}){}", dst, insn.offset, reg(insn.src, wide));
    case Shape::Lddw: return print_lddw(insn, imm64);
    case Shape::Load:  // sign-extending forms (LLVM >= 17)
      return fmt::format(
          "{} = *({} *)({})", dst,
          fields::size_name(insn.opcode, fields::is_sign_extending_load(insn.opcode)),
          address(insn.src, insn.offset));
    case Shape::StoreImm:  // (LLVM >= 17)
      return fmt::format("*({} *)({}) = {}", fields::size_name(insn.opcode),
                         address(insn.dst, insn.offset), insn.imm);
    case Shape::StoreReg:
      return fmt::format("*({} *)({}) = {}", fields::size_name(insn.opcode),
                         address(insn.dst, insn.offset), reg(insn.src));
    case Shape::Atomic: return print_atomic(insn);
    case Shape::LdAbs:
    case Shape::LdInd: return print_packet_load(insn, row.shape);
    case Shape::Ja: return fmt::format("goto {}", relative(insn.offset));
    case Shape::Ja32: return fmt::format("gotol {}", relative(insn.imm));  // (LLVM >= 17)
    case Shape::JmpImm:
    case Shape::JmpReg: return print_jump(insn, row.shape);
    // llvm-objdump 14 prints helper, local and BTF calls alike: `call imm`.
    case Shape::CallHelper:
    case Shape::CallLocal:
    case Shape::CallBtf: return fmt::format("call {}", insn.imm);
    // The register is in dst, as opcodes.def and bpf_conformance's callx.data encode it;
    // llvm-objdump 14 reads it from imm instead (ours).
    case Shape::Callx: return fmt::format("callx {}", reg(insn.dst));
    case Shape::Exit: return "exit";
  }
  return std::string(row.mnemonic);
}

}  // namespace bpfvm::llvm_syntax
