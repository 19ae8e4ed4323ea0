// GoogleTest names for parameterized cases named after files: "lock_cmpxchg32", not "#17".
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace bpfvm::testing {

// Test names may hold only letters, digits and underscores; file names hold more.
inline std::string file_param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

}  // namespace bpfvm::testing
