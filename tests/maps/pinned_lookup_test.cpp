// Map::pinned_lookup() of the hash maps against lookup() (they must agree on every key,
// whatever the type, key size and history), and the specialised key hash (maps/key_hash.hpp):
// the same value as the generic form, and spread over the buckets for the key patterns maps
// see (sequential ids, strided ids, addresses in network byte order, wide keys that differ in
// one word only).
#include "maps/key_hash.hpp"
#include "maps/map_test_util.hpp"

#include <algorithm>
#include <random>
#include <vector>

namespace bpfvm::test {
namespace {

std::vector<std::uint8_t> key_bytes(std::uint32_t size, std::uint32_t id) {
  // The id in the first word for narrow keys; in the last word for wide ones, so that keys
  // differ only at the end (memcmp and word compares must both see it).
  std::vector<std::uint8_t> key(size, 0xa5);
  std::memcpy(key.data() + (size >= 8 ? size - 4 : 0), &id, 4);
  return key;
}

TEST(PinnedLookup, AgreesWithLookupForEveryHashMapKind) {
  for (MapType type :
       {MapType::hash, MapType::lru_hash, MapType::percpu_hash, MapType::lru_percpu_hash}) {
    for (std::uint32_t key_size : {4u, 8u, 12u, 16u, 32u}) {
      SCOPED_TRACE(std::string(map_type_name(type)) + " key " + std::to_string(key_size));
      auto map = make_map(type, key_size, 8, 64);
      ASSERT_TRUE(map);
      const Map::PinnedLookup pinned = map->pinned_lookup();
      ASSERT_NE(pinned, nullptr);
      std::vector<std::uint8_t> value(map->host_value_size(), 0);
      for (std::uint32_t id = 0; id < 48; ++id) {
        value[0] = static_cast<std::uint8_t>(id);
        ASSERT_EQ(map->host_update(key_bytes(key_size, id).data(), value.data(), 0), 0);
      }
      // Replaced and deleted keys too.
      for (std::uint32_t id = 0; id < 48; id += 5) {
        value[0] = static_cast<std::uint8_t>(id + 100);
        ASSERT_EQ(map->host_update(key_bytes(key_size, id).data(), value.data(), 0), 0);
      }
      for (std::uint32_t id = 1; id < 48; id += 7)
        ASSERT_EQ(map->host_erase(key_bytes(key_size, id).data()), 0);
      MapReadGuard guard;
      for (std::uint32_t id = 0; id < 96; ++id) {
        auto key = key_bytes(key_size, id);
        void* expected = map->lookup(key.data());
        EXPECT_EQ(pinned(map.get(), key.data()), expected) << id;
        const bool present = id < 48 && id % 7 != 1;
        EXPECT_EQ(expected != nullptr, present) << id;
        if (expected != nullptr && type == MapType::hash) {
          EXPECT_EQ(*static_cast<std::uint8_t*>(expected), id % 5 == 0 ? id + 100 : id);
        }
      }
    }
  }
}

TEST(KeyHash, SpecialisedFormsEqualTheGenericOne) {
  // Elements store the generic hash (updates, deletes); lookups compute the specialised one.
  std::mt19937_64 random(7);
  for (std::uint64_t seed : {std::uint64_t{0}, random()}) {
    maps::KeyHash hash(seed);
    for (int i = 0; i < 1000; ++i) {
      std::uint64_t words[2] = {random(), random()};
      EXPECT_EQ(hash.operator()<4>(words), hash.operator()<0>(words, 4));
      EXPECT_EQ(hash.operator()<8>(words), hash.operator()<0>(words, 8));
      EXPECT_EQ(hash.operator()<16>(words), hash.operator()<0>(words, 16));
    }
  }
}

// Fills 4096 buckets (a map of 4096 entries) with 4096 keys of one pattern.
struct Spread {
  std::size_t longest = 0;
  double empty = 0;
};
template <std::size_t Size>
Spread spread(const maps::KeyHash& hash, auto&& make_key) {
  constexpr std::size_t buckets = 4096;
  std::vector<std::size_t> load(buckets, 0);
  for (std::uint32_t i = 0; i < buckets; ++i) {
    std::array<std::uint8_t, Size> key = make_key(i);
    ++load[hash.operator()<Size>(key.data()) & (buckets - 1)];
  }
  Spread s;
  s.longest = *std::max_element(load.begin(), load.end());
  s.empty = static_cast<double>(std::count(load.begin(), load.end(), 0)) / buckets;
  return s;
}

template <std::size_t Size>
std::array<std::uint8_t, Size> bytes_of(std::uint64_t first, std::uint64_t second = 0) {
  std::array<std::uint8_t, Size> key{};
  std::memcpy(key.data(), &first, std::min<std::size_t>(Size, 8));
  if (Size > 8) std::memcpy(key.data() + 8, &second, Size - 8);
  return key;
}

TEST(KeyHash, SpreadsCommonKeyPatternsLikeARandomFunction) {
  // A random function puts 4096 keys into 4096 buckets with about 1/e of the buckets empty
  // and no bucket above 8 or so; a weak mix (low bits of a multiply) shows as many empty
  // buckets and long chains for strided keys.
  std::mt19937_64 random(11);
  for (std::uint64_t seed : {std::uint64_t{0}, random(), random()}) {
    SCOPED_TRACE(seed);
    maps::KeyHash hash(seed);
    const Spread cases[] = {
        spread<4>(hash, [](std::uint32_t i) { return bytes_of<4>(i); }),
        spread<4>(hash, [](std::uint32_t i) { return bytes_of<4>(i << 12); }),
        spread<4>(hash,
                  [](std::uint32_t i) { return bytes_of<4>(__builtin_bswap32(0x0a000000 | i)); }),
        spread<8>(hash, [](std::uint32_t i) { return bytes_of<8>(std::uint64_t{i} << 32); }),
        spread<8>(hash, [](std::uint32_t i) { return bytes_of<8>(i * 0x10001ull); }),
        spread<16>(hash, [](std::uint32_t i) { return bytes_of<16>(i, 0x5a5a5a5a5a5a5a5aull); }),
        spread<16>(hash, [](std::uint32_t i) { return bytes_of<16>(7, std::uint64_t{i} << 40); }),
        spread<16>(hash, [](std::uint32_t i) { return bytes_of<16>(0, i); }),
    };
    for (std::size_t c = 0; c < std::size(cases); ++c) {
      EXPECT_LE(cases[c].longest, 10u) << "pattern " << c;
      EXPECT_GT(cases[c].empty, 0.33) << "pattern " << c;
      EXPECT_LT(cases[c].empty, 0.41) << "pattern " << c;
    }
  }
}

}  // namespace
}  // namespace bpfvm::test
