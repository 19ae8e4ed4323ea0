// The programs clang built from tests/progtypes/bpf/*.bpf.c (the build extracts each one's
// instructions to NAME.bin beside the test binaries), for tests that run the same program on
// the kernel and on bpfvm.
#pragma once

#include <bpfvm/program.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::test {

// The instructions of NAME.bin, or nothing when the build made no BPF programs (no clang) or
// the file does not decode.
inline std::optional<std::vector<Insn>> clang_program(const char* name) {
#ifdef BPFVM_PROGTYPES_BPF_DIR
  std::FILE* file =
      std::fopen((std::string(BPFVM_PROGTYPES_BPF_DIR) + "/" + name + ".bin").c_str(), "rb");
  if (file == nullptr) return std::nullopt;
  std::vector<std::uint8_t> bytes;
  std::uint8_t buffer[4096];
  std::size_t got;
  while ((got = std::fread(buffer, 1, sizeof(buffer), file)) > 0)
    bytes.insert(bytes.end(), buffer, buffer + got);
  std::fclose(file);
  auto insns = insns_from_bytes(bytes);
  if (!insns) return std::nullopt;
  return *insns;
#else
  (void)name;
  return std::nullopt;
#endif
}

}  // namespace bpfvm::test
