#include "workloads.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace bpfvm::bench {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

// splitmix64 (Steele, Lea, Flood 2014): a fixed, portable sequence for the inputs.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

std::uint32_t load_u32(std::span<const std::uint8_t> memory, std::size_t index) {
  std::uint32_t value;
  std::memcpy(&value, memory.data() + index * 4, 4);
  return value;
}

void store_u32(std::span<std::uint8_t> memory, std::size_t index, std::uint32_t value) {
  std::memcpy(memory.data() + index * 4, &value, 4);
}

void fill_random_bytes(std::span<std::uint8_t> memory, std::uint64_t seed) {
  SplitMix64 random(seed);
  for (auto& byte : memory) byte = static_cast<std::uint8_t>(random.next() >> 56);
}

// primes: the limit, 10000.
constexpr std::uint32_t kPrimeLimit = 10000;

void prepare_primes(std::span<std::uint8_t> memory) { store_u32(memory, 0, kPrimeLimit); }

std::uint64_t expected_primes(std::span<const std::uint8_t> memory) {
  // A sieve rather than trial division; 1 counts, as in the program.
  const std::uint32_t limit = load_u32(memory, 0);
  std::vector<bool> composite(limit, false);
  std::uint64_t count = limit > 1 ? 1 : 0;
  for (std::uint32_t i = 2; i < limit; i++) {
    if (composite[i]) continue;
    count++;
    for (std::uint64_t m = std::uint64_t{i} * i; m < limit; m += i) composite[m] = true;
  }
  return count;
}

// fnv1a: 1 MiB of random bytes.
void prepare_fnv1a(std::span<std::uint8_t> memory) { fill_random_bytes(memory, 0xf00d); }

std::uint64_t expected_fnv1a(std::span<const std::uint8_t> memory) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (std::uint8_t byte : memory) hash = (hash ^ byte) * 0x100000001b3ULL;
  return hash;
}

// insertion_sort: 2048 random u32 values.
void prepare_insertion_sort(std::span<std::uint8_t> memory) {
  SplitMix64 random(0x5017);
  for (std::size_t i = 0; i < memory.size() / 4; i++) {
    store_u32(memory, i, static_cast<std::uint32_t>(random.next() >> 32));
  }
}

std::uint64_t expected_insertion_sort(std::span<const std::uint8_t> memory) {
  std::vector<std::uint32_t> values(memory.size() / 4);
  for (std::size_t i = 0; i < values.size(); i++) values[i] = load_u32(memory, i);
  std::sort(values.begin(), values.end());
  std::uint64_t sum = 0;
  for (std::uint32_t value : values) sum = sum * 31 + value;
  return sum;
}

// strcmp: two strings of 1 MiB - 1 letters, differing 64 bytes before the end.
constexpr std::size_t kStrcmpDifferenceFromEnd = 64;

void prepare_strcmp(std::span<std::uint8_t> memory) {
  const std::size_t half = memory.size() / 2;
  SplitMix64 random(0x57c3);
  for (std::size_t i = 0; i + 1 < half; i++) {
    memory[i] = static_cast<std::uint8_t>('a' + random.next() % 26);
    memory[half + i] = memory[i];
  }
  memory[half - 1] = 0;
  memory[2 * half - 1] = 0;
  const std::size_t differ = half - 1 - kStrcmpDifferenceFromEnd;
  memory[half + differ] =
      memory[differ] == 'z' ? 'a' : static_cast<std::uint8_t>(memory[differ] + 1);
}

std::uint64_t expected_strcmp(std::span<const std::uint8_t> memory) {
  const std::uint8_t* a = memory.data();
  const std::uint8_t* b = a + memory.size() / 2;
  std::uint64_t i = 0;
  while (a[i] != 0 && a[i] == b[i]) i++;
  const std::int32_t difference = std::int32_t{a[i]} - std::int32_t{b[i]};
  return (i << 32) | static_cast<std::uint32_t>(difference);
}

// switch64: 4096 s32 values in [0, 64).
void prepare_switch64(std::span<std::uint8_t> memory) {
  SplitMix64 random(0x5a1c);
  for (std::size_t i = 0; i < memory.size() / 4; i++) {
    store_u32(memory, i, static_cast<std::uint32_t>(random.next() % 64));
  }
}

std::uint64_t expected_switch64(std::span<const std::uint8_t> memory) {
  // The program's case constants: low halves of splitmix64 from seed 0x5ee1.
  std::array<std::uint32_t, 64> table;
  SplitMix64 random(0x5ee1);
  for (auto& entry : table) entry = static_cast<std::uint32_t>(random.next());
  std::uint32_t acc = 0;
  for (std::size_t i = 0; i < memory.size() / 4; i++) {
    const std::uint32_t value = load_u32(memory, i);
    acc ^= value < 64 ? table[value] : 0;
  }
  return acc;
}

// bytecopy: 1 MiB of random bytes copied into the second MiB.
void prepare_bytecopy(std::span<std::uint8_t> memory) {
  const std::size_t half = memory.size() / 2;
  fill_random_bytes(memory.first(half), 0xc0b1);
  std::fill(memory.begin() + static_cast<std::ptrdiff_t>(half), memory.end(), 0);
}

std::uint64_t expected_bytecopy(std::span<const std::uint8_t> memory) {
  const std::uint64_t n = memory.size() / 2;
  return (n << 24) | (std::uint64_t{memory[n - 1]} << 16) | (std::uint64_t{memory[n / 2]} << 8) |
         memory[0];
}

const Workload kWorkloads[] = {
    {"primes", "count primes below 10000 by trial division (1 counts): 1230", 4, false,
     prepare_primes, expected_primes},
    {"fnv1a", "FNV-1a 64 over 1 MiB, one byte per step", kMiB, false, prepare_fnv1a,
     expected_fnv1a},
    {"insertion_sort", "insertion sort of 2048 random u32 in place, then a checksum", 2048 * 4,
     true, prepare_insertion_sort, expected_insertion_sort},
    {"strcmp", "strcmp of two 1 MiB strings that differ 64 bytes before the end", 2 * kMiB, false,
     prepare_strcmp, expected_strcmp},
    {"switch64", "4096 values in [0,64) through a 64-case switch, XOR-ed", 4096 * 4, false,
     prepare_switch64, expected_switch64},
    {"bytecopy", "byte-by-byte copy of 1 MiB", 2 * kMiB, false, prepare_bytecopy,
     expected_bytecopy},
};

}  // namespace

std::span<const Workload> workloads() { return kWorkloads; }

const Workload* find_workload(std::string_view name) {
  for (const Workload& workload : kWorkloads) {
    if (workload.name == name) return &workload;
  }
  return nullptr;
}

}  // namespace bpfvm::bench
