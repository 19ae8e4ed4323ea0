// Groups like error messages: the corpus tests count why objects fail to load and why programs
// are refused, and a count is only useful when "helper 34 ..." and "helper 118 ..." fall in the
// same row.
#pragma once

#include <string>

namespace bpfvm::test {

// `message` with quoted names blanked to '…' and numbers (with any letters glued to them, as in
// "r3" or "0x1f") to N. A quote opens a name only after a non-alphanumeric character, so the
// apostrophe of "context's" stays.
std::string reason_of(const std::string& message);

}  // namespace bpfvm::test
