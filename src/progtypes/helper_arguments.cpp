#include "progtypes/helper_arguments.hpp"

#include "progtypes/active_context.hpp"

#include <fmt/format.h>

namespace bpfvm::progtypes {

SkbKernelContext* tc_skb(HelperCall& call, std::uint64_t r1, const char* helper) {
  ActiveContext& active = active_context();
  if (active.skb == nullptr || reinterpret_cast<void*>(r1) != &active.skb->view ||
      call.context() != &active.skb->view) {
    call.fail(fmt::format("{}: r1 is not the context of a sched_cls run", helper));
    return nullptr;
  }
  return active.skb;
}

std::uint8_t* memory_arg(HelperCall& call, std::uint64_t address, std::uint64_t size, bool write,
                         const char* helper) {
  if (size == 0) return reinterpret_cast<std::uint8_t*>(address);
  if (size > (1u << 30) || !call.accessible(address, static_cast<std::size_t>(size), write)) {
    call.fail(fmt::format("{}: {} bytes at {:#x} are not {} by the program", helper, size, address,
                          write ? "writable" : "readable"));
    return nullptr;
  }
  return reinterpret_cast<std::uint8_t*>(address);
}

}  // namespace bpfvm::progtypes
