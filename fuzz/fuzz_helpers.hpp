// The helpers both engine fuzzers register, so that fuzzed programs exercise helper calls:
//   1 grants a 32-byte buffer (writable when r1 is odd) and returns its address; each harness
//     decides where that buffer lives (a plain array, or memory between guard pages);
//   2 fails the run when r1 is 0x66, else returns r1 + r2;
//   3 reads 8 bytes at r1 when the run may (the probe_read pattern), else returns -1;
//   5 is the conformance suite's unwind: returns r1 and ends the program when it is 0.
#pragma once

#include <bpfvm/helper.hpp>

#include <cstdint>
#include <cstring>

namespace bpfvm::fuzz {

inline constexpr std::size_t granted_size = 32;
// Set by the harness before each run.
inline std::uint8_t* granted_buffer = nullptr;

inline std::uint64_t grant(HelperCall& call, std::uint64_t r1, std::uint64_t, std::uint64_t,
                           std::uint64_t, std::uint64_t) {
  call.grant(granted_buffer, granted_size, (r1 & 1) != 0);
  return reinterpret_cast<std::uintptr_t>(granted_buffer);
}

inline std::uint64_t maybe_fail(HelperCall& call, std::uint64_t r1, std::uint64_t r2, std::uint64_t,
                                std::uint64_t, std::uint64_t) {
  if (r1 == 0x66) call.fail("asked to fail");
  return r1 + r2;
}

inline std::uint64_t probe_read(HelperCall& call, std::uint64_t r1, std::uint64_t, std::uint64_t,
                                std::uint64_t, std::uint64_t) {
  if (!call.accessible(r1, 8, false)) return ~std::uint64_t{0};
  std::uint64_t value;
  std::memcpy(&value, reinterpret_cast<const void*>(r1), sizeof value);
  return value;
}

inline std::uint64_t unwind(HelperCall& call, std::uint64_t r1, std::uint64_t, std::uint64_t,
                            std::uint64_t, std::uint64_t) {
  if (r1 == 0) call.end_program();
  return r1;
}

inline const HelperRegistry& fuzz_helpers() {
  static const HelperRegistry helpers = [] {
    HelperRegistry registry;
    (void)registry.add({.id = 1, .name = "grant", .function = &grant});
    (void)registry.add({.id = 2, .name = "maybe_fail", .function = &maybe_fail});
    (void)registry.add({.id = 3, .name = "probe_read", .function = &probe_read});
    (void)registry.add({.id = 5, .name = "unwind", .function = &unwind});
    return registry;
  }();
  return helpers;
}

}  // namespace bpfvm::fuzz
