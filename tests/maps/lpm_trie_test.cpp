// BPF_MAP_TYPE_LPM_TRIE against Linux's lpm_trie.c: longest-prefix match for IPv4 and IPv6,
// /0, /32, /128, flags, deletion shapes and get_next_key's post-order.
#include "maps/map_test_util.hpp"

#include <algorithm>
#include <random>
#include <string>

namespace bpfvm::test {
namespace {

std::shared_ptr<Map> ipv4_trie(std::uint32_t max_entries = 64) {
  return make_map(MapType::lpm_trie, 8, 4, max_entries, map_flag::no_prealloc);
}

int add(Map& map, const Ipv4Key& key, std::uint32_t value, std::uint64_t flags = 0) {
  return map.update(&key, &value, flags);
}

// The value of the longest prefix matching a.b.c.d/32, or -1.
long match(Map& map, std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  Ipv4Key key = ipv4(a, b, c, d, 32);
  void* value = map.lookup(&key);
  return value ? static_cast<long>(read_u32(value)) : -1;
}

TEST(LpmTrie, LongestPrefixWinsIpv4) {
  auto map = ipv4_trie();
  ASSERT_TRUE(map);
  ASSERT_EQ(add(*map, ipv4(192, 168, 0, 0, 16), 16), 0);
  ASSERT_EQ(add(*map, ipv4(192, 168, 1, 0, 24), 24), 0);
  ASSERT_EQ(add(*map, ipv4(192, 168, 1, 7, 32), 32), 0);
  ASSERT_EQ(add(*map, ipv4(10, 0, 0, 0, 8), 8), 0);
  EXPECT_EQ(match(*map, 192, 168, 1, 7), 32);
  EXPECT_EQ(match(*map, 192, 168, 1, 8), 24);
  EXPECT_EQ(match(*map, 192, 168, 2, 1), 16);
  EXPECT_EQ(match(*map, 10, 255, 0, 1), 8);
  EXPECT_EQ(match(*map, 11, 0, 0, 1), -1);
  EXPECT_EQ(match(*map, 192, 169, 0, 0), -1);
  // The key's own prefix length limits the match (Linux compares min(node, key) bits).
  Ipv4Key short_key = ipv4(192, 168, 1, 7, 20);
  ASSERT_NE(map->lookup(&short_key), nullptr);
  EXPECT_EQ(read_u32(map->lookup(&short_key)), 16u);
}

TEST(LpmTrie, DefaultRouteAndHostRoute) {
  auto map = ipv4_trie();
  ASSERT_TRUE(map);
  ASSERT_EQ(add(*map, ipv4(0, 0, 0, 0, 0), 0), 0);
  EXPECT_EQ(match(*map, 1, 2, 3, 4), 0);
  EXPECT_EQ(match(*map, 255, 255, 255, 255), 0);
  ASSERT_EQ(add(*map, ipv4(1, 2, 3, 4, 32), 32), 0);
  EXPECT_EQ(match(*map, 1, 2, 3, 4), 32);
  EXPECT_EQ(match(*map, 1, 2, 3, 5), 0);
  Ipv4Key zero = ipv4(9, 9, 9, 9, 0);  // data past the prefix does not matter
  EXPECT_EQ(map->erase(&zero), 0);
  EXPECT_EQ(match(*map, 1, 2, 3, 5), -1);
  EXPECT_EQ(match(*map, 1, 2, 3, 4), 32);
}

TEST(LpmTrie, Ipv6SlashZeroAnd128) {
  auto map = make_map(MapType::lpm_trie, 20, 8, 16, map_flag::no_prealloc);
  ASSERT_TRUE(map);
  Ipv6Key all{0, {}};
  Ipv6Key doc{32, {0x20, 0x01, 0x0d, 0xb8}};
  Ipv6Key host{128, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  std::uint64_t v0 = 0, v32 = 32, v128 = 128;
  ASSERT_EQ(map->update(&all, &v0, 0), 0);
  ASSERT_EQ(map->update(&doc, &v32, 0), 0);
  ASSERT_EQ(map->update(&host, &v128, 0), 0);
  Ipv6Key probe = host;
  EXPECT_EQ(read_u64(map->lookup(&probe)), 128u);
  probe.data[15] = 2;
  EXPECT_EQ(read_u64(map->lookup(&probe)), 32u);
  probe.data[1] = 0x02;
  EXPECT_EQ(read_u64(map->lookup(&probe)), 0u);
  Ipv6Key too_long = host;
  too_long.prefixlen = 129;
  EXPECT_EQ(map->update(&too_long, &v0, 0), -EINVAL);
  EXPECT_EQ(map->erase(&too_long), -EINVAL);
}

TEST(LpmTrie, FlagsFullAndExactDelete) {
  auto map = ipv4_trie(2);
  ASSERT_TRUE(map);
  EXPECT_EQ(add(*map, ipv4(10, 0, 0, 0, 8), 1, map_update::exist), -ENOENT);
  EXPECT_EQ(add(*map, ipv4(10, 0, 0, 0, 8), 1, map_update::noexist), 0);
  EXPECT_EQ(add(*map, ipv4(10, 0, 0, 0, 8), 2, map_update::noexist), -EEXIST);
  EXPECT_EQ(add(*map, ipv4(10, 0, 0, 0, 8), 2, map_update::exist), 0);
  EXPECT_EQ(add(*map, ipv4(10, 0, 0, 0, 8), 2, 3), -EINVAL);
  EXPECT_EQ(add(*map, ipv4(10, 1, 0, 0, 16), 3), 0);
  EXPECT_EQ(add(*map, ipv4(10, 2, 0, 0, 16), 4), -ENOSPC);
  EXPECT_EQ(add(*map, ipv4(10, 1, 0, 0, 16), 5), 0);  // replacing needs no room
  Ipv4Key wrong_len = ipv4(10, 0, 0, 0, 9);
  EXPECT_EQ(map->erase(&wrong_len), -ENOENT);
  Ipv4Key exact = ipv4(10, 0, 0, 0, 8);
  EXPECT_EQ(map->erase(&exact), 0);
  EXPECT_EQ(map->erase(&exact), -ENOENT);
  EXPECT_EQ(match(*map, 10, 1, 2, 3), 5);
  EXPECT_EQ(match(*map, 10, 2, 2, 3), -1);
}

// Linux's post-order: for {192.168.0.0/16, 192.168.0.0/24, 192.168.1.0/24, 192.168.0.1/32}
// (the example in lpm_trie.c's comments, plus a host route), more specific first, the 0
// branch first.
TEST(LpmTrie, GetNextKeyIsPostOrder) {
  auto map = ipv4_trie();
  ASSERT_TRUE(map);
  ASSERT_EQ(add(*map, ipv4(192, 168, 0, 0, 16), 1), 0);
  ASSERT_EQ(add(*map, ipv4(192, 168, 0, 0, 24), 2), 0);
  ASSERT_EQ(add(*map, ipv4(192, 168, 1, 0, 24), 3), 0);
  ASSERT_EQ(add(*map, ipv4(192, 168, 0, 1, 32), 4), 0);
  ASSERT_EQ(add(*map, ipv4(10, 0, 0, 0, 8), 5), 0);
  std::vector<std::string> order;
  Ipv4Key key{};
  const void* cursor = nullptr;
  Ipv4Key next{};
  while (map->get_next_key(cursor, &next) == 0) {
    order.push_back(std::to_string(next.data[0]) + "." + std::to_string(next.data[1]) + "." +
                    std::to_string(next.data[2]) + "." + std::to_string(next.data[3]) + "/" +
                    std::to_string(next.prefixlen));
    key = next;
    cursor = &key;
    ASSERT_LT(order.size(), 10u);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"10.0.0.0/8", "192.168.0.1/32", "192.168.0.0/24",
                                             "192.168.1.0/24", "192.168.0.0/16"}));
  Ipv4Key missing = ipv4(1, 1, 1, 1, 32);
  ASSERT_EQ(map->get_next_key(&missing, &next), 0);
  EXPECT_EQ(next.prefixlen, 8u);  // starts over
}

TEST(LpmTrie, DeletingEveryShapeKeepsMatchesRight) {
  // Random prefixes, deleted in random order; after every step each probe's answer equals a
  // brute-force longest-prefix match over what is left.
  std::mt19937 rng(7);
  auto map = ipv4_trie(256);
  ASSERT_TRUE(map);
  std::vector<Ipv4Key> keys;
  for (int i = 0; i < 120; ++i) {
    std::uint32_t len = rng() % 33;
    std::uint32_t addr = rng() & (len == 0 ? 0 : ~0u << (32 - len));
    addr &= 0xc0ff00ffu | (rng() & 0x3f000000u);  // share high bits so prefixes nest
    Ipv4Key key = ipv4(addr >> 24, addr >> 16, addr >> 8, addr, len);
    if (add(*map, key, i, map_update::noexist) == 0) keys.push_back(key);
  }
  auto prefix_of = [](const Ipv4Key& k) {
    return (std::uint32_t{k.data[0]} << 24) | (k.data[1] << 16) | (k.data[2] << 8) | k.data[3];
  };
  std::shuffle(keys.begin(), keys.end(), rng);
  while (!keys.empty()) {
    for (int probe = 0; probe < 40; ++probe) {
      std::uint32_t addr = prefix_of(keys[rng() % keys.size()]) ^ (rng() & 0xff);
      long best = -1;
      std::uint32_t best_len = 0;
      for (const Ipv4Key& k : keys) {
        std::uint32_t mask = k.prefixlen == 0 ? 0 : ~0u << (32 - k.prefixlen);
        if (((addr ^ prefix_of(k)) & mask) == 0 && (best < 0 || k.prefixlen >= best_len)) {
          best_len = k.prefixlen;
          Ipv4Key exact = k;
          best = static_cast<long>(read_u32(map->lookup(&exact)));
        }
      }
      EXPECT_EQ(match(*map, addr >> 24, addr >> 16, addr >> 8, addr), best);
    }
    Ipv4Key gone = keys.back();
    keys.pop_back();
    ASSERT_EQ(map->erase(&gone), 0);
  }
  Ipv4Key next;
  EXPECT_EQ(map->get_next_key(nullptr, &next), -ENOENT);
}

}  // namespace
}  // namespace bpfvm::test
