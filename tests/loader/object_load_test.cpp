// Object::load with test-double maps (fake_maps.hpp): maps created from the spec, global data
// filled, map-in-map slots set, programs loaded and found by name.
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/vm.hpp>

#include "loader/fake_maps.hpp"
#include "maps/epoch.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace bpfvm {
namespace {

ObjectSpec parse(const std::string& name) {
  auto spec = ObjectSpec::parse_file(std::string(BPFVM_BPF_OBJECTS_DIR) + "/" + name + ".o");
  if (!spec) throw std::runtime_error(spec.error().to_string());
  return std::move(*spec);
}

TEST(ObjectLoadTest, LoadsProgramsByName) {
  ObjectSpec spec = parse("subprograms");
  testing::FakeMapFactory maps;
  auto object = Object::load(spec, {}, maps.factory());
  ASSERT_TRUE(object.ok()) << object.error().to_string();
  EXPECT_EQ(object->programs().size(), spec.programs.size());
  const Program* compute = object->program("compute");
  ASSERT_NE(compute, nullptr);
  EXPECT_EQ(compute->size(), spec.program("compute")->insns.size());
  std::uint8_t memory[4] = {};
  auto result = interpret(*compute, RunInput::raw(memory));
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  EXPECT_EQ(*result, 31u);
  EXPECT_EQ(object->program("square"), nullptr);
  EXPECT_EQ(object->program("missing"), nullptr);
}

// Maps only: the programs are left out so that this does not depend on Program::load
// resolving map references.
// extern_call.bpf.c: calls_missing reaches (through a subprogram) a function the object does
// not define; plain does not. Only calls_missing is refused, with the symbol and relocation.
TEST(ObjectLoadTest, OnlyProgramsReachingAnUndefinedFunctionFail) {
  ObjectSpec spec = parse("extern_call");
  const ObjectProgram* missing = spec.program("calls_missing");
  const ObjectProgram* plain = spec.program("plain");
  ASSERT_NE(missing, nullptr);
  ASSERT_NE(plain, nullptr);
  EXPECT_TRUE(plain->link_error.empty()) << plain->link_error;
  EXPECT_NE(missing->link_error.find("against 'not_in_this_object': calls a function that is "
                                     "not in the object"),
            std::string::npos)
      << missing->link_error;
  EXPECT_NE(missing->link_error.find("section '.text'"), std::string::npos) << missing->link_error;
  bool poisoned = false;
  for (const ObjectRelocation& relocation : missing->relocations)
    if (relocation.kind == RelocationKind::unresolved) {
      EXPECT_EQ(relocation.symbol, "not_in_this_object");
      EXPECT_EQ(static_cast<std::uint32_t>(missing->insns[relocation.insn].imm), poison_helper_id);
      poisoned = true;
    }
  EXPECT_TRUE(poisoned);

  HelperRegistry helpers = linux_helpers();
  testing::FakeMapFactory maps;
  // Loading every program fails on calls_missing, naming it (ebpf-samples' reject_load).
  auto all = Object::load(spec, ObjectLoadOptions{.helpers = &helpers}, maps.factory());
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.error().message.find("program 'calls_missing'"), std::string::npos)
      << all.error().message;
  EXPECT_NE(all.error().message.find("not_in_this_object"), std::string::npos)
      << all.error().message;
  // Loading those that link: plain loads and runs, calls_missing is absent.
  auto linked = Object::load(
      spec, ObjectLoadOptions{.helpers = &helpers, .autoload = autoload_linked}, maps.factory());
  ASSERT_TRUE(linked.ok()) << linked.error().to_string();
  EXPECT_EQ(linked->program("calls_missing"), nullptr);
  EXPECT_EQ(linked->program_at(0), nullptr);
  ASSERT_NE(linked->program("plain"), nullptr);
  EXPECT_EQ(linked->program_at(1), linked->program("plain"));
  EXPECT_EQ(linked->programs().size(), 1u);
}

