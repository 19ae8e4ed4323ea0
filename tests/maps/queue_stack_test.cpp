// BPF_MAP_TYPE_QUEUE and STACK against Linux's queue_stack_maps.c.
#include "maps/map_test_util.hpp"

namespace bpfvm::test {
namespace {

TEST(QueueMap, FifoEmptyFullAndOverwrite) {
  auto map = make_map(MapType::queue, 0, 4, 3);
  ASSERT_TRUE(map);
  std::uint32_t v = 0;
  EXPECT_EQ(map->pop(&v), -ENOENT);
  EXPECT_EQ(map->peek(&v), -ENOENT);
  for (std::uint32_t i = 1; i <= 3; ++i) ASSERT_EQ(map->push(&i, 0), 0);
  std::uint32_t four = 4;
  EXPECT_EQ(map->push(&four, map_update::any), -E2BIG);
  EXPECT_EQ(map->push(&four, map_update::noexist), -EINVAL);
  EXPECT_EQ(map->push(&four, 3), -EINVAL);
  EXPECT_EQ(map->push(&four, map_update::exist), 0);  // drops the oldest (1)
  EXPECT_EQ(map->peek(&v), 0);
  EXPECT_EQ(v, 2u);
  for (std::uint32_t want : {2u, 3u, 4u}) {
    ASSERT_EQ(map->pop(&v), 0);
    EXPECT_EQ(v, want);
  }
  EXPECT_EQ(map->pop(&v), -ENOENT);
}

TEST(StackMap, LifoAndOverwriteDropsTheOldest) {
  auto map = make_map(MapType::stack, 0, 8, 3);
  ASSERT_TRUE(map);
  for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_EQ(map->push(&i, 0), 0);
  std::uint64_t four = 4;
  EXPECT_EQ(map->push(&four, 0), -E2BIG);
  EXPECT_EQ(map->push(&four, map_update::exist), 0);
  std::uint64_t v = 0;
  for (std::uint64_t want : {4u, 3u, 2u}) {
    ASSERT_EQ(map->pop(&v), 0);
    EXPECT_EQ(v, want);
  }
  EXPECT_EQ(map->pop(&v), -ENOENT);
}

TEST(QueueMap, HostViewIsPeekPushPop) {
  auto map = make_map(MapType::queue, 0, 4, 2);
  ASSERT_TRUE(map);
  std::uint32_t v = 9;
  EXPECT_EQ(map->host_update(nullptr, &v, 0), 0);
  v = 0;
  EXPECT_EQ(map->host_lookup(nullptr, &v), 0);
  EXPECT_EQ(v, 9u);
  EXPECT_EQ(map->host_lookup_and_erase(nullptr, &v), 0);
  EXPECT_EQ(map->host_lookup_and_erase(nullptr, &v), -ENOENT);
  EXPECT_EQ(map->host_erase(nullptr), -EINVAL);
  EXPECT_EQ(map->lookup(nullptr), nullptr);
  std::uint32_t next;
  EXPECT_EQ(map->get_next_key(nullptr, &next), -EINVAL);
}

TEST(QueueMap, WrapsAroundManyTimes) {
  auto map = make_map(MapType::queue, 0, 4, 5);
  ASSERT_TRUE(map);
  std::uint32_t pushed = 0, popped = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 1 + round % 5; ++i) {
      ASSERT_EQ(map->push(&pushed, 0), 0);
      ++pushed;
    }
    while (popped < pushed) {
      std::uint32_t v;
      ASSERT_EQ(map->pop(&v), 0);
      ASSERT_EQ(v, popped++);
    }
  }
}

}  // namespace
}  // namespace bpfvm::test
