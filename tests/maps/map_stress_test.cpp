// Concurrency: programs (reader threads holding a MapReadGuard across a lookup and several
// reads of the value), writers replacing values and deleters removing keys, all at once. Every
// value a writer stores is a pattern derived from its key and a generation, so a reader that
// sees a torn, freed or reused value fails the check. Built twice: in the normal suites
// (maps_stress_test, ASan in the sanitizer build) and with the map sources under
// ThreadSanitizer (maps_tsan_test).
#include "maps/epoch.hpp"
#include "maps/map_test_util.hpp"

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

namespace bpfvm::test {
namespace {

constexpr std::uint32_t kKeys = 64;
constexpr std::size_t kWords = 4;  // 32-byte values

#ifdef BPFVM_STRESS_UNDER_TSAN
constexpr auto kDuration = std::chrono::milliseconds(1500);
#else
constexpr auto kDuration = std::chrono::milliseconds(400);
#endif

struct Pattern {
  std::uint64_t words[kWords];
};

Pattern pattern(std::uint32_t key, std::uint64_t generation) {
  Pattern p;
  for (std::size_t i = 0; i < kWords; ++i)
    p.words[i] = (std::uint64_t{key} << 40) ^ (generation * 31 + i);
  return p;
}

bool valid(std::uint32_t key, const std::uint64_t* words) {
  std::uint64_t generation = (words[0] ^ (std::uint64_t{key} << 40)) / 31;
  Pattern want = pattern(key, generation);
  for (std::size_t i = 0; i < kWords; ++i) {
    if (words[i] != want.words[i]) return false;
  }
  return true;
}

struct Counters {
  std::atomic<long> reads{0};
  std::atomic<long> hits{0};
  std::atomic<long> bad{0};
  std::atomic<long> writes{0};
  std::atomic<long> deletes{0};
};

void stress(Map& map, int readers, int writers, int deleters) {
  Counters counters;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(r);
      while (!stop.load(std::memory_order_relaxed)) {
        MapReadGuard guard;  // as an engine holds it for one run
        for (int i = 0; i < 16; ++i) {
          std::uint32_t key = rng() % kKeys;
          auto* words = static_cast<const std::uint64_t*>(map.lookup(&key));
          counters.reads.fetch_add(1, std::memory_order_relaxed);
          if (words == nullptr) continue;
          counters.hits.fetch_add(1, std::memory_order_relaxed);
          // Read twice with other work between: the element must not change under us.
          bool ok = valid(key, words);
          std::this_thread::yield();
          ok = ok && valid(key, words);
          if (!ok) counters.bad.fetch_add(1);
        }
      }
    });
  }
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(100 + w);
      std::uint64_t generation = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        std::uint32_t key = rng() % kKeys;
        Pattern p = pattern(key, ++generation);
        int rc = map.host_update(&key, &p, map_update::any);
        if (rc == 0)
          counters.writes.fetch_add(1, std::memory_order_relaxed);
        else if (rc != -E2BIG)
          counters.bad.fetch_add(1);
      }
    });
  }
  for (int d = 0; d < deleters; ++d) {
    threads.emplace_back([&, d] {
      std::mt19937 rng(200 + d);
      while (!stop.load(std::memory_order_relaxed)) {
        std::uint32_t key = rng() % kKeys;
        if (map.host_erase(&key) == 0) counters.deletes.fetch_add(1, std::memory_order_relaxed);
        std::uint32_t next;
        (void)map.get_next_key(&key, &next);
        Pattern out;
        if (map.host_lookup(&key, &out) == 0 && !valid(key, out.words)) counters.bad.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(kDuration);
  stop = true;
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) maps::epoch::collect();
  EXPECT_EQ(counters.bad.load(), 0);
  EXPECT_GT(counters.hits.load(), 0);
  EXPECT_GT(counters.writes.load(), 0);
  EXPECT_GT(counters.deletes.load(), 0);
  std::printf("%s: %ld reads (%ld hits), %ld writes, %ld deletes\n",
              std::string(map_type_name(map.type())).c_str(), counters.reads.load(),
              counters.hits.load(), counters.writes.load(), counters.deletes.load());
}

TEST(MapStress, HashReadersWritersDeleters) {
  auto map = make_map(MapType::hash, 4, sizeof(Pattern), kKeys);
  ASSERT_TRUE(map);
  stress(*map, 3, 2, 1);
}

TEST(MapStress, LruHashEvictsUnderReaders) {
  // Fewer slots than keys: inserts evict while readers hold values.
  auto map = make_map(MapType::lru_hash, 4, sizeof(Pattern), kKeys / 2);
  ASSERT_TRUE(map);
  stress(*map, 3, 2, 1);
}

TEST(MapStress, LpmTrieReadersWritersDeleters) {
  // Keys as /32 and /24 prefixes sharing bits, so updates and deletes reshape the trie.
  auto map = make_map(MapType::lpm_trie, 8, sizeof(Pattern), kKeys, map_flag::no_prealloc);
  ASSERT_TRUE(map);
  Counters counters;
  std::atomic<bool> stop{false};
  auto key_of = [](std::uint32_t k) {
    return ipv4(10, static_cast<std::uint8_t>(k % 4), static_cast<std::uint8_t>(k), 1,
                k % 3 == 0 ? 24 : 32);
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(r);
      while (!stop.load(std::memory_order_relaxed)) {
        MapReadGuard guard;
        std::uint32_t k = rng() % kKeys;
        Ipv4Key key = key_of(k);
        key.prefixlen = 32;
        auto* words = static_cast<const std::uint64_t*>(map->lookup(&key));
        if (words == nullptr) continue;
        counters.hits.fetch_add(1, std::memory_order_relaxed);
        // The match may be k's /24 parent stored under another key id: check self-consistency.
        std::uint32_t owner = static_cast<std::uint32_t>(words[0] >> 40);
        bool ok = valid(owner, words);
        std::this_thread::yield();
        if (!(ok && valid(owner, words))) counters.bad.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {
    std::mt19937 rng(9);
    std::uint64_t generation = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      std::uint32_t k = rng() % kKeys;
      Ipv4Key key = key_of(k);
      Pattern p = pattern(k, ++generation);
      if (map->update(&key, &p, 0) == 0) counters.writes.fetch_add(1, std::memory_order_relaxed);
      std::uint32_t d = rng() % kKeys;
      Ipv4Key gone = key_of(d);
      if (map->erase(&gone) == 0) counters.deletes.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::this_thread::sleep_for(kDuration);
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(counters.bad.load(), 0);
  EXPECT_GT(counters.hits.load(), 0);
  EXPECT_GT(counters.deletes.load(), 0);
}

TEST(MapStress, InnerMapsReplacedUnderReaders) {
  // Readers look up an inner map and then read from it; a writer keeps replacing and removing
  // the inner maps. An inner map must outlive every guard that may still use it.
  MapSpec inner = map_spec(MapType::array, 4, sizeof(Pattern), 1);
  MapSpec outer_spec = map_spec(MapType::hash_of_maps, 4, 4, 8);
  outer_spec.inner = std::make_shared<MapSpec>(inner);
  auto outer = std::dynamic_pointer_cast<MapOfMaps>(make_map(outer_spec));
  ASSERT_TRUE(outer);
  std::atomic<bool> stop{false};
  std::atomic<long> hits{0}, bad{0}, replaced{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(r);
      while (!stop.load(std::memory_order_relaxed)) {
        MapReadGuard guard;
        std::uint32_t key = rng() % 8;
        auto* map = static_cast<Map*>(outer->lookup(&key));
        if (map == nullptr) continue;
        std::uint32_t zero = 0;
        auto* words = static_cast<const std::uint64_t*>(map->lookup(&zero));
        std::this_thread::yield();
        if (words == nullptr || !valid(key, words)) bad.fetch_add(1);
        hits.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  threads.emplace_back([&] {
    std::mt19937 rng(50);
    std::uint64_t generation = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      std::uint32_t key = rng() % 8;
      if (rng() % 4 == 0) {
        (void)outer->erase(&key);
        continue;
      }
      auto fresh = Map::create(inner);
      if (!fresh) {
        bad.fetch_add(1);
        continue;
      }
      // Filled before it is published, never written after.
      std::uint32_t zero = 0;
      Pattern p = pattern(key, ++generation);
      (*fresh)->host_update(&zero, &p, map_update::any);
      if (outer->set(&key, *fresh) != 0) bad.fetch_add(1);
      replaced.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::this_thread::sleep_for(kDuration);
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(hits.load(), 0);
  EXPECT_GT(replaced.load(), 0);
}

TEST(MapStress, RingBufferProducersAndConsumer) {
  // Producers reserve, fill and submit or discard records of varied sizes while the host
  // consumes: every submitted record arrives whole, in each producer's order.
  auto rb = std::dynamic_pointer_cast<RingBufferMap>(make_map(MapType::ringbuf, 0, 0, 1 << 14));
  ASSERT_TRUE(rb);
  constexpr int kProducers = 3;
  std::atomic<bool> stop{false};
  std::atomic<long> produced{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kProducers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::uint64_t sequence = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const std::size_t words = 2 + rng() % 30;
        auto* record = static_cast<std::uint64_t*>(rb->reserve(words * 8, 0));
        if (record == nullptr) {
          std::this_thread::yield();
          continue;
        }
        const bool keep = rng() % 5 != 0;
        record[0] = static_cast<std::uint64_t>(t);
        record[1] = keep ? sequence : ~std::uint64_t{0};
        for (std::size_t i = 2; i < words; ++i) record[i] = record[1] * 131 + i;
        if (keep) {
          rb->submit(record, 0);
          ++sequence;
          produced.fetch_add(1, std::memory_order_relaxed);
        } else {
          rb->discard(record, 0);
        }
      }
    });
  }
  std::vector<std::uint64_t> next(kProducers, 0);
  long consumed = 0;
  long bad = 0;
  auto check = [&](const void* data, std::size_t size) {
    const auto* words = static_cast<const std::uint64_t*>(data);
    std::size_t n = size / 8;
    if (n < 2 || words[0] >= kProducers || words[1] != next[words[0]]) {
      ++bad;
      return 0;
    }
    for (std::size_t i = 2; i < n; ++i) bad += words[i] != words[1] * 131 + i;
    ++next[words[0]];
    return 0;
  };
  const auto end = std::chrono::steady_clock::now() + kDuration;
  while (std::chrono::steady_clock::now() < end) consumed += rb->consume(check);
  stop = true;
  for (auto& t : threads) t.join();
  consumed += rb->consume(check);
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(consumed, produced.load());
  EXPECT_GT(consumed, 0);
  EXPECT_EQ(rb->query(0), 0u);
}

TEST(MapStress, PercpuArrayProgramsCountWithoutLosingUpdates) {
  // Each thread adds to its CPU's slot with an atomic add, as programs do with
  // __sync_fetch_and_add; the host's per-CPU sum must equal the number of adds.
  auto map = make_map(MapType::percpu_array, 4, 8, 1);
  ASSERT_TRUE(map);
  constexpr int kThreads = 4;
  constexpr long kAdds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::uint32_t key = 0;
      for (long i = 0; i < kAdds; ++i) {
        MapReadGuard guard;
        auto* counter = static_cast<std::uint64_t*>(map->lookup(&key));
        __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<std::uint8_t> out(map->host_value_size());
  std::uint32_t key = 0;
  ASSERT_EQ(map->host_lookup(&key, out.data()), 0);
  std::uint64_t sum = 0;
  for (unsigned cpu = 0; cpu < possible_cpus(); ++cpu) sum += read_u64(out.data() + cpu * 8);
  EXPECT_EQ(sum, static_cast<std::uint64_t>(kThreads * kAdds));
}

}  // namespace
}  // namespace bpfvm::test
