#include <bpfvm/helper.hpp>

#include "vm/run_state.hpp"

#include <fmt/format.h>

namespace bpfvm {

void HelperCall::grant(const void* base, std::size_t size, bool writable) {
  auto begin = reinterpret_cast<std::uintptr_t>(base);
  detail::Region region{begin, begin + size, writable};
  // A helper called in a loop grants the same value again and again: admit it once.
  if (size != 0) state_.regions.add_deferred(region);
}

bool HelperCall::accessible(std::uint64_t address, std::size_t size, bool write) const {
  return state_.admits_range(address, size, write);
}

void* HelperCall::context() const { return state_.context; }

void HelperCall::end_program() { state_.end_requested = true; }

void HelperCall::fail(std::string message) { state_.helper_failure = std::move(message); }

Status HelperRegistry::add(Helper helper) {
  if (helper.function == nullptr)
    return make_error(Error::Kind::usage, fmt::format("helper {} has no function", helper.id));
  if (helpers_.count(helper.id) != 0)
    return make_error(Error::Kind::usage,
                      fmt::format("helper id {} is already registered (as '{}')", helper.id,
                                  helpers_.at(helper.id).name));
  std::uint32_t id = helper.id;
  helpers_.emplace(id, std::move(helper));
  return Ok{};
}

const Helper* HelperRegistry::find(std::uint32_t id) const {
  auto it = helpers_.find(id);
  return it == helpers_.end() ? nullptr : &it->second;
}

}  // namespace bpfvm
