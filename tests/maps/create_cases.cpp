#include "maps/create_cases.hpp"

#include "maps/map_test_util.hpp"

namespace bpfvm::test {

std::vector<CreateCase> create_cases() {
  constexpr std::uint32_t no_prealloc = map_flag::no_prealloc;
  constexpr std::uint32_t numa = 1u << 2;
  auto with_extra = [](MapSpec spec, std::uint64_t extra) {
    spec.map_extra = extra;
    return spec;
  };
  auto named = [](MapSpec spec, const char* name) {
    spec.name = name;
    return spec;
  };
  return {
      {"array ok", map_spec(MapType::array, 4, 8, 16), nullptr, nullptr},
      {"array key 8", map_spec(MapType::array, 8, 8, 16), "EINVAL", "key_size"},
      {"array value 0", map_spec(MapType::array, 4, 0, 16), "EINVAL", "value_size"},
      {"array entries 0", map_spec(MapType::array, 4, 8, 0), "EINVAL", "max_entries"},
      {"array no_prealloc", map_spec(MapType::array, 4, 8, 1, no_prealloc), "EINVAL", "flags"},
      {"array mmapable", map_spec(MapType::array, 4, 8, 1, map_flag::mmapable), nullptr, nullptr},
      {"percpu_array mmapable", map_spec(MapType::percpu_array, 4, 8, 1, map_flag::mmapable),
       "EINVAL", "flags"},
      {"percpu_array numa", map_spec(MapType::percpu_array, 4, 8, 1, numa), "EINVAL", "flags"},
      {"percpu_array big value", map_spec(MapType::percpu_array, 4, 40000, 1), "E2BIG",
       "value_size"},
      {"array rdonly+wronly",
       map_spec(MapType::array, 4, 8, 1, map_flag::rdonly | map_flag::wronly), "EINVAL", "flags"},
      {"array rdonly_prog", map_spec(MapType::array, 4, 8, 1, map_flag::rdonly_prog), nullptr,
       nullptr},
      {"array map_extra", with_extra(map_spec(MapType::array, 4, 8, 1), 3), "EINVAL", "map_extra"},
      {"hash ok", map_spec(MapType::hash, 6, 10, 16), nullptr, nullptr},
      {"hash no_prealloc", map_spec(MapType::hash, 4, 8, 16, no_prealloc), nullptr, nullptr},
      {"hash key 0", map_spec(MapType::hash, 0, 8, 16), "EINVAL", "key_size"},
      {"hash value 0", map_spec(MapType::hash, 4, 0, 16), "EINVAL", "value_size"},
      {"hash entries 0", map_spec(MapType::hash, 4, 8, 0), "EINVAL", "max_entries"},
      {"hash key 513", map_spec(MapType::hash, 513, 8, 16), nullptr, nullptr},
      {"hash key 512", map_spec(MapType::hash, 512, 8, 16), nullptr, nullptr},
      {"hash mmapable", map_spec(MapType::hash, 4, 8, 16, map_flag::mmapable), "EINVAL", "flags"},
      {"hash no_common_lru", map_spec(MapType::hash, 4, 8, 16, map_flag::no_common_lru), "EINVAL",
       "flags"},
      {"percpu_hash ok", map_spec(MapType::percpu_hash, 4, 8, 16), nullptr, nullptr},
      {"percpu_hash numa", map_spec(MapType::percpu_hash, 4, 8, 16, numa), "EINVAL", "flags"},
      {"lru_hash ok", map_spec(MapType::lru_hash, 4, 8, 16), nullptr, nullptr},
      {"lru_hash no_prealloc", map_spec(MapType::lru_hash, 4, 8, 16, no_prealloc), "ENOTSUPP",
       "flags"},
      {"lru_hash no_common_lru", map_spec(MapType::lru_hash, 4, 8, 16, map_flag::no_common_lru),
       nullptr, nullptr},
      {"lru_percpu_hash ok", map_spec(MapType::lru_percpu_hash, 4, 8, 16), nullptr, nullptr},
      {"lpm ok", map_spec(MapType::lpm_trie, 8, 8, 16, no_prealloc), nullptr, nullptr},
      {"lpm prealloc", map_spec(MapType::lpm_trie, 8, 8, 16), "EINVAL", "BPF_F_NO_PREALLOC"},
      {"lpm key 4", map_spec(MapType::lpm_trie, 4, 8, 16, no_prealloc), "EINVAL", "key_size"},
      {"lpm key 261", map_spec(MapType::lpm_trie, 261, 8, 16, no_prealloc), "EINVAL", "key_size"},
      {"lpm key 260", map_spec(MapType::lpm_trie, 260, 8, 16, no_prealloc), nullptr, nullptr},
      {"lpm value 0", map_spec(MapType::lpm_trie, 8, 0, 16, no_prealloc), "EINVAL", "value_size"},
      {"lpm entries 0", map_spec(MapType::lpm_trie, 8, 8, 0, no_prealloc), "EINVAL", "max_entries"},
      {"queue ok", map_spec(MapType::queue, 0, 8, 16), nullptr, nullptr},
      {"queue key 4", map_spec(MapType::queue, 4, 8, 16), "EINVAL", "key_size"},
      {"stack value 0", map_spec(MapType::stack, 0, 0, 16), "EINVAL", "value_size"},
      {"stack entries 0", map_spec(MapType::stack, 0, 8, 0), "EINVAL", "max_entries"},
      {"stack no_prealloc", map_spec(MapType::stack, 0, 8, 4, no_prealloc), "EINVAL", "flags"},
      {"ringbuf ok", map_spec(MapType::ringbuf, 0, 0, 4096), nullptr, nullptr},
      {"ringbuf 16 pages", map_spec(MapType::ringbuf, 0, 0, 65536), nullptr, nullptr},
      {"ringbuf not page multiple", map_spec(MapType::ringbuf, 0, 0, 2048), "EINVAL",
       "max_entries"},
      {"ringbuf not power of 2", map_spec(MapType::ringbuf, 0, 0, 3 * 4096), "EINVAL",
       "max_entries"},
      {"ringbuf key", map_spec(MapType::ringbuf, 4, 0, 4096), "EINVAL", "key_size"},
      {"ringbuf value", map_spec(MapType::ringbuf, 0, 4, 4096), "EINVAL", "value_size"},
      {"bloom ok", map_spec(MapType::bloom_filter, 0, 8, 100), nullptr, nullptr},
      {"bloom 3 hashes", with_extra(map_spec(MapType::bloom_filter, 0, 8, 100), 3), nullptr,
       nullptr},
      {"bloom key 4", map_spec(MapType::bloom_filter, 4, 8, 100), "EINVAL", "key_size"},
      {"bloom value 0", map_spec(MapType::bloom_filter, 0, 0, 100), "EINVAL", "value_size"},
      {"bloom extra 16", with_extra(map_spec(MapType::bloom_filter, 0, 8, 100), 16), "EINVAL",
       "map_extra"},
      {"prog_array ok", map_spec(MapType::prog_array, 4, 4, 8), nullptr, nullptr},
      {"prog_array value 8", map_spec(MapType::prog_array, 4, 8, 8), "EINVAL", "value_size"},
      {"array preserve_elems", map_spec(MapType::array, 4, 8, 1, 1u << 11), "EINVAL", "flags"},
      {"array inner_map", map_spec(MapType::array, 4, 8, 1, 1u << 12), nullptr, nullptr},
      {"percpu_array inner_map", map_spec(MapType::percpu_array, 4, 8, 1, 1u << 12), "EINVAL",
       "flags"},
      {"hash zero_seed", map_spec(MapType::hash, 4, 8, 4, 1u << 6), nullptr, nullptr},
      {"hash inner_map", map_spec(MapType::hash, 4, 8, 4, 1u << 12), "EINVAL", "flags"},
      {"bloom zero_seed", map_spec(MapType::bloom_filter, 0, 8, 4, 1u << 6), nullptr, nullptr},
      {"bloom no_prealloc", map_spec(MapType::bloom_filter, 0, 8, 4, no_prealloc), "EINVAL",
       "flags"},
      {"lpm mmapable", map_spec(MapType::lpm_trie, 8, 8, 4, no_prealloc | map_flag::mmapable),
       "EINVAL", "flags"},
      {"queue rdonly_prog", map_spec(MapType::queue, 0, 8, 4, map_flag::rdonly_prog), nullptr,
       nullptr},
      {"ringbuf no_prealloc", map_spec(MapType::ringbuf, 0, 0, 4096, no_prealloc), "EINVAL",
       "flags"},
      {"prog_array mmapable", map_spec(MapType::prog_array, 4, 4, 4, map_flag::mmapable), "EINVAL",
       "flags"},
      {"lru_percpu_hash numa", map_spec(MapType::lru_percpu_hash, 4, 8, 4, numa), "EINVAL",
       "flags"},
      {"hash 2^28 + 1 entries", map_spec(MapType::hash, 4, 8, (1u << 28) + 1), "E2BIG",
       "max_entries"},
      {"name ok", named(map_spec(MapType::array, 4, 4, 1), "my_map.v2"), nullptr, nullptr},
      {"name too long", named(map_spec(MapType::array, 4, 4, 1), "a_name_of_16_chr"), "EINVAL",
       "name"},
      {"name bad char", named(map_spec(MapType::array, 4, 4, 1), "my-map"), "EINVAL", "name"},
  };
}

}  // namespace bpfvm::test
