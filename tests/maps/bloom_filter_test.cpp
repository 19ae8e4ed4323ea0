// BPF_MAP_TYPE_BLOOM_FILTER against Linux's bloom_filter.c.
#include "maps/map_test_util.hpp"

namespace bpfvm::test {
namespace {

TEST(BloomFilter, PushedValuesAreFoundOthersMostlyNot) {
  MapSpec spec = map_spec(MapType::bloom_filter, 0, 8, 1000);
  spec.map_extra = 3;
  auto map = make_map(spec);
  ASSERT_TRUE(map);
  for (std::uint64_t v = 0; v < 1000; ++v) ASSERT_EQ(map->push(&v, 0), 0);
  for (std::uint64_t v = 0; v < 1000; ++v) EXPECT_EQ(map->peek(&v), 0) << v;
  int false_positives = 0;
  for (std::uint64_t v = 1000000; v < 1010000; ++v) false_positives += map->peek(&v) == 0;
  EXPECT_LT(false_positives, 1000);  // ~3.6% expected at 3 hashes, 6 bits per value
}

TEST(BloomFilter, OperationsAsLinux) {
  auto map = make_map(MapType::bloom_filter, 0, 4, 16);
  ASSERT_TRUE(map);
  std::uint32_t v = 5;
  EXPECT_EQ(map->peek(&v), -ENOENT);
  EXPECT_EQ(map->push(&v, map_update::noexist), -EINVAL);
  EXPECT_EQ(map->push(&v, map_update::exist), -EINVAL);
  EXPECT_EQ(map->host_update(nullptr, &v, 0), 0);
  EXPECT_EQ(map->host_lookup(nullptr, &v), 0);
  EXPECT_EQ(map->pop(&v), -EOPNOTSUPP);
  EXPECT_EQ(map->host_erase(nullptr), -EOPNOTSUPP);
  EXPECT_EQ(map->lookup(&v), nullptr);
  std::uint32_t next;
  EXPECT_EQ(map->get_next_key(nullptr, &next), -EOPNOTSUPP);
}

}  // namespace
}  // namespace bpfvm::test
