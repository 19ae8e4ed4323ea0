// Helper functions: host code that programs call by number (`call imm`), Linux style.
#pragma once

#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace bpfvm {

namespace detail {
struct RunState;
}

// What a helper may do to the run that called it. Passed by reference to every helper.
class HelperCall {
 public:
  explicit HelperCall(detail::RunState& state, void* user) : state_(state), user_(user) {}

  // The pointer the helper was registered with.
  void* user() const { return user_; }

  // Lets the program load from (and, when writable, store to) [base, base + size) for the
  // rest of this run in checked mode: for example a map value a lookup returns.
  void grant(const void* base, std::size_t size, bool writable);

  // Whether checked mode would admit an access of `size` bytes at `address`. Helpers that
  // take pointers from the program (probe_read and friends) ask this before touching them.
  bool accessible(std::uint64_t address, std::size_t size, bool write) const;

  // Ends the program when the helper returns; r0 is the helper's return value.
  void end_program();

  // Fails the run with a helper error carrying `message`.
  void fail(std::string message);

 private:
  detail::RunState& state_;
  void* user_;
};

// Five 64-bit arguments (r1-r5), one 64-bit result (r0), as the eBPF calling convention.
using HelperFunction = std::uint64_t (*)(HelperCall& call, std::uint64_t r1, std::uint64_t r2,
                                         std::uint64_t r3, std::uint64_t r4, std::uint64_t r5);

struct Helper {
  std::uint32_t id = 0;
  std::string name;
  HelperFunction function = nullptr;
  void* user = nullptr;
};

// Helpers by id. Programs resolve their `call` instructions against a registry at load;
// `callx` looks the id up at run time.
class HelperRegistry {
 public:
  // Fails when the id is taken or the function is null.
  Status add(Helper helper);
  const Helper* find(std::uint32_t id) const;
  const std::map<std::uint32_t, Helper>& all() const { return helpers_; }

 private:
  std::map<std::uint32_t, Helper> helpers_;
};

}  // namespace bpfvm
