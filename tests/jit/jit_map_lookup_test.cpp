// The JIT's bpf_map_lookup_elem fast paths (src/jit/emit_map_lookup.cpp): inline array
// lookups and direct map calls when r1 is a map from lddw. Every case runs on the
// interpreter and the JIT, checked and unchecked, and must agree with the helper exactly:
// r0, values, errors, grants (bpf_probe_read sees them) and budgets. A counting stand-in for
// the helper shows which calls took the fast path.
#include "jit/map_programs.hpp"

#include "vm/run_state.hpp"

#include <bpfvm/map.hpp>

#include <cerrno>
#include <cstring>

namespace bpfvm::helper_test {
namespace {

// The real helper behind a counter, registered with its fast path (or without).
int lookup_calls = 0;
HelperFunction real_lookup = nullptr;
u64 counting_lookup(HelperCall& call, u64 r1, u64 r2, u64 r3, u64 r4, u64 r5) {
  ++lookup_calls;
  return real_lookup(call, r1, r2, r3, r4, r5);
}

HelperRegistry registry_with(HelperFastPath fast_path) {
  HelperRegistry linux = linux_helpers();
  HelperRegistry registry;
  for (const auto& [id, helper] : linux.all()) {
    Helper copy = helper;
    if (id == 1) {
      real_lookup = helper.function;
      copy.function = counting_lookup;
      copy.fast_path = fast_path;
    }
    EXPECT_TRUE(registry.add(copy));
  }
  return registry;
}

HelperRegistry fast = registry_with(HelperFastPath::map_lookup_elem);
HelperRegistry slow = registry_with(HelperFastPath::none);

Program load(std::string_view source, std::vector<std::shared_ptr<Map>> maps,
             const HelperRegistry& registry = fast) {
  return load_with_maps(source, std::move(maps), registry);
}

struct Context {
  std::uint32_t index = 0;
  std::uint32_t pad = 0;
  std::uint64_t extra = 0;
};

// r0 = the u32 at offset 8 of value[ctx->index], or 7777 when the lookup gives null. A
// lookup of key 0 comes first: the first lookup that finds a value grants the array through
// the bridge, and only the later ones run inline.
const char* array_read = R"(
    ldxw %r6, [%r1]
    stw [%r10-4], 0
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    stxw [%r10-4], %r6
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, miss
    ldxw %r0, [%r0+8]
    exit
  miss:
    mov %r0, 7777
    exit
)";

void fill_array(Map& map, std::uint32_t entries, std::uint32_t value_size) {
  // Per-CPU maps take one value per CPU, each padded to 8 bytes; the word at offset 8 of
  // every CPU's value (0 for values smaller than 12 bytes) is key * 10 + 1.
  const bool percpu = map.type() == MapType::percpu_array;
  const std::size_t stride = percpu ? (value_size + 7) & ~7u : value_size;
  const std::size_t cpus = percpu ? possible_cpus() : 1;
  for (std::uint32_t key = 0; key < entries; ++key) {
    std::vector<std::uint8_t> value(map.host_value_size(), 0);
    for (std::size_t cpu = 0; cpu < cpus; ++cpu) {
      std::uint32_t word = key * 10 + 1;
      std::memcpy(value.data() + cpu * stride + (value_size >= 12 ? 8 : 0), &word, 4);
    }
    ASSERT_EQ(map.host_update(&key, value.data(), map_update::any), 0);
  }
}

const MemoryMode modes[] = {MemoryMode::checked, MemoryMode::unchecked};

TEST(JitMapLookup, InlineArrayLookupAgreesInAndOutOfBounds) {
  // value_size 12: elements 16 bytes apart, as Linux rounds them.
  auto map = make_map(MapType::array, 4, 12, 10);
  fill_array(*map, 10, 12);
  Program program = load(array_read, {map});
  for (MemoryMode mode : modes) {
    for (std::uint32_t index : {0u, 1u, 9u, 10u, 11u, 0x80000000u, 0xffffffffu}) {
      Context context{index};
      auto outcomes =
          run_both(program, context_input(&context, sizeof context), options_with(mode));
      EXPECT_BOTH_EQ(outcomes, index < 10 ? index * 10 + 1 : 7777u);
    }
  }
}

TEST(JitMapLookup, InlineArrayLookupTakesTheFastPath) {
  auto map = make_map(MapType::array, 4, 16, 4);
  fill_array(*map, 4, 16);
  // Three lookups per run: the first grants the array through the bridge, the rest inline.
  const char* source = R"(
    mov %r7, 0
    stw [%r10-4], 1
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    ldxw %r6, [%r0+8]
    add %r7, %r6
    stw [%r10-4], 3
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    ldxw %r6, [%r0+8]
    add %r7, %r6
    stw [%r10-4], 7
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    add %r7, %r0
    mov %r0, %r7
    exit
  )";
  for (MemoryMode mode : modes) {
    for (const HelperRegistry* registry : {&fast, &slow}) {
      Program program = load(source, {map}, *registry);
      lookup_calls = 0;
      EXPECT_EQ(*interpret(program, {}, options_with(mode)), 11u + 31u);
      EXPECT_EQ(lookup_calls, 3);
      JitOptions jit_options;
      jit_options.memory_mode = mode;
      auto jit = JitProgram::compile(program, jit_options);
      ASSERT_TRUE(jit);
      lookup_calls = 0;
      EXPECT_EQ(*jit->run({}, options_with(mode)), 11u + 31u);
      // The fast path never calls the helper function; without it every lookup does.
      EXPECT_EQ(lookup_calls, registry == &fast ? 0 : 3);
    }
  }
}

