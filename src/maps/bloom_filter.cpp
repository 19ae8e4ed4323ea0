// BPF_MAP_TYPE_BLOOM_FILTER (kernel/bpf/bloom_filter.c): push adds a value, peek answers 0
// when it may be present and -ENOENT when it certainly is not. map_extra's low 4 bits are the
// number of hash functions (0 means 5). The bit array holds about max_entries * hashes / ln 2
// bits rounded up to a power of two, as Linux sizes it; bits are set with atomic OR, so
// pushes and peeks need no lock.
#include "maps/keyless_map.hpp"

#include <vector>

namespace bpfvm::maps {
namespace {

class BloomFilterMap final : public KeylessMap {
 public:
  explicit BloomFilterMap(const MapSpec& spec)
      : KeylessMap(spec, -EOPNOTSUPP),
        hashes_(spec.map_extra == 0 ? 5 : static_cast<unsigned>(spec.map_extra & 0xf)),
        seed_(new_hash_seed(spec.flags)) {
    // nr_bits = max_entries * nr_hashes / ln(2), ln(2) taken as 5/7 as Linux does.
    std::uint64_t wanted = std::uint64_t{spec.max_entries} * hashes_ * 7 / 5;
    std::uint64_t bits = 64;
    while (bits < wanted && bits < (std::uint64_t{1} << 32)) bits <<= 1;
    mask_ = bits - 1;
    words_ = std::vector<std::atomic<std::uint64_t>>(bits / 64);
  }

  int push(const void* value, std::uint64_t flags) override {
    if (flags != map_update::any) return -EINVAL;
    for (unsigned i = 0; i < hashes_; ++i) {
      std::uint64_t b = bit(value, i);
      words_[b / 64].fetch_or(std::uint64_t{1} << (b % 64), std::memory_order_relaxed);
    }
    return 0;
  }
  int peek(void* value) override {
    for (unsigned i = 0; i < hashes_; ++i) {
      std::uint64_t b = bit(value, i);
      if ((words_[b / 64].load(std::memory_order_relaxed) & (std::uint64_t{1} << (b % 64))) == 0) {
        return -ENOENT;
      }
    }
    return 0;
  }
  int pop(void*) override { return -EOPNOTSUPP; }

 private:
  std::uint64_t bit(const void* value, unsigned i) const {
    return hash_bytes(value, spec().value_size, seed_ + i * 0x9e3779b97f4a7c15ull) & mask_;
  }

  const unsigned hashes_;
  const std::uint64_t seed_;
  std::uint64_t mask_ = 0;
  std::vector<std::atomic<std::uint64_t>> words_;
};

}  // namespace

Result<std::shared_ptr<Map>> make_bloom_filter(const MapSpec& spec) {
  return std::shared_ptr<Map>(std::make_shared<BloomFilterMap>(spec));
}

}  // namespace bpfvm::maps
