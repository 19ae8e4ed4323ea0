// Instruction constructors for the program-type tests (uapi BPF_* encodings).
#pragma once

#include <bpfvm/insn.hpp>

#include <cstdint>
#include <vector>

namespace bpfvm::test::build {

inline std::uint8_t size_code(int bytes) {
  return bytes == 1 ? 0x10 : bytes == 2 ? 0x08 : bytes == 4 ? 0x00 : 0x18;
}
inline Insn mov(int dst, std::int32_t imm) {
  return {.opcode = 0xb7, .dst = static_cast<std::uint8_t>(dst), .src = 0, .offset = 0, .imm = imm};
}
inline Insn mov_reg(int dst, int src) {
  return {
      .opcode = 0xbf, .dst = static_cast<std::uint8_t>(dst), .src = static_cast<std::uint8_t>(src)};
}
inline Insn alu_imm(std::uint8_t op, int dst, std::int32_t imm) {
  return {.opcode = static_cast<std::uint8_t>(0x07 | op),
          .dst = static_cast<std::uint8_t>(dst),
          .src = 0,
          .offset = 0,
          .imm = imm};
}
inline Insn alu_reg(std::uint8_t op, int dst, int src) {
  return {.opcode = static_cast<std::uint8_t>(0x0f | op),
          .dst = static_cast<std::uint8_t>(dst),
          .src = static_cast<std::uint8_t>(src)};
}
inline Insn add(int dst, std::int32_t imm) { return alu_imm(0x00, dst, imm); }
inline Insn rsh(int dst, std::int32_t imm) { return alu_imm(0x70, dst, imm); }
inline Insn ldx(int bytes, int dst, int src, std::int16_t off) {
  return {.opcode = static_cast<std::uint8_t>(0x61 | size_code(bytes)),
          .dst = static_cast<std::uint8_t>(dst),
          .src = static_cast<std::uint8_t>(src),
          .offset = off};
}
inline Insn stx(int bytes, int dst, int src, std::int16_t off) {
  return {.opcode = static_cast<std::uint8_t>(0x63 | size_code(bytes)),
          .dst = static_cast<std::uint8_t>(dst),
          .src = static_cast<std::uint8_t>(src),
          .offset = off};
}
inline Insn st(int bytes, int dst, std::int16_t off, std::int32_t imm) {
  return {.opcode = static_cast<std::uint8_t>(0x62 | size_code(bytes)),
          .dst = static_cast<std::uint8_t>(dst),
          .src = 0,
          .offset = off,
          .imm = imm};
}
inline Insn ja(std::int16_t off) { return {.opcode = 0x05, .offset = off}; }
inline Insn jeq(int dst, std::int32_t imm, std::int16_t off) {
  return {
      .opcode = 0x15, .dst = static_cast<std::uint8_t>(dst), .src = 0, .offset = off, .imm = imm};
}
inline Insn jgt_reg(int dst, int src, std::int16_t off) {
  return {.opcode = 0x2d,
          .dst = static_cast<std::uint8_t>(dst),
          .src = static_cast<std::uint8_t>(src),
          .offset = off};
}
inline Insn call(std::int32_t id) { return {.opcode = 0x85, .imm = id}; }
inline Insn call_local(std::int32_t delta) { return {.opcode = 0x85, .src = 1, .imm = delta}; }
inline Insn exit_insn() { return {.opcode = 0x95}; }
// lddw dst, imm64 (two slots), src selects the pseudo source.
inline void lddw(std::vector<Insn>& out, int dst, std::uint64_t value, int src = 0) {
  out.push_back({.opcode = 0x18,
                 .dst = static_cast<std::uint8_t>(dst),
                 .src = static_cast<std::uint8_t>(src),
                 .offset = 0,
                 .imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(value))});
  out.push_back(
      {.opcode = 0, .imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(value >> 32))});
}

}  // namespace bpfvm::test::build
