// Map specs and what BPF_MAP_CREATE answers for each: shared by the unit test (against the
// expectation written here) and the kernel test (against Linux itself).
#pragma once

#include <bpfvm/map.hpp>

#include <vector>

namespace bpfvm::test {

struct CreateCase {
  const char* label;
  MapSpec spec;
  const char* expected_errno;  // nullptr: created
  const char* field;           // a word the error message must contain, or nullptr
};

std::vector<CreateCase> create_cases();

}  // namespace bpfvm::test
