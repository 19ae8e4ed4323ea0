// What the helper files share: argument checks that fail the run in checked mode, and the
// per-registry state (options, random sequence) helpers reach through HelperCall::user().
#pragma once

#include <bpfvm/helper.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/map.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <string_view>

namespace bpfvm::helpers {

using u64 = std::uint64_t;

struct HelperState {
  HelperOptions options;
  std::atomic<std::uint64_t> prandom{0};
};

inline HelperState& helper_state(const HelperCall& call) {
  return *static_cast<HelperState*>(call.user());
}

// A negative errno as the u64 a helper returns in r0.
inline u64 err(int negative_errno) {
  return static_cast<u64>(static_cast<std::int64_t>(negative_errno));
}

// Checked mode: whether [address, address + size) is memory the program may read (or write);
// when not, fails the run naming the helper and the argument, and returns false. Unchecked
// runs trust the verifier and always get true.
inline bool check_pointer(HelperCall& call, std::string_view helper, std::string_view what,
                          u64 address, u64 size, bool write) {
  if (!call.checked() || call.accessible(address, size, write)) return true;
  call.fail(fmt::format("{}: {} at 0x{:x} ({} bytes) is not {} memory of this run", helper, what,
                        address, size, write ? "writable" : "readable"));
  return false;
}

// The map r-value `value` names, or nullptr after failing the run: a forged or stale map
// pointer never reaches a Map method, checked or not.
inline Map* check_map(HelperCall& call, std::string_view helper, u64 value) {
  Map* map = call.map(value);
  if (map == nullptr)
    call.fail(fmt::format("{}: 0x{:x} is not a map of this program", helper, value));
  return map;
}

}  // namespace bpfvm::helpers
