// Differential test against the kernel's own maps: the same map is created with
// bpf(BPF_MAP_CREATE) (libbpf's thin wrappers) and as a bpfvm Map, the same random sequence
// of host operations is applied to both, and every return code and value is compared. Where
// Linux is not deterministic (hash iteration order, LRU eviction in batches, bloom false
// positives) the test compares what is: sets of keys, and that present values are found.
// Skips, saying why, where bpf() is refused.
#include "maps/create_cases.hpp"
#include "maps/map_test_util.hpp"

#include <bpf/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <map>
#include <random>
#include <set>
#include <string>

namespace bpfvm::test {
namespace {

// An owned map fd.
class KernelMap {
 public:
  explicit KernelMap(int fd) : fd_(fd) {}
  KernelMap(KernelMap&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ~KernelMap() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// The kernel's map for `spec`, or the negative errno BPF_MAP_CREATE gave.
int kernel_create(const MapSpec& spec, int inner_fd = -1) {
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  opts.map_flags = spec.flags;
  opts.map_extra = spec.map_extra;
  if (inner_fd >= 0) opts.inner_map_fd = static_cast<__u32>(inner_fd);
  int fd = bpf_map_create(static_cast<bpf_map_type>(spec.type),
                          spec.name.empty() ? nullptr : spec.name.c_str(), spec.key_size,
                          spec.value_size, spec.max_entries, &opts);
  return fd >= 0 ? fd : -errno;
}

// Skips the calling test when this process may not use bpf().
#define SKIP_WITHOUT_BPF()                                                                 \
  do {                                                                                     \
    int probe = kernel_create(map_spec(MapType::array, 4, 4, 1));                          \
    if (probe == -EPERM || probe == -EACCES || probe == -ENOSYS) {                         \
      GTEST_SKIP() << "bpf(BPF_MAP_CREATE) refused here (" << strerror(-probe)             \
                   << "): the kernel differential test needs root or CAP_BPF";             \
    }                                                                                      \
    ASSERT_GE(probe, 0) << "BPF_MAP_CREATE of a plain array failed: " << strerror(-probe); \
    close(probe);                                                                          \
  } while (0)

const std::map<std::string, int>& errno_names() {
  static const std::map<std::string, int> names = {
      {"EINVAL", EINVAL}, {"E2BIG", E2BIG},   {"ENOTSUPP", 524}, {"EOPNOTSUPP", EOPNOTSUPP},
      {"EBADF", EBADF},   {"ENOMEM", ENOMEM}, {"EPERM", EPERM},
  };
  return names;
}

int errno_of(const Error& error) {
  const std::string& m = error.message;
  std::size_t open = m.rfind('(');
  std::size_t close_paren = m.rfind(')');
  if (open == std::string::npos || close_paren < open) return 0;
  auto it = errno_names().find(m.substr(open + 1, close_paren - open - 1));
  return it == errno_names().end() ? 0 : it->second;
}

TEST(KernelMaps, CreateAgreesWithBpfMapCreate) {
  SKIP_WITHOUT_BPF();
  for (const CreateCase& c : create_cases()) {
    SCOPED_TRACE(c.label);
    // libbpf truncates longer names to 15 characters before the kernel sees them.
    if (c.spec.name.size() > 15) continue;
    int kernel = kernel_create(c.spec);
    auto ours = Map::create(c.spec);
    if (kernel >= 0) {
      close(kernel);
      EXPECT_TRUE(ours.ok()) << "the kernel created it; we said: " << ours.error().to_string();
    } else {
      ASSERT_FALSE(ours.ok()) << "the kernel refused with " << strerror(-kernel);
      EXPECT_EQ(-errno_of(ours.error()), kernel) << ours.error().to_string();
    }
  }
}

// Pins the thread to one CPU for the duration (per-CPU slots and Linux's per-CPU LRU free
// lists then behave deterministically).
class PinnedToCpu0 {
 public:
  PinnedToCpu0() {
    sched_getaffinity(0, sizeof old_, &old_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
  }
  ~PinnedToCpu0() { sched_setaffinity(0, sizeof old_, &old_); }

 private:
  cpu_set_t old_;
};

// Both maps, and the comparisons.
struct Pair {
  KernelMap kernel;
  std::shared_ptr<Map> ours;
  std::size_t key_size;
  std::size_t value_size;  // host value size (per-CPU: all CPUs)

  static Pair make(const MapSpec& spec) {
    int fd = kernel_create(spec);
    EXPECT_GE(fd, 0) << "BPF_MAP_CREATE: " << strerror(-fd);
    auto ours = make_map(spec);
    std::size_t value_size = ours ? ours->host_value_size() : 0;
    return Pair{KernelMap(fd), ours, spec.key_size, value_size};
  }

  int k_update(const void* key, const void* value, std::uint64_t flags) {
    return bpf_map_update_elem(kernel.fd(), key, value, flags) == 0 ? 0 : -errno;
  }
  int k_lookup(const void* key, void* value) {
    return bpf_map_lookup_elem(kernel.fd(), key, value) == 0 ? 0 : -errno;
  }
  int k_delete(const void* key) { return bpf_map_delete_elem(kernel.fd(), key) == 0 ? 0 : -errno; }
  int k_next(const void* key, void* next) {
    return bpf_map_get_next_key(kernel.fd(), key, next) == 0 ? 0 : -errno;
  }
  int k_lookup_and_delete(const void* key, void* value) {
    return bpf_map_lookup_and_delete_elem(kernel.fd(), key, value) == 0 ? 0 : -errno;
  }

  // Every key of a full get_next_key walk, in walk order.
  std::vector<std::vector<std::uint8_t>> walk(bool kernel_side) {
    std::vector<std::vector<std::uint8_t>> keys;
    std::vector<std::uint8_t> key(key_size), next(key_size);
    const void* cursor = nullptr;
    for (int guard = 0; guard < 100000; ++guard) {
      int rc = kernel_side ? k_next(cursor, next.data()) : ours->get_next_key(cursor, next.data());
      if (rc != 0) break;
      keys.push_back(next);
      key = next;
      cursor = key.data();
    }
    return keys;
  }

  // Same keys (as sets, or in order) and the same value for each.
  void expect_same_contents(bool ordered) {
    auto mine = walk(false);
    auto theirs = walk(true);
    if (ordered) {
      EXPECT_EQ(mine, theirs);
    } else {
      // As strings: GCC 12 warns (wrongly) on set<vector<uint8_t>> comparisons.
      auto as_set = [](const std::vector<std::vector<std::uint8_t>>& keys) {
        std::set<std::string> out;
        for (const auto& k : keys) out.emplace(k.begin(), k.end());
        return out;
      };
      EXPECT_EQ(as_set(mine), as_set(theirs));
    }
    std::vector<std::uint8_t> a(value_size), b(value_size);
    for (const auto& key : theirs) {
      ASSERT_EQ(ours->host_lookup(key.data(), a.data()), 0);
      ASSERT_EQ(k_lookup(key.data(), b.data()), 0);
      EXPECT_EQ(a, b);
    }
  }
};

std::vector<std::uint8_t> random_bytes(std::mt19937& rng, std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

std::uint64_t random_flags(std::mt19937& rng) {
  static constexpr std::uint64_t kFlags[] = {map_update::any, map_update::noexist,
                                             map_update::exist, 3, map_update::lock};
  unsigned pick = rng() % 20;
  if (pick < 17) return kFlags[pick % 3];
  return kFlags[3 + pick % 2];
}

// A random run of keyed host operations over keys drawn from `key_space` integers (encoded
// in the first bytes of the key). `deterministic_next` says whether get_next_key's answer can
// be compared exactly (arrays) or only by its return code and membership (hash tables).
void run_keyed(Pair& pair, std::uint32_t key_space, int steps, bool deterministic_next,
               bool lookup_and_delete, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> key(pair.key_size), next_a(pair.key_size), next_b(pair.key_size);
  std::vector<std::uint8_t> out_a(pair.value_size), out_b(pair.value_size);
  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    std::fill(key.begin(), key.end(), 0);
    std::uint32_t k = rng() % key_space;
    std::memcpy(key.data(), &k, std::min<std::size_t>(4, key.size()));
    switch (rng() % 6) {
      case 0:
      case 1: {
        auto value = random_bytes(rng, pair.value_size);
        std::uint64_t flags = random_flags(rng);
        ASSERT_EQ(pair.ours->host_update(key.data(), value.data(), flags),
                  pair.k_update(key.data(), value.data(), flags))
            << "update key " << k << " flags " << flags;
        break;
      }
      case 2: {
        std::fill(out_a.begin(), out_a.end(), 0);
        std::fill(out_b.begin(), out_b.end(), 0);
        ASSERT_EQ(pair.ours->host_lookup(key.data(), out_a.data()),
                  pair.k_lookup(key.data(), out_b.data()))
            << "lookup key " << k;
        ASSERT_EQ(out_a, out_b) << "lookup key " << k;
        break;
      }
      case 3:
        ASSERT_EQ(pair.ours->host_erase(key.data()), pair.k_delete(key.data()))
            << "delete key " << k;
        break;
      case 4: {
        const void* from = rng() % 8 == 0 ? nullptr : key.data();
        // A hash table's order is its own (seeded hashes): after a present key, whether there
        // is a next one depends on it. From NULL or an absent key both must give the first.
        if (!deterministic_next && from != nullptr &&
            pair.ours->host_lookup(key.data(), out_a.data()) == 0) {
          ASSERT_EQ(pair.k_lookup(key.data(), out_b.data()), 0);
          break;
        }
        int a = pair.ours->get_next_key(from, next_a.data());
        int b = pair.k_next(from, next_b.data());
        ASSERT_EQ(a, b) << "get_next_key " << (from ? std::to_string(k) : "NULL");
        if (a == 0 && deterministic_next) {
          ASSERT_EQ(next_a, next_b);
        }
        if (a == 0 && !deterministic_next) {
          ASSERT_EQ(pair.ours->host_lookup(next_a.data(), out_a.data()), 0);
          ASSERT_EQ(pair.k_lookup(next_b.data(), out_b.data()), 0);
        }
        break;
      }
      case 5: {
        if (!lookup_and_delete) break;
        std::fill(out_a.begin(), out_a.end(), 0);
        std::fill(out_b.begin(), out_b.end(), 0);
        ASSERT_EQ(pair.ours->host_lookup_and_erase(key.data(), out_a.data()),
                  pair.k_lookup_and_delete(key.data(), out_b.data()))
            << "lookup_and_delete key " << k;
        ASSERT_EQ(out_a, out_b);
        break;
      }
    }
  }
  pair.expect_same_contents(deterministic_next);
}

TEST(KernelMaps, ArrayAndPercpuArray) {
  SKIP_WITHOUT_BPF();
  PinnedToCpu0 pin;
  for (MapType type : {MapType::array, MapType::percpu_array}) {
    for (std::uint32_t value_size : {4u, 13u}) {
      SCOPED_TRACE(std::string(map_type_name(type)) + " value " + std::to_string(value_size));
      Pair pair = Pair::make(map_spec(type, 4, value_size, 16));
      ASSERT_TRUE(pair.ours);
      run_keyed(pair, 20, 10000, true, true, 1 + value_size);
    }
  }
}

TEST(KernelMaps, HashAndPercpuHash) {
  SKIP_WITHOUT_BPF();
  PinnedToCpu0 pin;
  for (MapType type : {MapType::hash, MapType::percpu_hash}) {
    for (std::uint32_t flags : {0u, map_flag::no_prealloc}) {
      SCOPED_TRACE(std::string(map_type_name(type)) + " flags " + std::to_string(flags));
      // Key space larger than max_entries, so full-map -E2BIG happens.
      Pair pair = Pair::make(map_spec(type, 6, 12, 24, flags));
      ASSERT_TRUE(pair.ours);
      run_keyed(pair, 40, 20000, false, true, 7 + flags);
    }
  }
}

TEST(KernelMaps, LruHashWithoutEviction) {
  // Linux's LRU evicts in per-CPU batches once full, which is not deterministic enough to
  // compare; below capacity, and on one CPU, both must agree on everything.
  SKIP_WITHOUT_BPF();
  PinnedToCpu0 pin;
  for (MapType type : {MapType::lru_hash, MapType::lru_percpu_hash}) {
    SCOPED_TRACE(std::string(map_type_name(type)));
    Pair pair = Pair::make(map_spec(type, 4, 8, 256));
    ASSERT_TRUE(pair.ours);
    run_keyed(pair, 64, 10000, false, true, 11);
  }
}

TEST(KernelMaps, LruHashKeepsTheNewestKeyWhenFull) {
  // What is deterministic past capacity: an insert always succeeds, the new key is present,
  // and no more than max_entries keys remain.
  SKIP_WITHOUT_BPF();
  PinnedToCpu0 pin;
  Pair pair = Pair::make(map_spec(MapType::lru_hash, 4, 8, 32));
  ASSERT_TRUE(pair.ours);
  std::uint64_t value = 0;
  for (std::uint32_t k = 0; k < 200; ++k) {
    ASSERT_EQ(pair.ours->host_update(&k, &value, map_update::noexist), 0);
    ASSERT_EQ(pair.k_update(&k, &value, map_update::noexist), 0);
    ASSERT_EQ(pair.ours->host_lookup(&k, &value), 0);
    ASSERT_EQ(pair.k_lookup(&k, &value), 0);
  }
  EXPECT_LE(pair.walk(false).size(), 32u);
  EXPECT_LE(pair.walk(true).size(), 32u);
}

TEST(KernelMaps, LpmTrie) {
  SKIP_WITHOUT_BPF();
  for (std::uint32_t data_size : {4u, 16u}) {
    SCOPED_TRACE("data bytes " + std::to_string(data_size));
    const std::uint32_t max_prefix = data_size * 8;
    Pair pair =
        Pair::make(map_spec(MapType::lpm_trie, 4 + data_size, 8, 20, map_flag::no_prealloc));
    ASSERT_TRUE(pair.ours);
    std::mt19937 rng(3 + data_size);
    std::vector<std::uint8_t> key(4 + data_size), next_a(key.size()), next_b(key.size());
    std::uint64_t out_a = 0, out_b = 0;
    for (int step = 0; step < 20000; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      // Few distinct high bits so prefixes nest and share paths; lengths favour the ends.
      static constexpr std::uint32_t kLens[] = {0, 1, 7, 8, 9, 16, 23, 24, 31, 32, 64, 127, 128};
      std::uint32_t len = kLens[rng() % std::size(kLens)];
      if (rng() % 10 == 0) len = rng() % (max_prefix + 2);  // sometimes > max: -EINVAL
      if (len > max_prefix + 1) len = max_prefix;
      std::memcpy(key.data(), &len, 4);
      for (std::uint32_t i = 0; i < data_size; ++i) key[4 + i] = 0;
      key[4] = static_cast<std::uint8_t>(0xc0 | (rng() % 4));
      key[5] = static_cast<std::uint8_t>(rng() % 3);
      key[4 + data_size - 1] ^= static_cast<std::uint8_t>(rng() % 4);
      switch (rng() % 5) {
        case 0:
        case 1: {
          std::uint64_t value = rng();
          std::uint64_t flags = rng() % 10 == 0 ? 3 : rng() % 3;
          ASSERT_EQ(pair.ours->host_update(key.data(), &value, flags),
                    pair.k_update(key.data(), &value, flags))
              << "update /" << len << " flags " << flags;
          break;
        }
        case 2:
          out_a = out_b = 0;
          ASSERT_EQ(pair.ours->host_lookup(key.data(), &out_a), pair.k_lookup(key.data(), &out_b))
              << "lookup /" << len;
          ASSERT_EQ(out_a, out_b);
          break;
        case 3:
          ASSERT_EQ(pair.ours->host_erase(key.data()), pair.k_delete(key.data()))
              << "delete /" << len;
          break;
        case 4: {
          const void* from = rng() % 6 == 0 ? nullptr : key.data();
          int a = pair.ours->get_next_key(from, next_a.data());
          int b = pair.k_next(from, next_b.data());
          ASSERT_EQ(a, b);
          if (a == 0) {
            ASSERT_EQ(next_a, next_b) << "get_next_key order";
          }
          break;
        }
      }
    }
    pair.expect_same_contents(true);
  }
}

TEST(KernelMaps, QueueAndStack) {
  SKIP_WITHOUT_BPF();
  for (MapType type : {MapType::queue, MapType::stack}) {
    SCOPED_TRACE(std::string(map_type_name(type)));
    Pair pair = Pair::make(map_spec(type, 0, 12, 6));
    ASSERT_TRUE(pair.ours);
    std::mt19937 rng(5);
    std::vector<std::uint8_t> out_a(12), out_b(12);
    for (int step = 0; step < 3000; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      std::fill(out_a.begin(), out_a.end(), 0);
      std::fill(out_b.begin(), out_b.end(), 0);
      switch (rng() % 5) {
        case 0:
        case 1: {
          auto value = random_bytes(rng, 12);
          std::uint64_t flags = rng() % 8 == 0 ? 3 : rng() % 3;
          ASSERT_EQ(pair.ours->host_update(nullptr, value.data(), flags),
                    pair.k_update(nullptr, value.data(), flags))
              << "push flags " << flags;
          break;
        }
        case 2:
          ASSERT_EQ(pair.ours->host_lookup(nullptr, out_a.data()),
                    pair.k_lookup(nullptr, out_b.data()));
          break;
        case 3:
          ASSERT_EQ(pair.ours->host_lookup_and_erase(nullptr, out_a.data()),
                    pair.k_lookup_and_delete(nullptr, out_b.data()));
          break;
        case 4: {
          ASSERT_EQ(pair.ours->host_erase(nullptr), pair.k_delete(nullptr));
          std::uint8_t next[4];
          ASSERT_EQ(pair.ours->get_next_key(nullptr, next), pair.k_next(nullptr, next));
          break;
        }
      }
      ASSERT_EQ(out_a, out_b);
    }
  }
}

TEST(KernelMaps, BloomFilter) {
  SKIP_WITHOUT_BPF();
  MapSpec spec = map_spec(MapType::bloom_filter, 0, 8, 500);
  spec.map_extra = 4;
  Pair pair = Pair::make(spec);
  ASSERT_TRUE(pair.ours);
  std::mt19937_64 rng(9);
  std::vector<std::uint64_t> pushed;
  int ours_fp = 0, kernel_fp = 0;
  for (int step = 0; step < 2000; ++step) {
    std::uint64_t value = rng() % 100000;
    std::uint64_t flags = step % 10 == 0 ? rng() % 4 : 0;
    if (step % 2 == 0) {
      int a = pair.ours->host_update(nullptr, &value, flags);
      ASSERT_EQ(a, pair.k_update(nullptr, &value, flags)) << "push flags " << flags;
      if (a == 0) pushed.push_back(value);
    } else {
      int a = pair.ours->host_lookup(nullptr, &value);
      int b = pair.k_lookup(nullptr, &value);
      bool was_pushed = std::find(pushed.begin(), pushed.end(), value) != pushed.end();
      if (was_pushed) {
        ASSERT_EQ(a, 0);
        ASSERT_EQ(b, 0);
      } else {
        ASSERT_TRUE(a == 0 || a == -ENOENT);
        ours_fp += a == 0;
        kernel_fp += b == 0;
      }
    }
  }
  for (std::uint64_t v : pushed) ASSERT_EQ(pair.ours->host_lookup(nullptr, &v), 0);
  EXPECT_LE(ours_fp, kernel_fp + 20) << "false positives far above the kernel's";
  std::uint64_t v = 1;
  EXPECT_EQ(pair.ours->host_erase(nullptr), pair.k_delete(nullptr));
  EXPECT_EQ(pair.ours->host_lookup_and_erase(nullptr, &v), pair.k_lookup_and_delete(nullptr, &v));
  std::uint8_t next[8];
  EXPECT_EQ(pair.ours->get_next_key(nullptr, next), pair.k_next(nullptr, next));
}

// Map-in-map: which inner templates BPF_MAP_CREATE takes, and which inner maps the outer map
// accepts (bpf_map_meta_equal), compared by return code. The kernel gets fds, we get objects.
TEST(KernelMaps, MapInMapTemplatesAndInnerChecks) {
  SKIP_WITHOUT_BPF();
  const MapSpec templates[] = {
      map_spec(MapType::array, 4, 8, 4),           map_spec(MapType::hash, 8, 8, 16),
      map_spec(MapType::array, 4, 8, 4, 1u << 12),  // BPF_F_INNER_MAP
      map_spec(MapType::queue, 0, 4, 4),           map_spec(MapType::prog_array, 4, 4, 4),
  };
  const MapSpec candidates[] = {
      map_spec(MapType::array, 4, 8, 4),     map_spec(MapType::array, 4, 8, 5),
      map_spec(MapType::array, 4, 4, 4),     map_spec(MapType::percpu_array, 4, 8, 4),
      map_spec(MapType::hash, 8, 8, 16),     map_spec(MapType::hash, 8, 8, 16, 1),
      map_spec(MapType::lru_hash, 8, 8, 16), map_spec(MapType::array, 4, 8, 9, 1u << 12),
      map_spec(MapType::queue, 0, 4, 4),
  };
  for (MapType outer_type : {MapType::array_of_maps, MapType::hash_of_maps}) {
    for (const MapSpec& shape : templates) {
      SCOPED_TRACE(std::string(map_type_name(outer_type)) + " of " +
                   std::string(map_type_name(shape.type)) + " flags " +
                   std::to_string(shape.flags));
      int template_fd = kernel_create(shape);
      ASSERT_GE(template_fd, 0);
      MapSpec outer_spec = map_spec(outer_type, 4, 4, 2);
      outer_spec.inner = std::make_shared<MapSpec>(shape);
      int outer_fd = kernel_create(outer_spec, template_fd);
      close(template_fd);
      auto outer = Map::create(outer_spec);
      if (outer_fd < 0) {
        ASSERT_FALSE(outer.ok()) << "kernel refused with " << strerror(-outer_fd);
        EXPECT_EQ(-errno_of(outer.error()), outer_fd) << outer.error().to_string();
        continue;
      }
      KernelMap kernel_outer(outer_fd);
      ASSERT_TRUE(outer.ok()) << outer.error().to_string();
      auto ours = std::dynamic_pointer_cast<MapOfMaps>(*outer);
      ASSERT_TRUE(ours);
      for (const MapSpec& candidate : candidates) {
        SCOPED_TRACE(
            "inner " + std::string(map_type_name(candidate.type)) + " " +
            std::to_string(candidate.key_size) + "/" + std::to_string(candidate.value_size) + "/" +
            std::to_string(candidate.max_entries) + " flags " + std::to_string(candidate.flags));
        KernelMap inner_fd(kernel_create(candidate));
        ASSERT_GE(inner_fd.fd(), 0);
        auto inner = make_map(candidate);
        ASSERT_TRUE(inner);
        for (std::uint32_t key : {0u, 1u, 2u}) {
          std::uint32_t fd_value = static_cast<std::uint32_t>(inner_fd.fd());
          int theirs = bpf_map_update_elem(kernel_outer.fd(), &key, &fd_value, 0) == 0 ? 0 : -errno;
          EXPECT_EQ(ours->set(&key, inner), theirs) << "set key " << key;
        }
        std::uint32_t key = 1;
        int theirs = bpf_map_delete_elem(kernel_outer.fd(), &key) == 0 ? 0 : -errno;
        EXPECT_EQ(ours->erase(&key), theirs) << "delete";
        theirs = bpf_map_delete_elem(kernel_outer.fd(), &key) == 0 ? 0 : -errno;
        EXPECT_EQ(ours->erase(&key), theirs) << "delete again";
      }
    }
  }
}

// BPF_F_RDONLY / BPF_F_WRONLY: the host's side of the map is read-only or write-only, and the
// refused direction is -EPERM before any other check.
TEST(KernelMaps, HostAccessFlags) {
  SKIP_WITHOUT_BPF();
  const MapSpec shapes[] = {
      map_spec(MapType::array, 4, 8, 4),
      map_spec(MapType::hash, 4, 8, 4),
      map_spec(MapType::lru_hash, 4, 8, 4),
      map_spec(MapType::lpm_trie, 8, 8, 4, map_flag::no_prealloc),
      map_spec(MapType::queue, 0, 8, 4),
      map_spec(MapType::bloom_filter, 0, 8, 4),
  };
  for (MapSpec spec : shapes) {
    for (std::uint32_t access : {map_flag::rdonly, map_flag::wronly}) {
      spec.flags = (spec.flags & map_flag::no_prealloc) | access;
      SCOPED_TRACE(std::string(map_type_name(spec.type)) + " flags " + std::to_string(access));
      Pair pair = Pair::make(spec);
      ASSERT_TRUE(pair.ours);
      std::uint8_t key[8] = {32, 0, 0, 0, 10, 0, 0, 1};  // also an LPM /32
      const void* k = spec.key_size ? key : nullptr;
      std::uint64_t a = 1, b = 1;
      for (std::uint64_t flags : {map_update::any, std::uint64_t{3}, map_update::lock}) {
        EXPECT_EQ(pair.ours->host_update(k, &a, flags), pair.k_update(k, &b, flags)) << flags;
      }
      EXPECT_EQ(pair.ours->host_lookup(k, &a), pair.k_lookup(k, &b));
      std::uint8_t next_a[8], next_b[8];
      EXPECT_EQ(pair.ours->get_next_key(k, next_a), pair.k_next(k, next_b));
      EXPECT_EQ(pair.ours->host_lookup_and_erase(k, &a), pair.k_lookup_and_delete(k, &b));
      EXPECT_EQ(pair.ours->host_erase(k), pair.k_delete(k));
    }
  }
}

// Every map indexed by a u32 (maps/map_common.hpp array_next_key) walks its indexes as
// array_map_get_next_key does, set or not: from no key, from each index, from past the end.
TEST(KernelMaps, IndexedMapsWalkTheirKeysAsLinux) {
  SKIP_WITHOUT_BPF();
  for (MapType type :
       {MapType::array, MapType::prog_array, MapType::perf_event_array, MapType::devmap}) {
    SCOPED_TRACE(std::string(map_type_name(type)));
    Pair pair = Pair::make(map_spec(type, 4, 4, 5));
    ASSERT_TRUE(pair.ours);
    std::uint32_t next_a = 99, next_b = 99;
    ASSERT_EQ(pair.ours->get_next_key(nullptr, &next_a), pair.k_next(nullptr, &next_b));
    EXPECT_EQ(next_a, next_b);
    for (std::uint32_t index = 0; index < 8; ++index) {
      next_a = next_b = 99;
      ASSERT_EQ(pair.ours->get_next_key(&index, &next_a), pair.k_next(&index, &next_b)) << index;
      EXPECT_EQ(next_a, next_b) << index;
    }
  }
}

// The maps without keys (maps/keyless_map.hpp): the keyed commands and the batches fail as
// each type's Linux map_ops make them fail, and lookup, update and lookup-and-delete are
// peek, push and pop.
TEST(KernelMaps, KeylessMapsAnswerKeyedAndBatchCommandsAsLinux) {
  SKIP_WITHOUT_BPF();
  for (MapType type : {MapType::bloom_filter, MapType::queue, MapType::stack}) {
    SCOPED_TRACE(std::string(map_type_name(type)));
    Pair pair = Pair::make(map_spec(type, 0, 4, 4));
    ASSERT_TRUE(pair.ours);
    std::uint32_t values[2] = {7, 9}, out_a = 0, out_b = 0;
    EXPECT_EQ(pair.ours->host_update(nullptr, &values[0], 0),
              pair.k_update(nullptr, &values[0], 0));
    EXPECT_EQ(pair.ours->host_lookup(nullptr, &out_a), pair.k_lookup(nullptr, &out_b));
    EXPECT_EQ(out_a, out_b);
    EXPECT_EQ(pair.ours->host_erase(nullptr), pair.k_delete(nullptr));
    std::uint32_t next_a = 0, next_b = 0;
    EXPECT_EQ(pair.ours->get_next_key(nullptr, &next_a), pair.k_next(nullptr, &next_b));
    const int erased = pair.ours->host_lookup_and_erase(nullptr, &out_a);
    EXPECT_EQ(erased, pair.k_lookup_and_delete(nullptr, &out_b));
    if (erased == 0) {
      EXPECT_EQ(out_a, out_b);
    }

    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    std::uint32_t count_a = 2, count_b = 2;
    const int ours_update = pair.ours->update_batch(nullptr, values, count_a, 0);
    EXPECT_EQ(
        ours_update,
        bpf_map_update_batch(pair.kernel.fd(), nullptr, values, &count_b, &opts) == 0 ? 0 : -errno);
    // Linux refuses before it writes the count back; ours says none were done.
    EXPECT_EQ(count_a, 0u);
    std::uint32_t cursor = 0, keys[2], got[2];
    count_a = count_b = 2;
    EXPECT_EQ(
        pair.ours->lookup_batch(nullptr, &cursor, keys, got, count_a),
        bpf_map_lookup_batch(pair.kernel.fd(), nullptr, &cursor, keys, got, &count_b, &opts) == 0
            ? 0
            : -errno);
    EXPECT_EQ(count_a, 0u);
  }
}

// BPF_MAP_LOOKUP_BATCH on arrays (generic_map_lookup_batch): batches of keys and values from
// a cursor, -ENOENT with the last partial batch. Compared batch by batch.
TEST(KernelMaps, ArrayLookupBatch) {
  SKIP_WITHOUT_BPF();
  for (MapType type : {MapType::array, MapType::percpu_array}) {
    SCOPED_TRACE(std::string(map_type_name(type)));
    Pair pair = Pair::make(map_spec(type, 4, 12, 11));
    ASSERT_TRUE(pair.ours);
    std::mt19937 rng(4);
    for (std::uint32_t k = 0; k < 11; ++k) {
      auto value = random_bytes(rng, pair.value_size);
      ASSERT_EQ(pair.ours->host_update(&k, value.data(), 0), 0);
      ASSERT_EQ(pair.k_update(&k, value.data(), 0), 0);
    }
    for (std::uint32_t batch : {1u, 4u, 11u, 20u}) {
      SCOPED_TRACE("batch " + std::to_string(batch));
      std::uint32_t cursor_a = 0, cursor_b = 0;
      bool first = true;
      for (int round = 0; round < 20; ++round) {
        std::vector<std::uint32_t> keys_a(batch), keys_b(batch);
        std::vector<std::uint8_t> values_a(batch * pair.value_size),
            values_b(batch * pair.value_size);
        std::uint32_t count_a = batch, count_b = batch;
        std::uint32_t in_a = cursor_a, in_b = cursor_b;
        int a = pair.ours->lookup_batch(first ? nullptr : &in_a, &cursor_a, keys_a.data(),
                                        values_a.data(), count_a);
        LIBBPF_OPTS(bpf_map_batch_opts, opts);
        int b = bpf_map_lookup_batch(pair.kernel.fd(), first ? nullptr : &in_b, &cursor_b,
                                     keys_b.data(), values_b.data(), &count_b, &opts) == 0
                    ? 0
                    : -errno;
        first = false;
        ASSERT_EQ(a, b) << "round " << round;
        ASSERT_EQ(count_a, count_b) << "round " << round;
        keys_a.resize(count_a);
        keys_b.resize(count_b);
        values_a.resize(count_a * pair.value_size);
        values_b.resize(count_b * pair.value_size);
        EXPECT_EQ(keys_a, keys_b);
        EXPECT_EQ(values_a, values_b);
        if (a != 0) break;
        EXPECT_EQ(cursor_a, cursor_b);
      }
    }
  }
}

// Hash batches start at a bucket in Linux and at a key here, so only a batch that holds the
// whole map compares: the same elements, the same count, -ENOENT.
TEST(KernelMaps, HashLookupBatchOfEverything) {
  SKIP_WITHOUT_BPF();
  for (MapType type : {MapType::hash, MapType::percpu_hash, MapType::lru_hash}) {
    SCOPED_TRACE(std::string(map_type_name(type)));
    Pair pair = Pair::make(map_spec(type, 4, 12, 32));
    ASSERT_TRUE(pair.ours);
    std::mt19937 rng(6);
    for (std::uint32_t i = 0; i < 20; ++i) {
      std::uint32_t k = rng() % 1000;
      auto value = random_bytes(rng, pair.value_size);
      ASSERT_EQ(pair.ours->host_update(&k, value.data(), 0), pair.k_update(&k, value.data(), 0));
    }
    constexpr std::uint32_t kBatch = 64;
    std::vector<std::uint32_t> keys_a(kBatch), keys_b(kBatch);
    std::vector<std::uint8_t> values_a(kBatch * pair.value_size),
        values_b(kBatch * pair.value_size);
    std::uint32_t count_a = kBatch, count_b = kBatch, cursor_a = 0;
    std::uint64_t cursor_b = 0;  // the kernel's hash cursor is a bucket index
    int a = pair.ours->lookup_batch(nullptr, &cursor_a, keys_a.data(), values_a.data(), count_a);
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int b = bpf_map_lookup_batch(pair.kernel.fd(), nullptr, &cursor_b, keys_b.data(),
                                 values_b.data(), &count_b, &opts) == 0
                ? 0
                : -errno;
    ASSERT_EQ(a, b);
    ASSERT_EQ(count_a, count_b);
    auto pairs = [&](const std::vector<std::uint32_t>& keys,
                     const std::vector<std::uint8_t>& values, std::uint32_t count) {
      std::set<std::string> out;
      for (std::uint32_t i = 0; i < count; ++i) {
        std::string entry(reinterpret_cast<const char*>(&keys[i]), 4);
        entry.append(reinterpret_cast<const char*>(values.data()) + i * pair.value_size,
                     pair.value_size);
        out.insert(entry);
      }
      return out;
    };
    EXPECT_EQ(pairs(keys_a, values_a, count_a), pairs(keys_b, values_b, count_b));
  }
}

TEST(KernelMaps, ArrayLookupAndDeleteIsUnsupported) {
  SKIP_WITHOUT_BPF();
  Pair pair = Pair::make(map_spec(MapType::array, 4, 8, 4));
  ASSERT_TRUE(pair.ours);
  std::uint32_t key = 0;
  std::uint64_t a = 0, b = 0;
  EXPECT_EQ(pair.ours->host_lookup_and_erase(&key, &a), pair.k_lookup_and_delete(&key, &b));
}

}  // namespace
}  // namespace bpfvm::test
