// What map operations cost: lookups as a program makes them (inside a MapReadGuard, as an
// engine holds one per run), updates, and the guard itself. Not a test; docs/maps.md quotes
// the numbers.
#include "support/map_spec.hpp"

#include <bpfvm/map.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <vector>

namespace {

using bpfvm::Map;
using bpfvm::MapType;

std::shared_ptr<Map> make(MapType type, std::uint32_t key_size, std::uint32_t value_size,
                          std::uint32_t max_entries, std::uint32_t flags = 0) {
  return *Map::create(bpfvm::test::map_spec(type, key_size, value_size, max_entries, flags));
}

// Keys visited in a shuffled order so lookups are not one cached line.
std::vector<std::uint32_t> shuffled_keys(std::uint32_t n) {
  std::vector<std::uint32_t> keys(n);
  for (std::uint32_t i = 0; i < n; ++i) keys[i] = i;
  std::shuffle(keys.begin(), keys.end(), std::mt19937(1));
  return keys;
}

void lookup_loop(benchmark::State& state, Map& map, const std::vector<std::uint32_t>& keys) {
  bpfvm::MapReadGuard guard;
  std::size_t i = 0;
  for (auto _ : state) {
    void* value = map.lookup(&keys[i]);
    benchmark::DoNotOptimize(value);
    if (++i == keys.size()) i = 0;
  }
}

void BM_ArrayLookup(benchmark::State& state) {
  auto map = make(MapType::array, 4, 8, 1024);
  lookup_loop(state, *map, shuffled_keys(1024));
}
BENCHMARK(BM_ArrayLookup);

void BM_PercpuArrayLookup(benchmark::State& state) {
  auto map = make(MapType::percpu_array, 4, 8, 1024);
  lookup_loop(state, *map, shuffled_keys(1024));
}
BENCHMARK(BM_PercpuArrayLookup);

void BM_HashLookupHit(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  auto map = make(MapType::hash, 4, 8, n);
  std::uint64_t v = 1;
  for (std::uint32_t k = 0; k < n; ++k) map->host_update(&k, &v, 0);
  lookup_loop(state, *map, shuffled_keys(n));
}
BENCHMARK(BM_HashLookupHit)->Arg(1024)->Arg(1 << 16);

void BM_HashLookupMiss(benchmark::State& state) {
  auto map = make(MapType::hash, 4, 8, 1024);
  std::uint64_t v = 1;
  for (std::uint32_t k = 0; k < 512; ++k) map->host_update(&k, &v, 0);
  auto keys = shuffled_keys(1024);
  for (auto& k : keys) k += 4096;
  lookup_loop(state, *map, keys);
}
BENCHMARK(BM_HashLookupMiss);

void BM_HashLookupNoOuterGuard(benchmark::State& state) {
  // Each lookup pins and unpins the epoch itself.
  auto map = make(MapType::hash, 4, 8, 1024);
  std::uint64_t v = 1;
  for (std::uint32_t k = 0; k < 1024; ++k) map->host_update(&k, &v, 0);
  auto keys = shuffled_keys(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map->lookup(&keys[i]));
    if (++i == keys.size()) i = 0;
  }
}
BENCHMARK(BM_HashLookupNoOuterGuard);

void BM_Hash16ByteKeyLookup(benchmark::State& state) {
  auto map = make(MapType::hash, 16, 8, 1024);
  std::vector<std::array<std::uint32_t, 4>> keys(1024);
  std::uint64_t v = 1;
  for (std::uint32_t k = 0; k < 1024; ++k) {
    keys[k] = {k, k * 7, 0x0a000001, 443};
    map->host_update(keys[k].data(), &v, 0);
  }
  bpfvm::MapReadGuard guard;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map->lookup(keys[i].data()));
    if (++i == keys.size()) i = 0;
  }
}
BENCHMARK(BM_Hash16ByteKeyLookup);

void BM_LruHashLookup(benchmark::State& state) {
  auto map = make(MapType::lru_hash, 4, 8, 1024);
  std::uint64_t v = 1;
  for (std::uint32_t k = 0; k < 1024; ++k) map->host_update(&k, &v, 0);
  lookup_loop(state, *map, shuffled_keys(1024));
}
BENCHMARK(BM_LruHashLookup);

void BM_HashUpdateExisting(benchmark::State& state) {
  // A new element per update, the old one retired to the epoch reclaimer.
  auto map = make(MapType::hash, 4, 8, 1024);
  std::uint64_t v = 1;
  for (std::uint32_t k = 0; k < 1024; ++k) map->host_update(&k, &v, 0);
  auto keys = shuffled_keys(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map->update(&keys[i], &v, 0));
    if (++i == keys.size()) i = 0;
  }
}
BENCHMARK(BM_HashUpdateExisting);

void BM_ArrayUpdate(benchmark::State& state) {
  auto map = make(MapType::array, 4, 8, 1024);
  auto keys = shuffled_keys(1024);
  std::uint64_t v = 1;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map->update(&keys[i], &v, 0));
    if (++i == keys.size()) i = 0;
  }
}
BENCHMARK(BM_ArrayUpdate);

void BM_LpmLookupIpv4(benchmark::State& state) {
  auto map = make(MapType::lpm_trie, 8, 8, 4096, bpfvm::map_flag::no_prealloc);
  std::mt19937 rng(2);
  for (int i = 0; i < 1000; ++i) {
    struct {
      std::uint32_t prefixlen;
      std::uint32_t addr;
    } key{static_cast<std::uint32_t>(8 + rng() % 25), static_cast<std::uint32_t>(rng())};
    std::uint64_t v = i;
    map->update(&key, &v, 0);
  }
  std::vector<std::array<std::uint32_t, 2>> probes(1024);
  for (auto& p : probes) p = {32, static_cast<std::uint32_t>(rng())};
  bpfvm::MapReadGuard guard;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map->lookup(probes[i].data()));
    if (++i == probes.size()) i = 0;
  }
}
BENCHMARK(BM_LpmLookupIpv4);

void BM_MapReadGuard(benchmark::State& state) {
  for (auto _ : state) {
    bpfvm::MapReadGuard guard;
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_MapReadGuard);

void BM_RingbufOutputConsume(benchmark::State& state) {
  auto map = std::dynamic_pointer_cast<bpfvm::RingBufferMap>(make(MapType::ringbuf, 0, 0, 1 << 16));
  std::uint64_t record[2] = {1, 2};
  for (auto _ : state) {
    map->output(record, sizeof record, 0);
    map->consume([](const void*, std::size_t) { return 0; });
  }
}
BENCHMARK(BM_RingbufOutputConsume);

}  // namespace
