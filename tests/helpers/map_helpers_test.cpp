// bpf_map_lookup_elem, update, delete, push, pop, peek, for_each_map_elem, maps of maps;
// forged map pointers and bad key pointers are refused.
#include "helpers/harness.hpp"
#include "helpers/test_maps.hpp"

#include <cerrno>
#include <cstring>

namespace bpfvm::helper_test {
namespace {

HelperRegistry registry = linux_helpers();

Program load(std::vector<Insn> insns, std::vector<std::shared_ptr<Map>> maps) {
  auto program = Program::load(insns, {.helpers = &registry, .maps = std::move(maps)});
  EXPECT_TRUE(program) << program.error().to_string();
  return program ? *program : *Program::load(assemble_or_fail("mov %r0, 0\nexit\n"));
}

// update(key 3 -> 40), lookup(3), *value += 2, return *value; a second lookup of key 4
// (absent) must give null.
const char* update_lookup = R"(
    stw [%r10-4], 3
    stdw [%r10-16], 40
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 2
    jne %r0, 0, fail
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, fail
    ldxdw %r6, [%r0]
    add %r6, 2
    stxdw [%r0], %r6
    stw [%r10-4], 4
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jne %r0, 0, fail
    mov %r0, %r6
    exit
  fail:
    mov %r0, 1000
    exit
)";

TEST(MapHelpers, UpdateLookupAndWriteThroughTheValue) {
  auto map = std::make_shared<HashMap>(4, 8, 8);
  auto insns = assemble_or_fail(update_lookup);
  for (int i = 0; i < 3; ++i) set_pseudo(insns, i, lddw_src::map_fd, 0);
  Program program = load(insns, {map});
  std::uint32_t key = 3;
  auto outcomes = run_both(program, {}, {}, [&] { map->erase(&key); });
  EXPECT_BOTH_EQ(outcomes, 42);
  auto* value = static_cast<std::uint64_t*>(map->lookup(&key));
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, 42u);  // the program's store went to the map
}

TEST(MapHelpers, UpdateFlagsAndDeleteReturnLinuxErrors) {
  auto map = std::make_shared<HashMap>(4, 8, 1);
  // r6 = update(k1, NOEXIST); r7 = update(k1, NOEXIST) (-EEXIST); r8 = update(k2) (-E2BIG);
  // r9 = delete(k2) (-ENOENT); return r6 + r7 + r8 + r9 packed as bytes.
  auto insns = assemble_or_fail(R"(
    stw [%r10-4], 1
    stdw [%r10-16], 9
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 1
    call 2
    mov %r6, %r0
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 1
    call 2
    mov %r7, %r0
    stw [%r10-4], 2
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 2
    mov %r8, %r0
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 3
    mov %r9, %r0
    stw [%r10-4], 1
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 3
    neg %r6
    neg %r7
    neg %r8
    neg %r9
    neg %r0
    lsh %r7, 8
    lsh %r8, 16
    lsh %r9, 24
    lsh %r0, 32
    or %r0, %r6
    or %r0, %r7
    or %r0, %r8
    or %r0, %r9
    exit
  )");
  for (int i = 0; i < 5; ++i) set_pseudo(insns, i, lddw_src::map_fd, 0);
  Program program = load(insns, {map});
  std::uint32_t k1 = 1;
  auto outcomes = run_both(program, {}, {}, [&] { map->erase(&k1); });
  u64 expected = 0 | (u64{EEXIST} << 8) | (u64{E2BIG} << 16) | (u64{ENOENT} << 24) | (u64{0} << 32);
  EXPECT_BOTH_EQ(outcomes, expected);
  EXPECT_EQ(map->size(), 0u);
}

