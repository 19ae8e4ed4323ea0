#include <bpfvm/conformance.hpp>

namespace bpfvm {
namespace {

std::uint64_t unwind(HelperCall& call, std::uint64_t value, std::uint64_t, std::uint64_t,
                     std::uint64_t, std::uint64_t) {
  if (value == 0) call.end_program();
  return value;
}

}  // namespace

HelperRegistry conformance_helpers() {
  HelperRegistry registry;
  Status added = registry.add(
      {.id = conformance_unwind_helper_id,
       .name = "unwind",
       .function = unwind,
       .user = nullptr,
       .prototype = HelperPrototype{.returns = ReturnKind::integer, .args = {ArgKind::anything}}});
  (void)added;  // an empty registry cannot refuse its first helper
  return registry;
}

}  // namespace bpfvm
