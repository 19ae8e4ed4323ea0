// Program::load resolving `lddw` pseudo sources against LoadOptions::maps, and global data
// (src 2/6) admitted as regions on every run.
#include "helpers/harness.hpp"
#include "helpers/test_maps.hpp"

#include <bpfvm/insn.hpp>

namespace bpfvm::helper_test {
namespace {

std::vector<Insn> load_map_program(std::uint8_t src) {
  auto insns = assemble_or_fail("lddw %r0, 0\nexit\n");
  set_pseudo(insns, 0, src, 1);
  return insns;
}

TEST(LoadPseudo, MapReferenceLoadsTheMapsAddress) {
  auto a = std::make_shared<ArrayMap>(8, 1);
  auto b = std::make_shared<HashMap>(4, 8, 4);
  for (std::uint8_t src : {lddw_src::map_fd, lddw_src::map_idx}) {
    auto program = Program::load(load_map_program(src), {.maps = {a, b}});
    ASSERT_TRUE(program) << program.error().to_string();
    EXPECT_BOTH_EQ(run_both(*program, {}), reinterpret_cast<u64>(b.get()));
  }
}

TEST(LoadPseudo, MapValueLoadsDirectValuePlusOffset) {
  auto a = std::make_shared<ArrayMap>(16, 1);
  for (std::uint8_t src : {lddw_src::map_value, lddw_src::map_idx_value}) {
    auto insns = assemble_or_fail("lddw %r0, 0\nexit\n");
    set_pseudo(insns, 0, src, 0, 12);
    auto program = Program::load(insns, {.maps = {a}});
    ASSERT_TRUE(program) << program.error().to_string();
    EXPECT_BOTH_EQ(run_both(*program, {}), reinterpret_cast<u64>(a->data() + 12));
  }
}

TEST(LoadPseudo, GlobalDataIsAdmittedInCheckedMode) {
  auto data = std::make_shared<ArrayMap>(16, 1);
  // .data: r1 = &global[8]; *(u64*)r1 += 5; return *(u64*)(r1 - 8)
  auto insns = assemble_or_fail(R"(
    lddw %r1, 0
    ldxdw %r0, [%r1]
    add %r0, 5
    stxdw [%r1], %r0
    ldxdw %r0, [%r1-8]
    add %r0, 1
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_value, 0, 8);
  auto program = Program::load(insns, {.maps = {data}});
  ASSERT_TRUE(program) << program.error().to_string();
  std::uint64_t first = 0, second = 0;
  auto outcomes = run_both(*program, {}, {}, [&] {
    std::memset(data->data(), 0, 16);
    data->data()[0] = 41;
  });
  std::memcpy(&first, data->data(), 8);
  std::memcpy(&second, data->data() + 8, 8);
  EXPECT_BOTH_EQ(outcomes, 42);
  EXPECT_EQ(second, 5u);  // the JIT's run wrote it
  // The value ends at 16 bytes: a load straddling its end is refused.
  auto past = assemble_or_fail("lddw %r1, 0\nldxdw %r0, [%r1+4]\nexit\n");
  set_pseudo(past, 0, lddw_src::map_value, 0, 8);
  auto past_program = Program::load(past, {.maps = {data}});
  ASSERT_TRUE(past_program);
  EXPECT_BOTH_FAIL(run_both(*past_program, {}), Error::Kind::out_of_bounds, "instruction 2");
}

TEST(LoadPseudo, ReadOnlyProgDataRefusesStores) {
  auto rodata = std::make_shared<ArrayMap>(8, 1, map_flag::rdonly_prog);
  rodata->data()[0] = 7;
  auto insns = assemble_or_fail("lddw %r1, 0\nldxb %r0, [%r1]\nstb [%r1], 1\nexit\n");
  set_pseudo(insns, 0, lddw_src::map_value, 0, 0);
  auto program = Program::load(insns, {.maps = {rodata}});
  ASSERT_TRUE(program);
  EXPECT_BOTH_FAIL(run_both(*program, {}), Error::Kind::out_of_bounds, "read-only");
  EXPECT_EQ(rodata->data()[0], 7);
}

TEST(LoadPseudo, ErrorsNameTheInstruction) {
  auto array = std::make_shared<ArrayMap>(8, 1);
  auto hash = std::make_shared<HashMap>(4, 8, 4);
  struct Case {
    std::uint8_t src;
    std::int32_t imm, next_imm;
    const char* text;
  };
  for (const Case& c : {Case{lddw_src::map_fd, 2, 0, "map index 2 is out of range (2 maps"},
                        Case{lddw_src::map_idx, -1, 0, "map index -1"},
                        Case{lddw_src::map_fd, 0, 4, "imm 0 in the second slot"},
                        Case{lddw_src::map_value, 1, 0, "has no direct value"},
                        Case{lddw_src::map_idx_value, 0, 8, "offset 8 is past map 0's value of 8"},
                        Case{lddw_src::btf_id, 0, 0, "BPF_PSEUDO_BTF_ID"},
                        Case{lddw_src::func, 5, 0, "outside the program"},
                        Case{lddw_src::func, 0, 0, "inside an lddw"}}) {
    auto insns = assemble_or_fail("mov %r0, 0\nlddw %r1, 0\nexit\n");
    set_pseudo(insns, 0, c.src, c.imm, c.next_imm);
    auto program = Program::load(insns, {.maps = {array, hash}});
    ASSERT_FALSE(program) << "src " << int(c.src) << " imm " << c.imm;
    EXPECT_EQ(program.error().insn_index, 1u);
    EXPECT_NE(program.error().to_string().find(c.text), std::string::npos)
        << program.error().to_string();
  }
}

TEST(LoadPseudo, ProgramKeepsItsMapsAlive) {
  std::weak_ptr<Map> weak;
  std::optional<Program> program;
  {
    auto map = std::make_shared<ArrayMap>(8, 1);
    weak = map;
    auto loaded = Program::load(load_map_program(lddw_src::map_fd), {.maps = {map, map}});
    ASSERT_TRUE(loaded);
    program.emplace(*loaded);
  }
  EXPECT_FALSE(weak.expired());
  program.reset();
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace bpfvm::helper_test
