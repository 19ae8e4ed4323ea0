// BPF_MAP_TYPE_STACK_TRACE: ids from the stack's jhash2, the BPF_F_FAST_STACK_CMP and
// BPF_F_REUSE_STACKID rules of __bpf_get_stackid, and the host's view of the stacks.
#include "maps/map_test_util.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <vector>

namespace bpfvm::test {
namespace {

using u64 = std::uint64_t;

std::shared_ptr<StackTraceMap> stack_map(std::uint32_t depth, std::uint32_t entries) {
  auto map = make_map(MapType::stack_trace, 4, depth * 8, entries);
  return std::dynamic_pointer_cast<StackTraceMap>(map);
}

TEST(StackTraceMap, EqualStacksShareAnIdAndTheHostReadsThemPadded) {
  auto map = stack_map(4, 64);
  ASSERT_NE(map, nullptr);
  const std::vector<u64> a = {0x1000, 0x2000}, b = {0x1000, 0x2000, 0x3000};
  const long id_a = map->store(a, 0);
  ASSERT_GE(id_a, 0);
  EXPECT_LT(id_a, 64);
  EXPECT_EQ(map->store(a, 0), id_a);
  const long id_b = map->store(b, StackTraceMap::reuse_stackid);
  ASSERT_GE(id_b, 0);
  u64 value[4];
  const auto key = static_cast<std::uint32_t>(id_a);
  ASSERT_EQ(map->host_lookup(&key, value), 0) << "ids differ: " << id_a << " " << id_b;
  if (id_a != id_b) {
    EXPECT_EQ(value[0], 0x1000u);
    EXPECT_EQ(value[1], 0x2000u);
    EXPECT_EQ(value[2], 0u);  // zero-filled past the stack's frames
    EXPECT_EQ(value[3], 0u);
  }
  // Programs cannot look stacks up; the host cannot write them.
  EXPECT_EQ(map->lookup(&key), nullptr);
  EXPECT_EQ(map->host_update(&key, value, 0), -EINVAL);
}

TEST(StackTraceMap, ACollisionIsEexistUnlessReuseOrFastCompare) {
  auto map = stack_map(2, 1);  // one bucket: every stack collides
  ASSERT_NE(map, nullptr);
  const std::vector<u64> a = {1, 2}, b = {3};
  EXPECT_EQ(map->store(a, 0), 0);
  EXPECT_EQ(map->store(b, 0), -EEXIST);
  // Fast compare trusts equal hashes only: b's hash differs from a's, so still -EEXIST.
  EXPECT_EQ(map->store(b, StackTraceMap::fast_stack_cmp), -EEXIST);
  EXPECT_EQ(map->store(b, StackTraceMap::reuse_stackid), 0);
  u64 value[2];
  const std::uint32_t key = 0;
  ASSERT_EQ(map->host_lookup(&key, value), 0);
  EXPECT_EQ(value[0], 3u);
  EXPECT_EQ(value[1], 0u);
  // b is there now: storing it again finds it, a collides.
  EXPECT_EQ(map->store(b, 0), 0);
  EXPECT_EQ(map->store(a, 0), -EEXIST);
}

TEST(StackTraceMap, DepthLimitsAndEmptyStacks) {
  auto map = stack_map(2, 8);
  ASSERT_NE(map, nullptr);
  EXPECT_EQ(map->store(std::vector<u64>{}, 0), -EINVAL);
  EXPECT_EQ(map->store(std::vector<u64>{1, 2, 3}, 0), -EINVAL);
}

TEST(StackTraceMap, IdsAreSpreadAndTheHostWalksAndDeletesThem) {
  auto map = stack_map(1, 1000);  // 1024 buckets
  ASSERT_NE(map, nullptr);
  std::set<std::uint32_t> ids;
  for (u64 ip = 1; ip <= 20; ++ip) {
    const long id = map->store(std::vector<u64>{ip * 0x1000}, map_update::any);
    if (id == -EEXIST) continue;  // a genuine collision among 1024 buckets
    ASSERT_GE(id, 0);
    EXPECT_LT(id, 1024);
    ids.insert(static_cast<std::uint32_t>(id));
  }
  EXPECT_GE(ids.size(), 15u);  // jhash2 spreads 20 stacks over 1024 buckets
  std::set<std::uint32_t> walked;
  std::uint32_t key = 0, next = 0;
  for (int rc = map->get_next_key(nullptr, &next); rc == 0; rc = map->get_next_key(&key, &next)) {
    walked.insert(next);
    key = next;
  }
  EXPECT_EQ(walked, ids);
  const std::uint32_t first = *ids.begin();
  EXPECT_EQ(map->host_erase(&first), 0);
  EXPECT_EQ(map->host_erase(&first), -ENOENT);
  u64 value;
  EXPECT_EQ(map->host_lookup(&first, &value), -ENOENT);
  const std::uint32_t outside = 5000;
  EXPECT_EQ(map->host_lookup(&outside, &value), -ENOENT);
}

TEST(StackTraceMap, BuildIdStacksAreRefused) {
  auto map = Map::create(map_spec(MapType::stack_trace, 4, 32, 4, 1u << 5));
  ASSERT_FALSE(map.ok());
  EXPECT_NE(map.error().message.find("BPF_F_STACK_BUILD_ID"), std::string::npos);
}

}  // namespace
}  // namespace bpfvm::test