TEST(ObjectLoadTest, CreatesMapsAndFillsGlobalData) {
  ObjectSpec spec = parse("globals");
  spec.programs.clear();
  testing::FakeMapFactory maps;
  auto object = Object::load(spec, {}, maps.factory());
  ASSERT_TRUE(object.ok()) << object.error().to_string();
  ASSERT_EQ(maps.created.size(), spec.maps.size());
  for (std::size_t i = 0; i < spec.maps.size(); ++i)
    EXPECT_EQ(maps.created[i].name, spec.maps[i].name);
  auto data = object->map(".data");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(std::memcmp(data->direct_value(), "\x05\0\0\0", 4), 0);
  auto rodata = object->map(".rodata");
  ASSERT_NE(rodata, nullptr);
  EXPECT_EQ(rodata->spec().flags, map_flag::rdonly_prog);
  EXPECT_EQ(std::memcmp(rodata->direct_value(),
                        spec.maps[*spec.map_index(".rodata")].initial_value.data(),
                        rodata->spec().value_size),
            0);
  EXPECT_EQ(object->map("nothing"), nullptr);
}

TEST(ObjectLoadTest, SetsInnerMapSlots) {
  ObjectSpec spec = parse("btf_maps");
  spec.programs.clear();
  spec.maps[*spec.map_index("jumps")].initial_slots.clear();  // names a program
  testing::FakeMapFactory maps;
  auto object = Object::load(spec, {}, maps.factory());
  ASSERT_TRUE(object.ok()) << object.error().to_string();
  auto* outer = dynamic_cast<testing::FakeMapOfMaps*>(object->map("outer").get());
  ASSERT_NE(outer, nullptr);
  ASSERT_EQ(outer->slots.size(), 2u);
  EXPECT_EQ(outer->slots[0], object->map("inner_a"));
  EXPECT_EQ(outer->slots[2], object->map("inner_b"));
}

TEST(ObjectLoadTest, MapFactoryErrorsNameTheMap) {
  ObjectSpec spec = parse("btf_maps");
  MapFactory refuse = [](const ObjectMap&) -> Result<std::shared_ptr<Map>> {
    return make_error(Error::Kind::usage, "key_size must be 4");
  };
  auto object = Object::load(spec, {}, refuse);
  ASSERT_FALSE(object.ok());
  EXPECT_NE(object.error().message.find("map 'inner_a': key_size must be 4"), std::string::npos)
      << object.error().message;
}

// The whole path: programs that use maps, global data and helpers. The object's kprobe program
// also calls bpf_probe_read_kernel_str (115), which bpfvm does not provide: a stand-in that
// fails if called lets the object load, and only the raw program runs.
TEST(ObjectLoadTest, RunsProgramsUsingGlobalData) {
  ObjectSpec spec = parse("globals");
  testing::FakeMapFactory maps;
  HelperRegistry helpers = linux_helpers();
  auto object = Object::load(spec, ObjectLoadOptions{.helpers = &helpers}, maps.factory());
  ASSERT_TRUE(object.ok()) << object.error().to_string();
  std::uint8_t memory[4] = {};
  auto result = interpret(*object->program("globals"), RunInput::raw(memory));
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  EXPECT_EQ(*result, 55u);  // threshold 42 + counter 5 + custom 7 + 1
  std::uint64_t total = 0;
  std::memcpy(&total, object->map(".bss")->direct_value(), sizeof total);
  EXPECT_EQ(total, 5u);
}

// tail_calls' program array holds programs that hold it: destroying the object must empty
// the array, or neither is ever freed.
TEST(ObjectLoadTest, DestroyingTheObjectBreaksTheProgramArrayCycle) {
  ObjectSpec spec = parse("tail_calls");
  HelperRegistry helpers = linux_helpers();
  std::weak_ptr<Map> stages;
  {
    auto object = Object::load(spec, ObjectLoadOptions{.helpers = &helpers});
    ASSERT_TRUE(object.ok()) << object.error().to_string();
    stages = object->map("stages");
    ASSERT_NE(stages.lock(), nullptr);
  }
  // The emptied slots are freed by the maps' epoch reclamation, a couple of epochs later.
  for (int epoch = 0; epoch < 4 && !stages.expired(); ++epoch) maps::epoch::collect();
  EXPECT_TRUE(stages.expired());
}

}  // namespace
}  // namespace bpfvm
