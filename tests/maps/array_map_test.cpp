// BPF_MAP_TYPE_ARRAY and PERCPU_ARRAY against Linux's arraymap.c semantics.
#include "maps/map_test_util.hpp"

#include <sched.h>

namespace bpfvm::test {
namespace {

TEST(ArrayMap, ElementsExistZeroedAndUpdateInPlace) {
  auto map = make_map(MapType::array, 4, 12, 4);
  ASSERT_TRUE(map);
  std::uint32_t key = 3;
  auto* value = static_cast<std::uint8_t*>(map->lookup(&key));
  ASSERT_NE(value, nullptr);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(value[i], 0);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(value) % 8, 0u);
  std::uint8_t in[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  EXPECT_EQ(map->update(&key, in, map_update::any), 0);
  EXPECT_EQ(std::memcmp(value, in, 12), 0);  // the same storage
  std::uint8_t out[12] = {};
  EXPECT_EQ(map->host_lookup(&key, out), 0);
  EXPECT_EQ(std::memcmp(out, in, 12), 0);
}

TEST(ArrayMap, FlagsAndBoundsAsLinux) {
  auto map = make_map(MapType::array, 4, 8, 4);
  ASSERT_TRUE(map);
  std::uint64_t v = 7;
  std::uint32_t key = 1;
  std::uint32_t out_of_range = 4;
  EXPECT_EQ(map->update(&key, &v, map_update::noexist), -EEXIST);
  EXPECT_EQ(map->update(&key, &v, map_update::exist), 0);
  EXPECT_EQ(map->update(&key, &v, 3), -EINVAL);
  EXPECT_EQ(map->update(&key, &v, map_update::lock), -EINVAL);
  EXPECT_EQ(map->update(&out_of_range, &v, map_update::any), -E2BIG);
  EXPECT_EQ(map->update(&out_of_range, &v, 3), -EINVAL);  // flags are checked first
  EXPECT_EQ(map->lookup(&out_of_range), nullptr);
  EXPECT_EQ(map->host_lookup(&out_of_range, &v), -ENOENT);
  EXPECT_EQ(map->erase(&key), -EINVAL);
  EXPECT_EQ(map->host_erase(&key), -EINVAL);
}

TEST(ArrayMap, GetNextKeyWalksIndices) {
  auto map = make_map(MapType::array, 4, 8, 3);
  ASSERT_TRUE(map);
  std::uint32_t next = 99;
  EXPECT_EQ(map->get_next_key(nullptr, &next), 0);
  EXPECT_EQ(next, 0u);
  std::uint32_t key = 0;
  EXPECT_EQ(map->get_next_key(&key, &next), 0);
  EXPECT_EQ(next, 1u);
  key = 2;
  EXPECT_EQ(map->get_next_key(&key, &next), -ENOENT);
  key = 77;  // out of range: starts over
  EXPECT_EQ(map->get_next_key(&key, &next), 0);
  EXPECT_EQ(next, 0u);
}

TEST(ArrayMap, DirectValueIsElementZero) {
  auto map = make_map(MapType::array, 4, 16, 2);
  ASSERT_TRUE(map);
  std::uint32_t key = 1;
  auto* base = static_cast<std::uint8_t*>(map->direct_value());
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(map->lookup(&key), base + 16);
  auto percpu = make_map(MapType::percpu_array, 4, 16, 2);
  ASSERT_TRUE(percpu);
  EXPECT_EQ(percpu->direct_value(), nullptr);
}

TEST(ArrayMap, BatchLookupAndUpdate) {
  auto map = make_map(MapType::array, 4, 4, 5);
  ASSERT_TRUE(map);
  std::uint32_t keys[5] = {0, 1, 2, 3, 4};
  std::uint32_t values[5] = {10, 11, 12, 13, 14};
  std::uint32_t count = 5;
  EXPECT_EQ(map->update_batch(keys, values, count, map_update::any), 0);
  EXPECT_EQ(count, 5u);
  std::uint32_t got_keys[3];
  std::uint32_t got_values[3];
  std::uint32_t cursor;
  count = 3;
  EXPECT_EQ(map->lookup_batch(nullptr, &cursor, got_keys, got_values, count), 0);
  ASSERT_EQ(count, 3u);
  EXPECT_EQ(got_keys[2], 2u);
  EXPECT_EQ(got_values[2], 12u);
  count = 3;
  EXPECT_EQ(map->lookup_batch(&cursor, &cursor, got_keys, got_values, count), -ENOENT);
  ASSERT_EQ(count, 2u);
  EXPECT_EQ(got_keys[0], 3u);
  EXPECT_EQ(got_values[1], 14u);
  // An update batch stops at the first failure and says how far it got.
  std::uint32_t bad_keys[3] = {0, 9, 1};
  count = 3;
  EXPECT_EQ(map->update_batch(bad_keys, values, count, map_update::any), -E2BIG);
  EXPECT_EQ(count, 1u);
}

TEST(ArrayMap, ForEachVisitsEveryIndexUntilStopped) {
  auto map = make_map(MapType::array, 4, 8, 6);
  ASSERT_TRUE(map);
  long seen = map->for_each([](const void*, void*) { return 0L; });
  EXPECT_EQ(seen, 6);
  long stopped = map->for_each([](const void* key, void*) { return read_u32(key) == 2 ? 1L : 0L; });
  EXPECT_EQ(stopped, 3);
}

TEST(PercpuArrayMap, HostSeesOnePaddedValuePerCpu) {
  const unsigned cpus = possible_cpus();
  auto map = make_map(MapType::percpu_array, 4, 4, 2);
  ASSERT_TRUE(map);
  ASSERT_EQ(map->host_value_size(), 8u * cpus);
  std::vector<std::uint8_t> in(map->host_value_size(), 0xee);
  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
    std::uint32_t v = 100 + cpu;
    std::memcpy(in.data() + cpu * 8, &v, 4);
  }
  std::uint32_t key = 1;
  ASSERT_EQ(map->host_update(&key, in.data(), map_update::any), 0);
  std::vector<std::uint8_t> out(map->host_value_size(), 0xaa);
  ASSERT_EQ(map->host_lookup(&key, out.data()), 0);
  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
    EXPECT_EQ(read_u32(out.data() + cpu * 8), 100 + cpu);
    // Linux copies the padding too (bpf_long_memcpy of round_up(value_size, 8)).
    EXPECT_EQ(read_u32(out.data() + cpu * 8 + 4), 0xeeeeeeeeu);
  }
  // The program's view is one CPU's slot; its update writes only that slot.
  auto* mine = static_cast<std::uint32_t*>(map->lookup(&key));
  ASSERT_NE(mine, nullptr);
  const unsigned cpu = current_cpu();
  EXPECT_EQ(*mine, 100 + cpu);
}

TEST(PercpuArrayMap, ProgramUpdateWritesOnlyTheCurrentCpu) {
  const unsigned cpus = possible_cpus();
  auto map = make_map(MapType::percpu_array, 4, 8, 1);
  ASSERT_TRUE(map);
  std::uint32_t key = 0;
  std::uint64_t v = 5;
  // Pin the thread so the slot it writes is the one it reads.
  cpu_set_t old;
  ASSERT_EQ(sched_getaffinity(0, sizeof old, &old), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_EQ(map->update(&key, &v, map_update::any), 0);
  EXPECT_EQ(current_cpu(), 0u);
  ASSERT_EQ(sched_setaffinity(0, sizeof old, &old), 0);
  std::vector<std::uint8_t> out(map->host_value_size());
  ASSERT_EQ(map->host_lookup(&key, out.data()), 0);
  EXPECT_EQ(read_u64(out.data()), 5u);
  for (unsigned cpu = 1; cpu < cpus; ++cpu) EXPECT_EQ(read_u64(out.data() + cpu * 8), 0u);
}

}  // namespace
}  // namespace bpfvm::test
