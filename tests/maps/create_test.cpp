// Map::create checks the spec as Linux's BPF_MAP_CREATE does and names the field and errno.
// kernel_map_test.cpp compares the same table with the kernel.
#include "maps/create_cases.hpp"
#include "maps/map_test_util.hpp"

#include <gmock/gmock.h>

namespace bpfvm::test {
namespace {

using ::testing::HasSubstr;

TEST(MapCreate, CasesGiveTheExpectedErrno) {
  for (const CreateCase& c : create_cases()) {
    SCOPED_TRACE(c.label);
    auto map = Map::create(c.spec);
    if (c.expected_errno == nullptr) {
      ASSERT_TRUE(map.ok()) << map.error().to_string();
      EXPECT_EQ((*map)->type(), c.spec.type);
    } else {
      ASSERT_FALSE(map.ok());
      EXPECT_THAT(map.error().message, HasSubstr(std::string("(") + c.expected_errno + ")"));
      if (c.field != nullptr) {
        EXPECT_THAT(map.error().message, HasSubstr(c.field));
      }
    }
  }
}

TEST(MapCreate, UnsupportedTypesSaySo) {
  auto map = Map::create(map_spec(MapType::cgroup_storage, 8, 8, 0));
  ASSERT_FALSE(map.ok());
  EXPECT_THAT(map.error().message, HasSubstr("cgroup_storage"));
  auto bad = Map::create(map_spec(static_cast<MapType>(999), 4, 4, 4));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("999"));
}

TEST(MapCreate, ExtremeSizesFailCleanlyOrWork) {
  // Nothing a spec says may crash or exhaust memory: too large is an error, as in Linux.
  for (MapType type : {MapType::array, MapType::percpu_array, MapType::hash, MapType::lru_hash,
                       MapType::percpu_hash, MapType::queue, MapType::stack, MapType::lpm_trie,
                       MapType::prog_array}) {
    SCOPED_TRACE(std::string(map_type_name(type)));
    const bool keyless = type == MapType::queue || type == MapType::stack;
    const std::uint32_t key_size = keyless ? 0 : type == MapType::lpm_trie ? 8 : 4;
    const std::uint32_t value_size = type == MapType::prog_array ? 4 : 1u << 15;
    const std::uint32_t flags = type == MapType::lpm_trie ? map_flag::no_prealloc : 0;
    auto map = Map::create(map_spec(type, key_size, value_size, 0xffffffffu, flags));
    if (type == MapType::lpm_trie) {
      EXPECT_TRUE(map.ok());  // nothing is preallocated
    } else {
      ASSERT_FALSE(map.ok());
      EXPECT_THAT(map.error().message, ::testing::ContainsRegex("E2BIG|ENOMEM"));
    }
  }
}

TEST(MapCreate, TypeNamesAreBpftools) {
  EXPECT_EQ(map_type_name(MapType::hash), "hash");
  EXPECT_EQ(map_type_name(MapType::lru_percpu_hash), "lru_percpu_hash");
  EXPECT_EQ(map_type_name(MapType::lpm_trie), "lpm_trie");
  EXPECT_EQ(map_type_name(MapType::bloom_filter), "bloom_filter");
  EXPECT_EQ(map_type_name(MapType::ringbuf), "ringbuf");
  EXPECT_EQ(map_type_name(static_cast<MapType>(1000)), "unknown");
}

TEST(MapCreate, HostValueSizeIsPaddedPerCpu) {
  auto array = make_map(MapType::array, 4, 5, 1);
  auto percpu = make_map(MapType::percpu_array, 4, 5, 1);
  auto percpu_hash = make_map(MapType::percpu_hash, 4, 12, 1);
  ASSERT_TRUE(array && percpu && percpu_hash);
  EXPECT_EQ(array->host_value_size(), 5u);
  EXPECT_EQ(percpu->host_value_size(), 8u * possible_cpus());
  EXPECT_EQ(percpu_hash->host_value_size(), 16u * possible_cpus());
}

TEST(MapCpus, CurrentCpuIsBelowPossible) {
  EXPECT_GE(possible_cpus(), 1u);
  EXPECT_LT(current_cpu(), possible_cpus());
}

}  // namespace
}  // namespace bpfvm::test