TEST(JitMapLookup, GrantsMatchTheHelpersForProbeRead) {
  // bpf_probe_read asks the run's regions in both modes: a value the lookup returned must be
  // readable after an inline lookup exactly as after the helper.
  auto map = make_map(MapType::array, 4, 8, 4);
  fill_array(*map, 4, 8);
  auto hash = make_map(MapType::hash, 4, 8, 8);
  std::uint32_t key = 2;
  std::uint64_t value = 55;
  ASSERT_EQ(hash->host_update(&key, &value, map_update::any), 0);
  for (std::uint32_t which : {0u, 1u}) {
    std::string source = R"(
      stw [%r10-4], 2
      lddw %r1, MAP
      mov %r2, %r10
      add %r2, -4
      call 1
      stw [%r10-4], 2
      lddw %r1, MAP
      mov %r2, %r10
      add %r2, -4
      call 1
      mov %r3, %r0
      mov %r1, %r10
      add %r1, -16
      mov %r2, 8
      call 4
      ldxdw %r1, [%r10-16]
      lsh %r0, 32
      or %r0, %r1
      exit
    )";
    for (std::size_t at; (at = source.find("MAP")) != std::string::npos;)
      source.replace(at, 3, std::to_string(which));
    Program program = load(source, {map, hash});
    for (MemoryMode mode : modes)
      EXPECT_BOTH_EQ(run_both(program, {}, options_with(mode)), which == 0 ? 21u : 55u);
  }
}

TEST(JitMapLookup, UnreadableKeyFailsAsTheHelperDoes) {
  auto map = make_map(MapType::array, 4, 8, 4);
  auto hash = make_map(MapType::hash, 4, 8, 4);
  for (int which : {0, 1}) {
    Program program = load(which == 0 ? R"(
      lddw %r1, 0
      mov %r2, 4096
      call 1
      exit
    )"
                                      : R"(
      lddw %r1, 1
      mov %r2, 4096
      call 1
      exit
    )",
                           {map, hash});
    EXPECT_BOTH_FAIL(run_both(program, {}, options_with(MemoryMode::checked)), Error::Kind::helper,
                     "map_lookup_elem: key at 0x1000");
  }
}

