// array_of_maps, hash_of_maps, prog_array and pinning.
#include "maps/epoch.hpp"
#include "maps/map_test_util.hpp"

namespace bpfvm::test {
namespace {

MapSpec outer_spec(MapType type, std::uint32_t key_size, const MapSpec& inner) {
  MapSpec spec = map_spec(type, key_size, 4, 4);
  spec.inner = std::make_shared<MapSpec>(inner);
  return spec;
}

TEST(MapOfMaps, LookupReturnsTheInnerMap) {
  MapSpec inner = map_spec(MapType::array, 4, 8, 2);
  for (MapType type : {MapType::array_of_maps, MapType::hash_of_maps}) {
    SCOPED_TRACE(std::string(map_type_name(type)));
    auto outer_map = make_map(outer_spec(type, 4, inner));
    auto outer = std::dynamic_pointer_cast<MapOfMaps>(outer_map);
    ASSERT_TRUE(outer);
    auto a = make_map(inner);
    ASSERT_TRUE(a);
    std::uint32_t key = 1;
    EXPECT_EQ(outer->lookup(&key), nullptr);
    ASSERT_EQ(outer->set(&key, a), 0);
    EXPECT_EQ(outer->lookup(&key), a.get());
    std::uint32_t next = 9;
    ASSERT_EQ(outer->get_next_key(nullptr, &next), 0);
    // Inner maps are kept alive by the outer map, and by a read guard after removal.
    Map* raw = a.get();
    std::weak_ptr<Map> weak = a;
    a.reset();
    {
      MapReadGuard guard;
      EXPECT_EQ(outer->lookup(&key), raw);
      ASSERT_EQ(outer->erase(&key), 0);
      EXPECT_EQ(outer->lookup(&key), nullptr);
      for (int i = 0; i < 8; ++i) maps::epoch::collect();
      EXPECT_FALSE(weak.expired()) << "freed while a guard may still use it";
      std::uint32_t k = 0;
      EXPECT_NE(raw->lookup(&k), nullptr);
    }
    for (int i = 0; i < 200 && !weak.expired(); ++i) maps::epoch::collect();
    EXPECT_TRUE(weak.expired());
    EXPECT_EQ(outer->erase(&key), -ENOENT);
  }
}

TEST(MapOfMaps, InnerMapsMustMatchTheTemplate) {
  MapSpec inner = map_spec(MapType::hash, 4, 8, 16);
  auto outer =
      std::dynamic_pointer_cast<MapOfMaps>(make_map(outer_spec(MapType::array_of_maps, 4, inner)));
  ASSERT_TRUE(outer);
  std::uint32_t key = 0;
  EXPECT_EQ(outer->set(&key, make_map(MapType::hash, 4, 8, 32)), -EINVAL);
  EXPECT_EQ(outer->set(&key, make_map(MapType::hash, 4, 4, 16)), -EINVAL);
  EXPECT_EQ(outer->set(&key, make_map(MapType::lru_hash, 4, 8, 16)), -EINVAL);
  EXPECT_EQ(outer->set(&key, make_map(MapType::hash, 4, 8, 16)), 0);
  std::uint32_t out_of_range = 4;
  EXPECT_EQ(outer->set(&out_of_range, make_map(MapType::hash, 4, 8, 16)), -E2BIG);
  EXPECT_EQ(outer->erase(&out_of_range), -E2BIG);
  // BPF_F_INNER_MAP on an array template lets max_entries differ.
  MapSpec flexible = map_spec(MapType::array, 4, 8, 2, 1u << 12);
  auto outer2 = std::dynamic_pointer_cast<MapOfMaps>(
      make_map(outer_spec(MapType::hash_of_maps, 8, flexible)));
  ASSERT_TRUE(outer2);
  std::uint64_t key8 = 77;
  EXPECT_EQ(outer2->set(&key8, make_map(MapType::array, 4, 8, 100, 1u << 12)), 0);
}

TEST(MapOfMaps, NeedsAnInnerSpec) {
  auto missing = Map::create(map_spec(MapType::array_of_maps, 4, 4, 4));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("inner"), std::string::npos);
}

TEST(ProgramArray, SlotsHoldProgramsByIndex) {
  auto map = std::dynamic_pointer_cast<ProgramArrayMap>(make_map(MapType::prog_array, 4, 4, 3));
  ASSERT_TRUE(map);
  EXPECT_EQ(map->get(0), nullptr);
  EXPECT_EQ(map->get(7), nullptr);
  // Program is opaque here; any object owned through shared_ptr<const Program> will do.
  int sentinel = 0;
  std::shared_ptr<const Program> program(reinterpret_cast<const Program*>(&sentinel),
                                         [](const Program*) {});
  EXPECT_EQ(map->set(1, program), 0);
  EXPECT_EQ(map->get(1), program.get());
  EXPECT_EQ(map->set(5, program), -E2BIG);
  std::uint32_t key = 1;
  EXPECT_EQ(map->erase(&key), 0);
  EXPECT_EQ(map->erase(&key), -ENOENT);
  EXPECT_EQ(map->get(1), nullptr);
  EXPECT_EQ(map->lookup(&key), nullptr);
  std::uint32_t next;
  ASSERT_EQ(map->get_next_key(&key, &next), 0);
  EXPECT_EQ(next, 2u);
}

TEST(Pinning, PinGetUnpin) {
  auto map = make_map(MapType::array, 4, 4, 1);
  ASSERT_TRUE(map);
  std::weak_ptr<Map> weak = map;
  ASSERT_TRUE(pin_map("/sys/fs/bpf/test_pin", map).ok());
  EXPECT_FALSE(pin_map("/sys/fs/bpf/test_pin", map).ok());
  EXPECT_FALSE(pin_map("", map).ok());
  EXPECT_FALSE(pin_map("/sys/fs/bpf/null", nullptr).ok());
  map.reset();
  EXPECT_FALSE(weak.expired()) << "the pin keeps the map alive";
  EXPECT_EQ(pinned_map("/sys/fs/bpf/test_pin"), weak.lock());
  EXPECT_EQ(pinned_map("/sys/fs/bpf/other"), nullptr);
  ASSERT_TRUE(unpin_map("/sys/fs/bpf/test_pin").ok());
  auto again = unpin_map("/sys/fs/bpf/test_pin");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("ENOENT"), std::string::npos);
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace bpfvm::test
