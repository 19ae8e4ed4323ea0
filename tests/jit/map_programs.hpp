// Maps and programs that name them, for the tests of the JIT's map-lookup fast paths
// (jit_map_lookup_test, jit_hash_lookup_test).
#pragma once

#include "helpers/harness.hpp"
#include "support/map_spec.hpp"

#include <bpfvm/map.hpp>

#include <memory>
#include <string_view>
#include <vector>

namespace bpfvm::helper_test {

// Hash maps are made without preallocation, as the loader makes most of them.
inline std::shared_ptr<Map> make_map(MapType type, std::uint32_t key_size, std::uint32_t value_size,
                                     std::uint32_t entries, std::uint32_t flags = 0) {
  if (type == MapType::hash || type == MapType::lru_hash) flags |= map_flag::no_prealloc;
  auto map = Map::create(test::map_spec(type, key_size, value_size, entries, flags));
  EXPECT_TRUE(map) << map.error().to_string();
  return map ? *map : nullptr;
}

// `lddw %rN, K` with K < 100 names map K of `maps`; larger constants stay plain. A program
// that does not load fails the test and is replaced by `r0 = 0`.
inline Program load_with_maps(std::string_view source, std::vector<std::shared_ptr<Map>> maps,
                              const HelperRegistry& registry) {
  auto insns = assemble_or_fail(source);
  int lddw = 0;
  for (std::size_t i = 0; i < insns.size(); ++i) {
    if (insns[i].opcode != 0x18) continue;
    if (insns[i].imm >= 0 && insns[i].imm < 100)
      set_pseudo(insns, lddw, lddw_src::map_fd, insns[i].imm);
    ++lddw;
    ++i;
  }
  auto program = Program::load(insns, {.helpers = &registry, .maps = std::move(maps)});
  EXPECT_TRUE(program) << program.error().to_string();
  return program ? *program : *Program::load(assemble_or_fail("mov %r0, 0\nexit\n"));
}

}  // namespace bpfvm::helper_test
