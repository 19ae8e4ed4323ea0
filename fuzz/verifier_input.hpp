// The input layout of the verifier fuzzer and its seeds (fuzz_seeds --verifier).
//
//   byte 0   options: bits 0-1 the context (0 raw memory of unknown length, 1 a context of
//            8 bytes, 2 of 64 bytes, 3 of byte 2's value), bit 2 the context is read-only,
//            bit 3 a small verification budget (verifier_small_budget instead of
//            verifier_budget)
//   byte 1   the seed of the memory the accepted program then runs on
//   byte 2   the context size when bits 0-1 are 3
//   the rest the program, little-endian 8-byte slots (a trailing partial slot is dropped)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace bpfvm::fuzz {

inline constexpr std::size_t verifier_header_size = 3;
inline constexpr std::uint8_t verifier_read_only = 0x04;
inline constexpr std::uint8_t verifier_small = 0x08;
inline constexpr std::uint64_t verifier_budget = 10'000;
inline constexpr std::uint64_t verifier_small_budget = 1'000;

struct VerifierInput {
  std::optional<std::size_t> context_size;  // nullopt: raw memory, length unknown
  bool context_writable = true;
  std::uint64_t budget = verifier_budget;
  std::uint8_t memory_seed = 0;
  std::span<const std::uint8_t> program;
};

inline VerifierInput split_verifier_input(const std::uint8_t* data, std::size_t size) {
  VerifierInput input;
  if (size < verifier_header_size) return input;
  switch (data[0] & 3) {
    case 0: break;
    case 1: input.context_size = 8; break;
    case 2: input.context_size = 64; break;
    default: input.context_size = data[2]; break;
  }
  input.context_writable = (data[0] & verifier_read_only) == 0;
  input.budget = (data[0] & verifier_small) != 0 ? verifier_small_budget : verifier_budget;
  input.memory_seed = data[1];
  const std::size_t rest = size - verifier_header_size;
  input.program = {data + verifier_header_size, rest / 8 * 8};
  return input;
}

// A seed: the program with a context of `context_size` bytes (nullopt: raw memory).
inline std::vector<std::uint8_t> join_verifier_input(std::optional<std::size_t> context_size,
                                                     bool small_budget,
                                                     std::span<const std::uint8_t> program) {
  std::vector<std::uint8_t> out(verifier_header_size, 0);
  if (context_size) {
    out[0] = 3;
    out[2] = static_cast<std::uint8_t>(*context_size > 255 ? 255 : *context_size);
  }
  if (small_budget) out[0] |= verifier_small;
  out[1] = 0x5a;
  out.insert(out.end(), program.begin(), program.end());
  return out;
}

}  // namespace bpfvm::fuzz
