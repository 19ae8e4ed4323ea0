// Unchecked JIT code's direct hash-map lookups (emit_map_lookup.cpp emit_pinned_lookup): the
// argument registers a program still reads survive the call (the liveness that decides which
// to save, src/jit/liveness.cpp, checked on its own too), grants deferred past many lookups
// still answer bpf_probe_read, and 8- and 16-byte keys take their specialised lookups. Every
// case runs on the interpreter and the JIT, checked and unchecked, and they must agree.
#include "jit/map_programs.hpp"

#include "jit/liveness.hpp"
#include "vm/run_state.hpp"

#include <bpfvm/map.hpp>

#include <cstring>

namespace bpfvm::helper_test {
namespace {

std::shared_ptr<Map> hash_map(std::uint32_t key_size, std::uint32_t entries) {
  return make_map(MapType::hash, key_size, 8, entries);
}

// `lddw %rN, 0` names the map.
Program load(std::string_view source, std::shared_ptr<Map> map) {
  static const HelperRegistry helpers = linux_helpers();
  return load_with_maps(source, {std::move(map)}, helpers);
}

const MemoryMode modes[] = {MemoryMode::checked, MemoryMode::unchecked};

void put(Map& map, std::uint32_t key, std::uint64_t value) {
  ASSERT_EQ(map.host_update(&key, &value, map_update::any), 0);
}

TEST(JitHashLookup, ArgumentRegistersTheProgramReadsSurvive) {
  // After the call: r2 is read (the key through it), r1 is passed to a second lookup without
  // a new lddw (so through the helper, which checks it is the map), r3-r5 are summed.
  auto map = hash_map(4, 8);
  put(*map, 2, 1000);
  Program program = load(R"(
    mov %r3, 33
    mov %r4, 44
    mov %r5, 55
    stw [%r10-4], 2
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    ldxw %r6, [%r2]
    call 1
    ldxdw %r0, [%r0]
    add %r0, %r3
    add %r0, %r4
    add %r0, %r5
    add %r0, %r6
    exit
  )",
                         map);
  for (MemoryMode mode : modes)
    EXPECT_BOTH_EQ(run_both(program, {}, options_with(mode)), 1000u + 33 + 44 + 55 + 2);
}

TEST(JitHashLookup, RegistersFlowBackFromASubprogram) {
  // A subprogram's r1-r5 are its caller's after the return (bpfvm keeps them, as across
  // helper calls): a lookup at the subprogram's end must keep the ones its caller reads.
  auto map = hash_map(4, 8);
  put(*map, 2, 1000);
  Program program = load(R"(
    mov %r3, 7
    mov %r4, 8
    call local sub
    add %r0, %r3
    add %r0, %r4
    add %r0, %r5
    exit
  sub:
    mov %r5, 9
    stw [%r10-4], 2
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    ldxdw %r0, [%r0]
    exit
  )",
                         map);
  for (MemoryMode mode : modes)
    EXPECT_BOTH_EQ(run_both(program, {}, options_with(mode)), 1000u + 7 + 8 + 9);
}

TEST(JitHashLookup, ProbeReadSeesAValueLookedUpManyLookupsAgo) {
  // 200 distinct values looked up (more than RegionList defers at once), the first kept in
  // r9; bpf_probe_read of it at the end must succeed as after the helper.
  auto map = hash_map(4, 256);
  for (std::uint32_t key = 0; key < 200; ++key) put(*map, key, key * 3 + 1);
  Program program = load(R"(
    mov %r6, 0
    mov %r9, 0
  loop:
    stxw [%r10-4], %r6
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jne %r9, 0, next
    mov %r9, %r0
  next:
    add %r6, 1
    jlt %r6, 200, loop
    mov %r1, %r10
    add %r1, -16
    mov %r2, 8
    mov %r3, %r9
    call 4
    ldxdw %r1, [%r10-16]
    lsh %r0, 32
    or %r0, %r1
    exit
  )",
                         map);
  for (MemoryMode mode : modes) EXPECT_BOTH_EQ(run_both(program, {}, options_with(mode)), 1u);
}

TEST(JitHashLookup, WideKeysFindTheirValues) {
  // 8- and 16-byte keys that differ in their last word only; present and absent ones.
  for (std::uint32_t key_size : {8u, 16u}) {
    auto map = hash_map(key_size, 64);
    for (std::uint32_t id = 0; id < 40; id += 2) {
      std::uint8_t key[16];
      std::memset(key, 0x5a, sizeof key);
      std::memcpy(key + key_size - 4, &id, 4);
      std::uint64_t value = id * 10 + 1;
      ASSERT_EQ(map->host_update(key, &value, map_update::any), 0);
    }
    // r7 = sum of the values of ids 0..39 found (the even ones), r8 = count of misses.
    std::string source = R"(
      mov %r6, 0
      mov %r7, 0
      mov %r8, 0
      lddw %r1, 0x5a5a5a5a5a5a5a5a
      stxdw [%r10-16], %r1
      stxdw [%r10-8], %r1
    loop:
      stxw [%r10-LAST], %r6
      lddw %r1, 0
      mov %r2, %r10
      add %r2, -16
      call 1
      jeq %r0, 0, miss
      ldxdw %r1, [%r0]
      add %r7, %r1
      ja next
    miss:
      add %r8, 1
    next:
      add %r6, 1
      jlt %r6, 40, loop
      mov %r0, %r7
      lsh %r0, 16
      or %r0, %r8
      exit
    )";
    // The id sits in the key's last word: bytes 12..15 of the 16 at r10-16 for 16-byte
    // keys, bytes 4..7 for 8-byte ones.
    source.replace(source.find("LAST"), 4, key_size == 16 ? "4" : "12");
    Program program = load(source, map);
    std::uint64_t sum = 0;
    for (std::uint64_t id = 0; id < 40; id += 2) sum += id * 10 + 1;
    for (MemoryMode mode : modes)
      EXPECT_BOTH_EQ(run_both(program, {}, options_with(mode)), (sum << 16) | 20u);
  }
}

