// Where each uapi context field lives in the internal context, and which accesses Linux's
// *_is_valid_access admits per program type.
#pragma once

#include <bpfvm/program_type.hpp>
#include <bpfvm/progtypes.hpp>

#include <cstdint>
#include <string>
#include <variant>

namespace bpfvm::progtypes {

// How one program access becomes internal accesses.
struct AccessPlan {
  enum class Kind : std::uint8_t {
    load,                // ldx of `size` bytes at internal_offset
    load_zero,           // the field reads as 0 (mov dst, 0)
    store,               // st/stx of `size` bytes at internal_offset
    store_queue_mapping  // skb->queue_mapping: stored (as u16) only when below 0xffff
  };
  Kind kind = Kind::load;
  std::int16_t internal_offset = 0;
  std::uint8_t size = 0;  // bytes
};

// Either the plan or why the access is refused ("field mark is read-only for socket_filter").
using AccessResult = std::variant<AccessPlan, std::string>;

AccessResult plan_access(ProgramType type, std::int32_t offset, int size, bool write);

// The internal context size checked mode admits, and whether its stores are allowed.
std::size_t internal_view_size(ProgramType type);

}  // namespace bpfvm::progtypes