TEST(JitMapLookup, KeyStraddlingTheStackTopFails) {
  // [r10 - 2, r10 + 2): half of it above the stack. After a first lookup has granted the
  // array, the inline check must send this key to the helper, which refuses it.
  auto map = make_map(MapType::array, 4, 8, 4);
  Program program = load(R"(
    stw [%r10-4], 0
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -2
    call 1
    exit
  )",
                         {map});
  EXPECT_BOTH_FAIL(run_both(program, {}, options_with(MemoryMode::checked)), Error::Kind::helper,
                   "map_lookup_elem: key at");
}

TEST(JitMapLookup, KeyOutsideTheStackGoesThroughTheHelper) {
  // The key is the context itself: readable, but not where the inline check looks.
  auto map = make_map(MapType::array, 4, 16, 8);
  fill_array(*map, 8, 16);
  Program program = load(R"(
    mov %r7, %r1
    stw [%r10-4], 0
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    lddw %r1, 0
    mov %r2, %r7
    call 1
    jeq %r0, 0, miss
    ldxw %r0, [%r0+8]
    exit
  miss:
    mov %r0, 7777
    exit
  )",
                         {map});
  for (MemoryMode mode : modes) {
    for (std::uint32_t index : {5u, 8u}) {
      Context context{index};
      EXPECT_BOTH_EQ(run_both(program, context_input(&context, sizeof context), options_with(mode)),
                     index < 8 ? index * 10 + 1 : 7777u);
    }
  }
}

TEST(JitMapLookup, AccessPastTheArrayIsStillChecked) {
  // The inline lookup grants the array's storage, not more: a load past its end fails in
  // checked mode with the interpreter's error.
  auto map = make_map(MapType::array, 4, 8, 4);
  fill_array(*map, 4, 8);
  Program program = load(R"(
    stw [%r10-4], 3
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    stw [%r10-4], 3
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    ldxdw %r0, [%r0+4096]
    exit
  )",
                         {map});
  EXPECT_BOTH_FAIL(run_both(program, {}, options_with(MemoryMode::checked)),
                   Error::Kind::out_of_bounds, "load");
}

TEST(JitMapLookup, PerCpuArrayCallsTheMapDirectly) {
  auto map = make_map(MapType::percpu_array, 4, 12, 6);
  fill_array(*map, 6, 12);
  Program program = load(array_read, {map});
  for (MemoryMode mode : modes) {
    for (std::uint32_t index : {0u, 5u, 6u}) {
      Context context{index};
      EXPECT_BOTH_EQ(run_both(program, context_input(&context, sizeof context), options_with(mode)),
                     index < 6 ? index * 10 + 1 : 7777u);
    }
  }
}

TEST(JitMapLookup, HashLookupsOfManyValuesStayCheckedAndCorrect) {
  // 200 distinct values looked up and read in one run: 200 granted regions, each read right
  // after its lookup; absent keys give null.
  auto hash = make_map(MapType::hash, 4, 8, 256);
  for (std::uint32_t key = 0; key < 256; key += 1) {
    std::uint64_t value = key;
    if (key % 3 == 0) continue;
    ASSERT_EQ(hash->host_update(&key, &value, map_update::any), 0);
  }
  Program program = load(R"(
    mov %r6, 0
    mov %r7, 0
  loop:
    stxw [%r10-4], %r6
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, next
    ldxdw %r1, [%r0]
    add %r7, %r1
  next:
    add %r6, 1
    jlt %r6, 200, loop
    mov %r0, %r7
    exit
  )",
                         {hash});
  std::uint64_t expected = 0;
  for (std::uint64_t key = 0; key < 200; ++key)
    if (key % 3 != 0) expected += key;
  for (MemoryMode mode : modes) EXPECT_BOTH_EQ(run_both(program, {}, options_with(mode)), expected);
}

