#include "vm/run_errors.hpp"

#include "vm/run_state.hpp"

#include <bpfvm/insn.hpp>

#include <fmt/format.h>

namespace bpfvm::detail {

[[gnu::cold]] Error access_error(const RunState& state, std::size_t index, const char* what,
                                 std::uint64_t address, int size, bool write,
                                 std::uint8_t base_register, std::int16_t offset) {
  bool mapped_read_only = !state.admits(address, static_cast<std::size_t>(size), true) &&
                          state.admits(address, static_cast<std::size_t>(size), false);
  return insn_error(Error::Kind::out_of_bounds, index,
                    fmt::format("{} of {} bytes at address 0x{:x} (r{}{:+}) {}", what, size,
                                address, base_register, offset,
                                write && mapped_read_only
                                    ? "is in a read-only region"
                                    : "is outside the memory, the stack and every granted region"));
}

[[gnu::cold]] Error misaligned_atomic_error(std::size_t index, std::uint64_t address, int size) {
  return insn_error(Error::Kind::out_of_bounds, index,
                    fmt::format("atomic operation of {} bytes at address 0x{:x} is not aligned "
                                "to {} bytes",
                                size, address, size));
}

[[gnu::cold]] Error budget_error(std::size_t index, std::uint64_t budget) {
  return insn_error(Error::Kind::budget_exhausted, index,
                    fmt::format("instruction budget of {} exhausted", budget));
}

[[gnu::cold]] Error call_depth_error(std::size_t index) {
  return insn_error(Error::Kind::call_depth, index,
                    fmt::format("local call nests deeper than {} frames", max_call_frames));
}

[[gnu::cold]] Error callx_unknown_error(std::size_t index, std::uint8_t dst, std::uint64_t id) {
  return insn_error(Error::Kind::helper, index,
                    fmt::format("callx r{}: no helper with id {} is registered", dst, id));
}

[[gnu::cold]] Error helper_failed_error(std::size_t index, std::string_view message) {
  return insn_error(Error::Kind::helper, index, fmt::format("helper failed: {}", message));
}

}  // namespace bpfvm::detail
