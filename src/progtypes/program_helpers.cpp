// The helpers a program of each type gets: one registry builder shared by the object path and
// the program-file path of the CLI, so that a call to a built-in (memset at 0x7f000001, ...)
// is accepted or refused the same way whichever file the program came from.
#include <bpfvm/builtin_helpers.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/progtypes.hpp>

namespace bpfvm {

Result<HelperRegistry> program_helpers(ProgramType type) {
  HelperRegistry helpers = linux_helpers();
  // As Object::load gives them where an object calls memset, memcpy, ... (the default).
  if (auto added = add_builtin_helpers(helpers); !added) return added.error();
  if (auto added = add_packet_helpers(helpers, type); !added) return added.error();
  return helpers;
}

}  // namespace bpfvm