std::vector<std::uint16_t> liveness_of(std::string_view source) {
  HelperRegistry helpers = linux_helpers();
  auto program = Program::load(assemble_or_fail(source), {.helpers = &helpers});
  EXPECT_TRUE(program) << program.error().to_string();
  return program ? jit::live_after(program->code()) : std::vector<std::uint16_t>{};
}

constexpr std::uint16_t r(int n) { return static_cast<std::uint16_t>(1u << n); }

TEST(JitLiveness, WhatIsReadAfterAHelperCall) {
  // Slot 3 is the call in each.
  auto reads_r3 = liveness_of("mov %r3, 1\nmov %r1, 0\nmov %r2, 0\ncall 5\nmov %r0, %r3\nexit\n");
  ASSERT_EQ(reads_r3.size(), 6u);
  EXPECT_EQ(reads_r3[3], r(3));
  auto nothing = liveness_of("mov %r3, 1\nmov %r1, 0\nmov %r2, 0\ncall 5\nexit\n");
  EXPECT_EQ(nothing[3], r(0));
  // Overwritten before any read: dead. Read on one branch only: live.
  auto overwritten =
      liveness_of("mov %r3, 1\nmov %r1, 0\nmov %r2, 0\ncall 5\nmov %r3, 2\nmov %r0, %r3\nexit\n");
  EXPECT_EQ(overwritten[3], 0);
  auto one_branch = liveness_of(
      "mov %r3, 1\nmov %r1, 0\nmov %r2, 0\ncall 5\njeq %r0, 0, out\nmov %r0, %r4\nout:\nexit\n");
  EXPECT_EQ(one_branch[3], r(0) | r(4));
}

TEST(JitLiveness, LoopsAndSubprograms) {
  // Around a loop: r2 is read at the loop's top before it is written on the next round;
  // r3-r5 are read by the next round's call (any helper may read all five arguments).
  auto loop = liveness_of(R"(
    mov %r6, 0
  top:
    mov %r1, %r2
    mov %r2, 0
    call 5
    add %r6, 1
    jlt %r6, 4, top
    exit
  )");
  constexpr std::uint16_t r1_to_r5 = 0x3e;
  EXPECT_EQ(loop[3] & r1_to_r5, r(2) | r(3) | r(4) | r(5));
  EXPECT_EQ(loop[3] & (r(0) | r(6)), r(0) | r(6));  // the exit's r0, the counter
  // bpf_map_lookup_elem reads r1 and r2 only: in the same loop around it, r3-r5 are dead.
  auto lookup_loop = liveness_of(R"(
    mov %r6, 0
  top:
    mov %r1, %r2
    mov %r2, 0
    call 1
    add %r6, 1
    jlt %r6, 4, top
    exit
  )");
  EXPECT_EQ(lookup_loop[3] & r1_to_r5, r(2));
  // A subprogram's exit hands r0-r5 back to its caller: all live after its last call.
  auto sub = liveness_of(R"(
    call local f
    exit
  f:
    call 5
    exit
  )");
  EXPECT_EQ(sub[2], r(0) | r(1) | r(2) | r(3) | r(4) | r(5));
  // The caller's exit reads r0 only, and the local call reads r0-r5.
  EXPECT_EQ(sub[0], r(0));
}

TEST(RegionListDeferred, AdmittedAsAddedFoldedWhenFullAndRevocable) {
  detail::RegionList regions;
  std::vector<std::uint8_t> memory(64 * 300);
  auto region = [&](std::size_t i) {
    auto begin = reinterpret_cast<std::uintptr_t>(memory.data()) + 64 * i;
    return detail::Region{begin, begin + 48, i % 2 == 0};
  };
  auto admits = [&](std::uintptr_t address) {
    return regions.admits(
        [&](const detail::Region& r) { return address >= r.begin && address < r.end; });
  };
  regions.push_back(region(0));
  // 300 deferred (several folds), each granted twice and the first few again later.
  for (std::size_t i = 1; i < 300; ++i) {
    regions.add_deferred(region(i));
    regions.add_deferred(region(i));
    EXPECT_TRUE(regions.contains(region(i)));
    EXPECT_TRUE(admits(region(i).begin + 47));
  }
  for (std::size_t i = 1; i < 10; ++i) regions.add_deferred(region(i));
  for (std::size_t i = 0; i < 300; ++i) {
    EXPECT_TRUE(admits(region(i).begin)) << i;
    EXPECT_FALSE(admits(region(i).begin + 50)) << i;
  }
  EXPECT_EQ(regions.size(), 300u);  // folded and deduplicated
  // Revoking a region still in the buffer removes it for good.
  regions.add_deferred(region(299));
  regions.revoke(region(299));
  EXPECT_FALSE(admits(region(299).begin));
  EXPECT_FALSE(regions.contains(region(299)));
  EXPECT_EQ(regions.size(), 299u);
  // The last region added stays the fast answer (last()).
  regions.add_deferred(region(5));
  ASSERT_NE(regions.last(), nullptr);
  EXPECT_EQ(regions.last()->begin, region(5).begin);
}

}  // namespace
}  // namespace bpfvm::helper_test