TEST(MapHelpers, ForgedMapPointerFailsTheRunInBothModes) {
  auto map = std::make_shared<HashMap>(4, 8, 8);
  // The map's address plus 8 is not a map, nor is a stack address.
  auto insns = assemble_or_fail(R"(
    lddw %r1, 0
    add %r1, 8
    stw [%r10-4], 0
    mov %r2, %r10
    add %r2, -4
    call 1
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  Program program = load(insns, {map});
  EXPECT_BOTH_FAIL(run_both(program, {}), Error::Kind::helper, "is not a map of this program");
  RunOptions unchecked = options_with(MemoryMode::unchecked);
  EXPECT_BOTH_FAIL(run_both(program, {}, unchecked), Error::Kind::helper,
                   "is not a map of this program");
}

TEST(MapHelpers, KeyOutsideEveryRegionFailsInCheckedMode) {
  auto map = std::make_shared<HashMap>(4, 8, 8);
  // The key pointer is r10 - 2: its 4 bytes run past the top of the stack.
  auto insns = assemble_or_fail(R"(
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -2
    call 1
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  Program program = load(insns, {map});
  EXPECT_BOTH_FAIL(run_both(program, {}), Error::Kind::helper, "map_lookup_elem: key at 0x");
}

TEST(MapHelpers, LookupResultIsReadOnlyForRdonlyProgMaps) {
  auto map = std::make_shared<ArrayMap>(8, 2, map_flag::rdonly_prog);
  auto insns = assemble_or_fail(R"(
    stw [%r10-4], 1
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, out
    ldxdw %r1, [%r0]
    stdw [%r0], 5
  out:
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  Program program = load(insns, {map});
  EXPECT_BOTH_FAIL(run_both(program, {}), Error::Kind::out_of_bounds, "read-only");
}

TEST(MapHelpers, WritesToRdonlyProgMapsAreForbidden) {
  auto map = std::make_shared<ArrayMap>(8, 2, map_flag::rdonly_prog);
  auto insns = assemble_or_fail(R"(
    stw [%r10-4], 1
    stdw [%r10-16], 1
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 2
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  Program program = load(insns, {map});
  EXPECT_BOTH_FAIL(run_both(program, {}), Error::Kind::helper, "write into map forbidden");
}

TEST(MapHelpers, QueueAndStackPushPopPeek) {
  for (MapType type : {MapType::queue, MapType::stack}) {
    auto map = std::make_shared<QueueMap>(type, 8, 2);
    // push 1, push 2, push 3 (full: -E2BIG), peek -> a, pop -> b, pop -> c, pop (-ENOENT)
    auto insns = assemble_or_fail(R"(
      stdw [%r10-8], 1
      lddw %r1, 0
      mov %r2, %r10
      add %r2, -8
      mov %r3, 0
      call 87
      stdw [%r10-8], 2
      lddw %r1, 0
      mov %r2, %r10
      add %r2, -8
      mov %r3, 0
      call 87
      stdw [%r10-8], 3
      lddw %r1, 0
      mov %r2, %r10
      add %r2, -8
      mov %r3, 0
      call 87
      mov %r6, %r0
      neg %r6
      lddw %r1, 0
      mov %r2, %r10
      add %r2, -16
      call 89
      ldxdw %r7, [%r10-16]
      lddw %r1, 0
      mov %r2, %r10
      add %r2, -16
      call 88
      ldxdw %r8, [%r10-16]
      lddw %r1, 0
      mov %r2, %r10
      add %r2, -16
      call 88
      ldxdw %r9, [%r10-16]
      lddw %r1, 0
      mov %r2, %r10
      add %r2, -16
      call 88
      neg %r0
      lsh %r0, 32
      lsh %r6, 24
      lsh %r7, 16
      lsh %r8, 8
      or %r0, %r6
      or %r0, %r7
      or %r0, %r8
      or %r0, %r9
      exit
    )");
    for (int i = 0; i < 7; ++i) set_pseudo(insns, i, lddw_src::map_fd, 0);
    Program program = load(insns, {map});
    std::uint64_t scratch;
    auto outcomes = run_both(program, {}, {}, [&] {
      while (map->pop(&scratch) == 0) {
      }
    });
    u64 first = type == MapType::queue ? 1 : 2, second = type == MapType::queue ? 2 : 1;
    u64 expected = (u64{ENOENT} << 32) | (u64{E2BIG} << 24) | (first << 16) | (first << 8) | second;
    SCOPED_TRACE(map_type_name(type));
    EXPECT_BOTH_EQ(outcomes, expected);
  }
}

TEST(MapHelpers, ForEachMapElemSumsAndStops) {
  auto map = std::make_shared<ArrayMap>(8, 5);
  for (std::uint64_t i = 0; i < 5; ++i) {
    std::uint64_t v = (i + 1) * 10;
    std::memcpy(map->data() + i * 8, &v, 8);
  }
  // ctx (on the stack): [r10-8] = sum, [r10-16] = stop when sum reaches it.
  // cb(map, key, value, ctx): sum += *value; *value += 1; return sum >= limit.
  auto insns = assemble_or_fail(R"(
    stdw [%r10-8], 0
    stdw [%r10-16], 60
    lddw %r1, 0
    lddw %r2, 0
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 164
    ldxdw %r1, [%r10-8]
    lsh %r0, 32
    or %r0, %r1
    exit
  cb:
    ldxdw %r5, [%r3]
    ldxdw %r6, [%r4+8]
    add %r6, %r5
    stxdw [%r4+8], %r6
    add %r5, 1
    stxdw [%r3], %r5
    ldxdw %r7, [%r4]
    mov %r0, 0
    jlt %r6, %r7, out
    mov %r0, 1
  out:
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  // The callback starts at slot 14 ("cb:"); the second lddw is at slot 4.
  set_pseudo(insns, 1, lddw_src::func, 14 - 4 - 1);
  Program program = load(insns, {map});
  auto outcomes = run_both(program, {}, {}, [&] {
    for (std::uint64_t i = 0; i < 5; ++i) {
      std::uint64_t v = (i + 1) * 10;
      std::memcpy(map->data() + i * 8, &v, 8);
    }
  });
  // 10 + 20 + 30 = 60 stops after three elements.
  EXPECT_BOTH_EQ(outcomes, (u64{3} << 32) | 60);
  std::uint64_t third;
  std::memcpy(&third, map->data() + 16, 8);
  EXPECT_EQ(third, 31u);
}

TEST(MapHelpers, MapOfMapsHandsOutInnerMaps) {
  auto outer = std::make_shared<ArrayOfMaps>(2);
  auto inner = std::make_shared<ArrayMap>(8, 1);
  std::uint32_t zero = 0;
  ASSERT_EQ(outer->set(&zero, inner), 0);
  std::uint64_t v = 77;
  std::memcpy(inner->data(), &v, 8);
  auto insns = assemble_or_fail(R"(
    stw [%r10-4], 0
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, fail
    mov %r1, %r0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, fail
    ldxdw %r0, [%r0]
    exit
  fail:
    mov %r0, 1000
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  Program program = load(insns, {outer});
  EXPECT_BOTH_EQ(run_both(program, {}), 77);
}

}  // namespace
}  // namespace bpfvm::helper_test
