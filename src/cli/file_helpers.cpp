#include "cli/file_helpers.hpp"

#include <bpfvm/builtin_helpers.hpp>
#include <bpfvm/conformance.hpp>

namespace bpfvm::cli {

Result<HelperRegistry> program_file_run_helpers() {
  HelperRegistry helpers = conformance_helpers();
  // Not the packet helpers: they work on a typed context, and r1 here is raw memory.
  if (auto added = add_builtin_helpers(helpers); !added) return added.error();
  return helpers;
}

}  // namespace bpfvm::cli