TEST(JitMapLookup, ReadOnlyValuesStayReadOnly) {
  auto hash = make_map(MapType::hash, 4, 8, 4, map_flag::rdonly_prog);
  auto array = make_map(MapType::array, 4, 8, 4, map_flag::rdonly_prog);
  std::uint32_t key = 1;
  std::uint64_t value = 9;
  ASSERT_EQ(hash->host_update(&key, &value, map_update::any), 0);
  for (int which : {0, 1}) {
    std::string source = R"(
      stw [%r10-4], 1
      lddw %r1, MAP
      mov %r2, %r10
      add %r2, -4
      call 1
      stw [%r10-4], 1
      lddw %r1, MAP
      mov %r2, %r10
      add %r2, -4
      call 1
      stdw [%r0], 5
      mov %r0, 1
      exit
    )";
    for (std::size_t at; (at = source.find("MAP")) != std::string::npos;)
      source.replace(at, 3, std::to_string(which));
    Program program = load(source, {hash, array});
    EXPECT_BOTH_FAIL(run_both(program, {}, options_with(MemoryMode::checked)),
                     Error::Kind::out_of_bounds, "read-only");
  }
}

TEST(JitMapLookup, MapsThatAreNotConstantsCallTheHelper) {
  // r1 differs by path (a jump lands between the lddw and the call), or comes from another
  // register: the JIT cannot know the map and calls the helper, which checks it.
  auto a = make_map(MapType::array, 4, 16, 4);
  auto b = make_map(MapType::array, 4, 16, 8);
  fill_array(*a, 4, 16);
  fill_array(*b, 8, 16);
  const char* merged = R"(
    ldxw %r6, [%r1]
    stw [%r10-4], 5
    lddw %r1, 0
    jeq %r6, 0, lookup
    lddw %r1, 1
  lookup:
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, miss
    ldxw %r0, [%r0+8]
    exit
  miss:
    mov %r0, 7777
    exit
  )";
  const char* moved = R"(
    ldxw %r6, [%r1]
    lddw %r7, 1
    stxw [%r10-4], %r6
    mov %r1, %r7
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, miss
    ldxw %r0, [%r0+8]
    exit
  miss:
    mov %r0, 7777
    exit
  )";
  for (const char* source : {merged, moved}) {
    Program program = load(source, {a, b});
    for (MemoryMode mode : modes) {
      for (std::uint32_t selector : {0u, 1u, 6u}) {
        Context context{selector};
        std::uint64_t expected = source == merged ? (selector == 0 ? 7777u : 51u)
                                                  : (selector < 8 ? selector * 10 + 1 : 7777u);
        auto input = context_input(&context, sizeof context);
        lookup_calls = 0;
        EXPECT_BOTH_EQ(run_both(program, input, options_with(mode)), expected);
        EXPECT_EQ(lookup_calls, 2);  // one per engine: neither took a fast path
      }
    }
  }
}

TEST(JitMapLookup, ArrayOfMapsKeepsTheHelper) {
  auto inner = make_map(MapType::array, 4, 16, 4);
  fill_array(*inner, 4, 16);
  MapSpec spec = test::map_spec(MapType::array_of_maps, 4, 4, 2);
  spec.inner = std::make_shared<MapSpec>(inner->spec());
  auto outer = Map::create(spec);
  ASSERT_TRUE(outer) << outer.error().to_string();
  std::uint32_t slot = 1;
  ASSERT_EQ(dynamic_cast<MapOfMaps&>(**outer).set(&slot, inner), 0);
  Program program = load(R"(
    stw [%r10-4], 1
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, miss
    mov %r1, %r0
    stw [%r10-4], 3
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, miss
    ldxw %r0, [%r0+8]
    exit
  miss:
    mov %r0, 7777
    exit
  )",
                         {*outer});
  for (MemoryMode mode : modes) EXPECT_BOTH_EQ(run_both(program, {}, options_with(mode)), 31u);
}

