// BPF_MAP_TYPE_HASH / PERCPU_HASH / LRU_HASH / LRU_PERCPU_HASH against Linux's hashtab.c.
#include "maps/epoch.hpp"
#include "maps/map_test_util.hpp"

#include <sched.h>

#include <algorithm>
#include <set>

namespace bpfvm::test {
namespace {

TEST(HashMap, FlagsAsLinux) {
  auto map = make_map(MapType::hash, 4, 8, 4);
  ASSERT_TRUE(map);
  std::uint32_t key = 42;
  std::uint64_t v = 1;
  EXPECT_EQ(map->update(&key, &v, map_update::exist), -ENOENT);
  EXPECT_EQ(map->update(&key, &v, map_update::noexist), 0);
  EXPECT_EQ(map->update(&key, &v, map_update::noexist), -EEXIST);
  v = 2;
  EXPECT_EQ(map->update(&key, &v, map_update::exist), 0);
  EXPECT_EQ(read_u64(map->lookup(&key)), 2u);
  EXPECT_EQ(map->update(&key, &v, 3), -EINVAL);
  EXPECT_EQ(map->update(&key, &v, map_update::lock), -EINVAL);
  EXPECT_EQ(map->erase(&key), 0);
  EXPECT_EQ(map->erase(&key), -ENOENT);
  EXPECT_EQ(map->lookup(&key), nullptr);
  EXPECT_EQ(map->host_lookup(&key, &v), -ENOENT);
}

TEST(HashMap, FullMapRefusesNewKeysButReplacesOld) {
  auto map = make_map(MapType::hash, 4, 8, 3);
  ASSERT_TRUE(map);
  std::uint64_t v = 0;
  for (std::uint32_t k = 0; k < 3; ++k) ASSERT_EQ(map->update(&k, &v, map_update::any), 0);
  std::uint32_t extra = 3;
  EXPECT_EQ(map->update(&extra, &v, map_update::any), -E2BIG);
  EXPECT_EQ(map->update(&extra, &v, map_update::exist), -ENOENT);  // flags before room
  std::uint32_t old = 1;
  v = 9;
  EXPECT_EQ(map->update(&old, &v, map_update::any), 0);
  EXPECT_EQ(read_u64(map->lookup(&old)), 9u);
  EXPECT_EQ(map->erase(&old), 0);
  EXPECT_EQ(map->update(&extra, &v, map_update::noexist), 0);
}

TEST(HashMap, OddKeySizesCompareEveryByte) {
  auto map = make_map(MapType::hash, 13, 3, 64);
  ASSERT_TRUE(map);
  std::array<std::uint8_t, 13> a{};
  std::array<std::uint8_t, 13> b{};
  b[12] = 1;
  std::uint8_t va[3] = {1, 1, 1};
  std::uint8_t vb[3] = {2, 2, 2};
  ASSERT_EQ(map->update(a.data(), va, 0), 0);
  ASSERT_EQ(map->update(b.data(), vb, 0), 0);
  EXPECT_EQ(static_cast<std::uint8_t*>(map->lookup(a.data()))[0], 1);
  EXPECT_EQ(static_cast<std::uint8_t*>(map->lookup(b.data()))[0], 2);
}

TEST(HashMap, GetNextKeyVisitsEveryKeyOnce) {
  auto map = make_map(MapType::hash, 4, 4, 100);
  ASSERT_TRUE(map);
  for (std::uint32_t k = 0; k < 100; ++k) ASSERT_EQ(map->update(&k, &k, 0), 0);
  std::set<std::uint32_t> seen;
  std::uint32_t key;
  const void* cursor = nullptr;
  std::uint32_t next;
  while (map->get_next_key(cursor, &next) == 0) {
    EXPECT_TRUE(seen.insert(next).second) << next;
    key = next;
    cursor = &key;
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(HashMap, WalkSurvivesDeletingTheCurrentKey) {
  // The classic loop: get the next key, delete the current one. Linux restarts from the first
  // key when the current one is gone, so the loop still empties the map.
  auto map = make_map(MapType::hash, 4, 4, 50);
  ASSERT_TRUE(map);
  for (std::uint32_t k = 0; k < 50; ++k) ASSERT_EQ(map->update(&k, &k, 0), 0);
  std::uint32_t key;
  ASSERT_EQ(map->get_next_key(nullptr, &key), 0);
  int steps = 0;
  for (;;) {
    std::uint32_t next;
    int rc = map->get_next_key(&key, &next);
    ASSERT_EQ(map->erase(&key), 0);
    if (rc != 0) break;
    key = next;
    ASSERT_LT(++steps, 1000);
  }
  std::uint32_t any;
  EXPECT_EQ(map->get_next_key(nullptr, &any), -ENOENT);
}

TEST(HashMap, MissingKeyRestartsTheWalk) {
  auto map = make_map(MapType::hash, 4, 4, 8);
  ASSERT_TRUE(map);
  for (std::uint32_t k = 0; k < 5; ++k) ASSERT_EQ(map->update(&k, &k, 0), 0);
  std::uint32_t first;
  ASSERT_EQ(map->get_next_key(nullptr, &first), 0);
  std::uint32_t missing = 1000;
  std::uint32_t next;
  ASSERT_EQ(map->get_next_key(&missing, &next), 0);
  EXPECT_EQ(next, first);
}

TEST(HashMap, LookupAndEraseReturnsTheValue) {
  auto map = make_map(MapType::hash, 4, 8, 4);
  ASSERT_TRUE(map);
  std::uint32_t key = 5;
  std::uint64_t v = 55;
  ASSERT_EQ(map->update(&key, &v, 0), 0);
  std::uint64_t out = 0;
  EXPECT_EQ(map->host_lookup_and_erase(&key, &out), 0);
  EXPECT_EQ(out, 55u);
  EXPECT_EQ(map->host_lookup_and_erase(&key, &out), -ENOENT);
}

TEST(HashMap, ValueStaysValidUnderGuardAfterDelete) {
  auto map = make_map(MapType::hash, 4, 8, 4);
  ASSERT_TRUE(map);
  std::uint32_t key = 1;
  std::uint64_t v = 0x1111111111111111;
  ASSERT_EQ(map->update(&key, &v, 0), 0);
  {
    MapReadGuard guard;
    auto* value = static_cast<std::uint64_t*>(map->lookup(&key));
    ASSERT_NE(value, nullptr);
    std::uint64_t replacement = 0x2222222222222222;
    ASSERT_EQ(map->update(&key, &replacement, 0), 0);  // replaces the element
    ASSERT_EQ(map->erase(&key), 0);
    for (int i = 0; i < 200; ++i) maps::epoch::collect();
    EXPECT_EQ(*value, 0x1111111111111111u);  // ASan would flag a freed value here
    EXPECT_GE(maps::epoch::pending(), 1u);
  }
  for (int i = 0; i < 4; ++i) maps::epoch::collect();
}

TEST(HashMap, BatchWalkReturnsEveryElement) {
  auto map = make_map(MapType::hash, 4, 4, 64);
  ASSERT_TRUE(map);
  std::vector<std::uint32_t> keys(40), values(40);
  for (std::uint32_t i = 0; i < 40; ++i) {
    keys[i] = i * 7;
    values[i] = i * 7 + 1;
  }
  std::uint32_t count = 40;
  ASSERT_EQ(map->update_batch(keys.data(), values.data(), count, map_update::noexist), 0);
  std::set<std::uint32_t> seen;
  std::uint32_t cursor = 0;
  bool first = true;
  for (int rounds = 0; rounds < 100; ++rounds) {
    std::uint32_t got_keys[16];
    std::uint32_t got_values[16];
    count = 16;
    int rc = map->lookup_batch(first ? nullptr : &cursor, &cursor, got_keys, got_values, count);
    first = false;
    for (std::uint32_t i = 0; i < count; ++i) {
      EXPECT_EQ(got_values[i], got_keys[i] + 1);
      seen.insert(got_keys[i]);
    }
    if (rc == -ENOENT) break;
    ASSERT_EQ(rc, 0);
  }
  EXPECT_EQ(seen.size(), 40u);
  count = 1;
  EXPECT_EQ(map->update_batch(keys.data(), values.data(), count, map_update::noexist), -EEXIST);
  EXPECT_EQ(count, 0u);
}

TEST(HashMap, ForEachVisitsAll) {
  auto map = make_map(MapType::hash, 4, 4, 16);
  ASSERT_TRUE(map);
  for (std::uint32_t k = 0; k < 10; ++k) ASSERT_EQ(map->update(&k, &k, 0), 0);
  std::uint32_t sum = 0;
  EXPECT_EQ(map->for_each([&](const void* key, void* value) {
    EXPECT_EQ(read_u32(key), read_u32(value));
    sum += read_u32(value);
    return 0L;
  }),
            10);
  EXPECT_EQ(sum, 45u);
}

TEST(PercpuHashMap, HostLayoutAndInPlaceProgramUpdate) {
  const unsigned cpus = possible_cpus();
  auto map = make_map(MapType::percpu_hash, 4, 4, 4);
  ASSERT_TRUE(map);
  std::vector<std::uint8_t> in(map->host_value_size());
  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
    std::uint32_t v = 10 * (cpu + 1);
    std::memcpy(in.data() + 8 * cpu, &v, 4);
  }
  std::uint32_t key = 3;
  ASSERT_EQ(map->host_update(&key, in.data(), 0), 0);
  std::vector<std::uint8_t> out(map->host_value_size(), 0xff);
  ASSERT_EQ(map->host_lookup(&key, out.data()), 0);
  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
    EXPECT_EQ(read_u32(out.data() + 8 * cpu), 10 * (cpu + 1));
    EXPECT_EQ(read_u32(out.data() + 8 * cpu + 4), 0u);
  }
  auto* slot = static_cast<std::uint32_t*>(map->lookup(&key));
  ASSERT_NE(slot, nullptr);
  EXPECT_EQ(*slot, 10 * (current_cpu() + 1));
  // A program's update of an existing element changes its CPU's slot only (in place).
  std::uint32_t v = 7;
  cpu_set_t old;
  ASSERT_EQ(sched_getaffinity(0, sizeof old, &old), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_EQ(map->update(&key, &v, map_update::exist), 0);
  ASSERT_EQ(sched_setaffinity(0, sizeof old, &old), 0);
  ASSERT_EQ(map->host_lookup(&key, out.data()), 0);
  EXPECT_EQ(read_u32(out.data()), 7u);
  for (unsigned cpu = 1; cpu < cpus; ++cpu)
    EXPECT_EQ(read_u32(out.data() + 8 * cpu), 10 * (cpu + 1));
  // A new element from a program: its CPU's slot set, the others zero.
  std::uint32_t fresh = 4;
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_EQ(map->update(&fresh, &v, map_update::noexist), 0);
  ASSERT_EQ(sched_setaffinity(0, sizeof old, &old), 0);
  ASSERT_EQ(map->host_lookup(&fresh, out.data()), 0);
  EXPECT_EQ(read_u32(out.data()), 7u);
  for (unsigned cpu = 1; cpu < cpus; ++cpu) EXPECT_EQ(read_u32(out.data() + 8 * cpu), 0u);
}

// LRU: the simple cases where Linux's order is clear (tools/testing/selftests/bpf/
// test_lru_map.c, test_lru_sanity1 and 2, scaled down to one element of eviction).
std::set<std::uint32_t> keys_of(Map& map) {
  std::set<std::uint32_t> keys;
  std::uint32_t key;
  const void* cursor = nullptr;
  std::uint32_t next;
  while (map.get_next_key(cursor, &next) == 0) {
    keys.insert(next);
    key = next;
    cursor = &key;
  }
  return keys;
}

TEST(LruHashMap, EvictsTheOldestWhenFull) {
  auto map = make_map(MapType::lru_hash, 4, 8, 4);
  ASSERT_TRUE(map);
  std::uint64_t v = 0;
  for (std::uint32_t k = 1; k <= 4; ++k) ASSERT_EQ(map->update(&k, &v, 0), 0);
  std::uint32_t k5 = 5;
  EXPECT_EQ(map->update(&k5, &v, map_update::noexist), 0);  // never -E2BIG
  EXPECT_EQ(keys_of(*map), (std::set<std::uint32_t>{2, 3, 4, 5}));
  std::uint32_t k6 = 6;
  EXPECT_EQ(map->update(&k6, &v, 0), 0);
  EXPECT_EQ(keys_of(*map), (std::set<std::uint32_t>{3, 4, 5, 6}));
}

TEST(LruHashMap, LookedUpElementsGetASecondChance) {
  auto map = make_map(MapType::lru_hash, 4, 8, 4);
  ASSERT_TRUE(map);
  std::uint64_t v = 0;
  for (std::uint32_t k = 1; k <= 4; ++k) ASSERT_EQ(map->update(&k, &v, 0), 0);
  std::uint32_t k1 = 1;
  ASSERT_NE(map->lookup(&k1), nullptr);  // sets the reference bit
  std::uint32_t k5 = 5;
  ASSERT_EQ(map->update(&k5, &v, 0), 0);
  EXPECT_EQ(keys_of(*map), (std::set<std::uint32_t>{1, 3, 4, 5}));
  // The host's lookup does not count as a use (Linux: htab_lru_map_lookup_elem_sys).
  std::uint32_t k3 = 3;
  ASSERT_EQ(map->host_lookup(&k3, &v), 0);
  std::uint32_t k6 = 6;
  ASSERT_EQ(map->update(&k6, &v, 0), 0);
  EXPECT_EQ(keys_of(*map), (std::set<std::uint32_t>{1, 4, 5, 6}));
}

TEST(LruHashMap, UpdatingAKeyMakesItNewest) {
  auto map = make_map(MapType::lru_hash, 4, 8, 3);
  ASSERT_TRUE(map);
  std::uint64_t v = 0;
  for (std::uint32_t k = 1; k <= 3; ++k) ASSERT_EQ(map->update(&k, &v, 0), 0);
  std::uint32_t k1 = 1;
  v = 11;
  ASSERT_EQ(map->update(&k1, &v, map_update::exist), 0);
  std::uint32_t k4 = 4;
  ASSERT_EQ(map->update(&k4, &v, 0), 0);
  EXPECT_EQ(keys_of(*map), (std::set<std::uint32_t>{1, 3, 4}));
  EXPECT_EQ(read_u64(map->lookup(&k1)), 11u);
}

TEST(LruHashMap, DeleteFreesRoomWithoutEviction) {
  auto map = make_map(MapType::lru_percpu_hash, 4, 8, 3);
  ASSERT_TRUE(map);
  std::vector<std::uint8_t> value(map->host_value_size());
  for (std::uint32_t k = 1; k <= 3; ++k) ASSERT_EQ(map->host_update(&k, value.data(), 0), 0);
  std::uint32_t k2 = 2;
  ASSERT_EQ(map->host_erase(&k2), 0);
  std::uint32_t k4 = 4;
  ASSERT_EQ(map->host_update(&k4, value.data(), 0), 0);
  EXPECT_EQ(keys_of(*map), (std::set<std::uint32_t>{1, 3, 4}));
  EXPECT_EQ(map->host_lookup_and_erase(&k4, value.data()), 0);
  EXPECT_EQ(keys_of(*map), (std::set<std::uint32_t>{1, 3}));
}

}  // namespace
}  // namespace bpfvm::test
