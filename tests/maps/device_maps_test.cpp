// perf_event_array (records, slots, loss) and the maps whose values the host sets: devmap,
// devmap_hash, cpumap, xskmap (only set keys exist), sockmap/sockhash (creatable, empty).
#include "maps/map_test_util.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace bpfvm::test {
namespace {

std::shared_ptr<Map> make(MapType type, std::uint32_t key, std::uint32_t value,
                          std::uint32_t entries) {
  auto map = Map::create(map_spec(type, key, value, entries));
  EXPECT_TRUE(map.ok()) << map.error().to_string();
  return map.ok() ? *map : nullptr;
}

TEST(PerfEventArray, RecordsComeOutPerSlotInOrder) {
  auto map = make(MapType::perf_event_array, 4, 4, 2);
  auto* perf = dynamic_cast<PerfEventArrayMap*>(map.get());
  ASSERT_NE(perf, nullptr);
  EXPECT_EQ(perf->output(1, "b1", 2), 0);
  EXPECT_EQ(perf->output(0, "a1", 2), 0);
  EXPECT_EQ(perf->output(1, "b22", 3), 0);
  EXPECT_EQ(perf->output(2, "x", 1), -E2BIG);
  std::vector<std::string> seen;
  long n = perf->consume([&](std::uint32_t slot, const void* data, std::size_t size) {
    seen.push_back(std::to_string(slot) + ":" + std::string(static_cast<const char*>(data), size));
    return 0;
  });
  EXPECT_EQ(n, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"0:a1", "1:b1", "1:b22"}));
  // The callback stops the walk; what it did not see stays.
  EXPECT_EQ(perf->output(0, "c", 1), 0);
  EXPECT_EQ(perf->output(0, "d", 1), 0);
  EXPECT_EQ(perf->consume([](std::uint32_t, const void*, std::size_t) { return 1; }), 1);
  EXPECT_EQ(perf->consume([](std::uint32_t, const void*, std::size_t) { return 0; }), 1);
}

TEST(PerfEventArray, FullBufferLosesRecordsAndClosedSlotsRefuse) {
  auto map = make(MapType::perf_event_array, 4, 4, 1);
  auto* perf = dynamic_cast<PerfEventArrayMap*>(map.get());
  ASSERT_NE(perf, nullptr);
  std::vector<std::uint8_t> record(1000, 7);
  // 8-byte header + round_up(1000 + 4, 8) = 1016 bytes each.
  const std::size_t fit = PerfEventArrayMap::perf_buffer_bytes / 1016;
  for (std::size_t i = 0; i < fit; ++i) ASSERT_EQ(perf->output(0, record.data(), 1000), 0);
  EXPECT_EQ(perf->output(0, record.data(), 1000), -ENOSPC);
  EXPECT_EQ(perf->lost(0), 1u);
  EXPECT_EQ(perf->consume([](std::uint32_t, const void*, std::size_t) { return 0; }),
            static_cast<long>(fit));
  EXPECT_EQ(perf->output(0, record.data(), 1000), 0);  // room again

  std::uint32_t slot = 0, fd = 3;
  EXPECT_EQ(map->host_erase(&slot), 0);
  EXPECT_EQ(map->host_erase(&slot), -ENOENT);
  EXPECT_EQ(perf->output(0, "x", 1), -ENOENT);
  EXPECT_EQ(map->host_update(&slot, &fd, map_update::any), 0);
  EXPECT_EQ(perf->output(0, "x", 1), 0);
  EXPECT_EQ(map->host_lookup(&slot, &fd), -EOPNOTSUPP);
  EXPECT_EQ(map->lookup(&slot), nullptr);
}

TEST(DeviceMaps, OnlyKeysTheHostSetExist) {
  for (MapType type : {MapType::devmap, MapType::cpumap, MapType::xskmap, MapType::devmap_hash}) {
    SCOPED_TRACE(std::string(map_type_name(type)));
    auto map = make(type, 4, 4, 4);
    ASSERT_NE(map, nullptr);
    const std::uint32_t two = 2, ifindex = 1;
    EXPECT_EQ(map->lookup(&two), nullptr);
    EXPECT_EQ(map->host_update(&two, &ifindex, map_update::any), 0);
    void* value = map->lookup(&two);
    ASSERT_NE(value, nullptr);
    EXPECT_EQ(std::memcmp(value, &ifindex, 4), 0);
    std::uint32_t out = 0;
    EXPECT_EQ(map->host_lookup(&two, &out), 0);
    EXPECT_EQ(out, ifindex);
    // Programs only look these maps up.
    EXPECT_EQ(map->update(&two, &ifindex, map_update::any), -EOPNOTSUPP);
    const std::uint32_t nine = 9;
    if (type != MapType::devmap_hash) {
      EXPECT_EQ(map->host_update(&nine, &ifindex, map_update::any), -E2BIG);
      EXPECT_EQ(map->lookup(&nine), nullptr);
    }
    EXPECT_EQ(map->host_erase(&two), 0);
    EXPECT_EQ(map->lookup(&two), nullptr);
  }
}

TEST(DeviceMaps, SocketMapsAreCreatableAndEmpty) {
  for (MapType type : {MapType::sockmap, MapType::sockhash}) {
    auto map = make(type, 4, 4, 4);
    ASSERT_NE(map, nullptr);
    const std::uint32_t key = 1, fd = 5;
    EXPECT_EQ(map->host_update(&key, &fd, map_update::any), -EOPNOTSUPP);
    EXPECT_EQ(map->lookup(&key), nullptr);
  }
}

}  // namespace
}  // namespace bpfvm::test
