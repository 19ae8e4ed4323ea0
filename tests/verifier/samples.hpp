// Random abstract values of many shapes, and random concrete members of them, for the
// soundness properties.
#pragma once

#include "verifier/scalar_value.hpp"

#include <cstdint>
#include <random>
#include <vector>

namespace bpfvm::verifier::testing {

class Samples {
 public:
  explicit Samples(std::uint64_t seed) : rng_(seed) {}

  // A value worth testing: an edge (0, 1, -1, INT_MIN, UINT32_MAX, ...), near one, small,
  // or random.
  std::uint64_t value();
  // An abstract value: a constant, a small or wide unsigned or signed range, a tnum with a few
  // unknown bits, a range of the low half only, a load's result, a join, unknown.
  ScalarValue abstract();
  // An abstract value related to `other` (so that comparisons can go both ways): a member
  // as a constant, the same value, a neighbouring range, or an unrelated one.
  ScalarValue related(const ScalarValue& other);
  // Up to `count` members of v (its bounds' ends and random members found by rejection).
  std::vector<std::uint64_t> members(const ScalarValue& v, int count);

  std::uint64_t bits() { return rng_(); }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }

 private:
  std::uint64_t candidate(const ScalarValue& v);
  std::mt19937_64 rng_;
};

}  // namespace bpfvm::verifier::testing
