// The input layout shared by the interpreter fuzzer and its seed generator.
//
//   byte 0        memory length n (clamped to what the input holds)
//   byte 1        flags: bit 0 = the memory (context) is read-only
//   bytes 2..2+n  the memory: r1 points at it, r2 holds n, LD_ABS/LD_IND read it
//   the rest      the program, little-endian 8-byte slots (a trailing partial slot is dropped)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace bpfvm::fuzz {

inline constexpr std::size_t header_size = 2;
inline constexpr std::uint8_t flag_read_only_context = 0x01;

struct FuzzInput {
  std::span<const std::uint8_t> memory;
  std::uint8_t flags = 0;
  std::span<const std::uint8_t> program;
};

inline FuzzInput split_input(const std::uint8_t* data, std::size_t size) {
  FuzzInput input;
  if (size < header_size) return input;
  std::size_t memory_size = data[0];
  input.flags = data[1];
  std::size_t rest = size - header_size;
  if (memory_size > rest) memory_size = rest;
  input.memory = {data + header_size, memory_size};
  std::size_t program_size = (rest - memory_size) / 8 * 8;
  input.program = {data + header_size + memory_size, program_size};
  return input;
}

inline std::vector<std::uint8_t> join_input(std::span<const std::uint8_t> memory,
                                            std::uint8_t flags,
                                            std::span<const std::uint8_t> program) {
  std::vector<std::uint8_t> out;
  std::size_t n = memory.size() > 255 ? 255 : memory.size();
  out.push_back(static_cast<std::uint8_t>(n));
  out.push_back(flags);
  out.insert(out.end(), memory.begin(), memory.begin() + static_cast<std::ptrdiff_t>(n));
  out.insert(out.end(), program.begin(), program.end());
  return out;
}

}  // namespace bpfvm::fuzz