TEST(JitMapLookup, BudgetsCountTheLookupAsOneInstruction) {
  auto map = make_map(MapType::array, 4, 16, 4);
  fill_array(*map, 4, 16);
  Program program = load(array_read, {map});
  Context context{2};
  for (MemoryMode mode : modes) {
    for (std::uint64_t budget = 1; budget < 16; ++budget) {
      auto outcomes =
          run_both(program, context_input(&context, sizeof context), options_with(mode, budget));
      ASSERT_EQ(static_cast<bool>(outcomes.interpreter), static_cast<bool>(outcomes.jit)) << budget;
      if (outcomes.interpreter)
        EXPECT_EQ(*outcomes.interpreter, *outcomes.jit);
      else
        EXPECT_EQ(outcomes.interpreter.error().to_string(), outcomes.jit.error().to_string());
    }
  }
}

TEST(JitRecentRegion, ForgetsARegionAHelperRevoked) {
  // A ring buffer record is written (the JIT's out-of-line check remembers its region),
  // submitted (the helper revokes it), then written again: checked mode must refuse the
  // second store in both engines, at the same instruction.
  auto ring = Map::create(test::map_spec(MapType::ringbuf, 0, 0, 4096));
  ASSERT_TRUE(ring) << ring.error().to_string();
  Program program = load(R"(
    lddw %r1, 0
    mov %r2, 8
    mov %r3, 0
    call 131
    jeq %r0, 0, out
    mov %r6, %r0
    stdw [%r6], 1
    stdw [%r6], 2
    mov %r1, %r6
    mov %r2, 0
    call 132
    stdw [%r6], 3
  out:
    exit
  )",
                         {*ring});
  EXPECT_BOTH_FAIL(run_both(program, {}, options_with(MemoryMode::checked)),
                   Error::Kind::out_of_bounds, "instruction 12");
}

TEST(RegionList, ManyRegionsDedupeAdmitAndRevoke) {
  detail::RegionList regions;
  std::vector<std::uint8_t> memory(64 * 200);
  auto region = [&](std::size_t i) {
    auto begin = reinterpret_cast<std::uintptr_t>(memory.data()) + 64 * i;
    return detail::Region{begin, begin + 48, i % 2 == 0};
  };
  for (std::size_t i = 0; i < 200; ++i) {
    ASSERT_FALSE(regions.contains(region(i)));
    regions.push_back(region(i));
    ASSERT_TRUE(regions.contains(region(i)));
  }
  EXPECT_EQ(regions.size(), 200u);
  // add_unique adds only what is not there yet.
  for (std::size_t i = 0; i < 200; ++i) regions.add_unique(region(199 - i));
  EXPECT_EQ(regions.size(), 200u);
  detail::RegionList grown;
  for (int pass = 0; pass < 3; ++pass)
    for (std::size_t i = 0; i < 200; ++i) grown.add_unique(region(i));
  EXPECT_EQ(grown.size(), 200u);
  for (std::size_t i = 0; i < 200; ++i) EXPECT_TRUE(grown.contains(region(i)));
  detail::Region other = region(7);
  other.writable = !other.writable;
  EXPECT_FALSE(regions.contains(other));
  auto admits = [&](std::uintptr_t address) {
    return regions.admits(
        [&](const detail::Region& r) { return address >= r.begin && address < r.end; });
  };
  for (std::size_t i = 0; i < 200; ++i) {
    EXPECT_TRUE(admits(region(i).begin + 40));
    EXPECT_FALSE(admits(region(i).begin + 50));  // the gap between regions
  }
  // The last hit is forgotten when its region goes.
  EXPECT_TRUE(admits(region(150).begin));
  regions.revoke(region(150));
  EXPECT_FALSE(admits(region(150).begin));
  EXPECT_FALSE(regions.contains(region(150)));
  for (std::size_t i = 0; i < 200; i += 3) regions.revoke(region(i));
  for (std::size_t i = 0; i < 200; ++i)
    EXPECT_EQ(regions.contains(region(i)), i % 3 != 0 && i != 150) << i;
  EXPECT_TRUE(admits(region(151).begin));
  regions.revoke(region(1));  // inline ones too
  EXPECT_FALSE(admits(region(1).begin));
  EXPECT_TRUE(admits(region(151).begin));
}

}  // namespace
}  // namespace bpfvm::helper_test
