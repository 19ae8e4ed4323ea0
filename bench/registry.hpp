// The benchmark programs this build has: BPF bytecode extracted from clang's object, and the
// native twin compiled from the same C file. bench/CMakeLists.txt generates the definitions.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace bpfvm::bench {

// The entry point of a program, natively: (memory, length) -> r0.
using NativeFunction = unsigned long long (*)(void* mem, unsigned long long len);

struct BuiltProgram {
  std::string_view name;
  std::span<const std::uint8_t> bytecode;  // the .text section, raw little-endian slots
  NativeFunction native = nullptr;
};

// How the programs were built, printed with the results.
struct BuildInfo {
  std::string_view native_compiler;
  std::string_view native_flags;
  std::string_view bpf_compiler;
  std::string_view bpf_flags;
  std::string_view build_type;  // CMAKE_BUILD_TYPE of the library and runner
};

// Empty when clang was not found at configure time.
std::vector<BuiltProgram> built_programs();
BuildInfo build_info();

}  // namespace bpfvm::bench
