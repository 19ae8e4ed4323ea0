// bpfvm's built-in functions (include/bpfvm/builtin_helpers.hpp) from end to end: the loader
// turns tests/bpf/builtin_calls.bpf.c's calls to memset, memcpy, memmove and memcmp (which
// the object lacks) into helper calls; the verifier accepts the programs; both engines, in
// checked and unchecked mode, compute what a native build of the same C computes
// (tests/bpf/builtin_calls.h); ObjectLoadOptions::builtin_functions = false poisons them as
// before; a forged address faults cleanly in checked mode.
#include <bpfvm/assembler.hpp>
#include <bpfvm/builtin_helpers.hpp>
#include <bpfvm/jit.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/object_verify.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/progtypes.hpp>
#include <bpfvm/verifier.hpp>
#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

// The native build of the programs' C: libc's functions under the same names.
#include <string.h>

#include "bpf/builtin_calls.h"

namespace bpfvm {
namespace {

ObjectSpec parse_builtin_calls() {
  auto spec = ObjectSpec::parse_file(std::string(BPFVM_BPF_OBJECTS_DIR) + "/builtin_calls.o");
  if (!spec) throw std::runtime_error(spec.error().to_string());
  return std::move(*spec);
}

TEST(BuiltinCalls, TheLoaderCallsBuiltinsForMissingMemFunctions) {
  ObjectSpec spec = parse_builtin_calls();
  std::set<std::string> symbols;
  for (const ObjectProgram& program : spec.programs) {
    EXPECT_TRUE(program.link_error.empty()) << program.name << ": " << program.link_error;
    for (const ObjectRelocation& relocation : program.relocations) {
      EXPECT_NE(relocation.kind, RelocationKind::unresolved) << relocation.symbol;
      if (relocation.kind != RelocationKind::builtin) continue;
      symbols.insert(relocation.symbol);
      const Insn& insn = program.insns[relocation.insn];
      EXPECT_EQ(insn.opcode, 0x85);  // call
      EXPECT_EQ(insn.src, 0);        // a helper call, no longer BPF_PSEUDO_CALL
      EXPECT_EQ(static_cast<std::uint32_t>(insn.imm), builtin_helper_for_symbol(relocation.symbol))
          << relocation.symbol;
      EXPECT_TRUE(is_builtin_helper_id(static_cast<std::uint32_t>(insn.imm)));
    }
  }
  EXPECT_EQ(symbols, (std::set<std::string>{"memcmp", "memcpy", "memmove", "memset"}));
}

TEST(BuiltinCalls, IdsAndNames) {
  EXPECT_EQ(builtin_helper_for_symbol("memset"), builtin_helper::memset);
  EXPECT_EQ(builtin_helper_for_symbol("memcpy"), builtin_helper::memcpy);
  EXPECT_EQ(builtin_helper_for_symbol("memmove"), builtin_helper::memmove);
  EXPECT_EQ(builtin_helper_for_symbol("memcmp"), builtin_helper::memcmp);
  EXPECT_EQ(builtin_helper_for_symbol("strlen"), std::nullopt);
  EXPECT_EQ(builtin_helper_name(builtin_helper::memmove), "memmove");
  EXPECT_EQ(builtin_helper_name(7), std::nullopt);
  // No Linux helper, and not libbpf's poison.
  EXPECT_FALSE(is_builtin_helper_id(poison_helper_id));
  const HelperRegistry linux = linux_helpers();
  for (const auto& [id, helper] : linux.all()) EXPECT_FALSE(is_builtin_helper_id(id));
  HelperRegistry registry = builtin_helpers();
  EXPECT_EQ(registry.all().size(), 4u);
  for (const auto& [id, helper] : registry.all()) {
    EXPECT_TRUE(is_builtin_helper_id(id));
    ASSERT_TRUE(helper.prototype);
    EXPECT_EQ(helper.prototype->args[2], ArgKind::exact_const_size) << helper.name;
  }
  // Every program type may call them; Linux's lists stay as they are.
  for (ProgramType type : {ProgramType::socket_filter, ProgramType::xdp, ProgramType::kprobe}) {
    EXPECT_TRUE(helper_allowed(type, builtin_helper::memcpy)) << program_type_name(type);
    EXPECT_FALSE(helper_allowed(type, builtin_helper_last + 1)) << program_type_name(type);
  }
  // A host's own function under a built-in id is kept.
  HelperRegistry host;
  auto mine = [](HelperCall&, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                 std::uint64_t) -> std::uint64_t { return 42; };
  ASSERT_TRUE(host.add({.id = builtin_helper::memcmp, .name = "my_memcmp", .function = mine}));
  ASSERT_TRUE(add_builtin_helpers(host));
  EXPECT_EQ(host.find(builtin_helper::memcmp)->name, "my_memcmp");
  EXPECT_EQ(host.find(builtin_helper::memset)->name, "memset");
}

TEST(BuiltinCalls, TheVerifierAcceptsEveryProgram) {
  ObjectSpec spec = parse_builtin_calls();
  ASSERT_EQ(spec.programs.size(), 3u);
  for (std::size_t i = 0; i < spec.programs.size(); ++i) {
    auto helpers = object_program_helpers(spec, i);
    ASSERT_TRUE(helpers) << helpers.error().to_string();
    auto result = verifier::verify(spec.programs[i].insns, verify_options_for(spec, i, &*helpers));
    EXPECT_TRUE(result.ok()) << spec.programs[i].name << ": " << result.error->to_string();
  }
}

struct Mode {
  Engine engine;
  MemoryMode memory;
};

std::string describe(const Mode& mode) {
  return std::string(mode.engine == Engine::jit ? "jit" : "interpreter") +
         (mode.memory == MemoryMode::checked ? " checked" : " unchecked");
}

const Mode modes[] = {{Engine::interpreter, MemoryMode::checked},
                      {Engine::interpreter, MemoryMode::unchecked},
                      {Engine::jit, MemoryMode::checked},
                      {Engine::jit, MemoryMode::unchecked}};

Result<PacketRunOutput> run_xdp(const Program& program, std::span<const std::uint8_t> packet,
                                std::uint32_t ifindex, const Mode& mode) {
  PacketRunInput input;
  input.type = ProgramType::xdp;
  input.packet = packet;
  input.xdp.ingress_ifindex = ifindex;
  RunOptions options;
  options.memory_mode = mode.memory;
  return run_packet(program, input, mode.engine, options);
}

TEST(BuiltinCalls, BothEnginesComputeWhatTheNativeBuildComputes) {
  ObjectSpec spec = parse_builtin_calls();
  HelperRegistry helpers = linux_helpers();
  auto object = Object::load(spec, ObjectLoadOptions{.helpers = &helpers});
  ASSERT_TRUE(object) << object.error().to_string();
  const std::vector<std::uint8_t> packet(64, 0x11);
  for (const Mode& mode : modes) {
    SCOPED_TRACE(describe(mode));
    for (std::uint32_t seed : {1u, 200u, 0xfeu}) {
      // map_blocks: the two 1 KiB values after the run, and r0, as natively.
      builtin_block a{}, b{};
      const int expected = builtin_blocks(&a, &b, seed);
      auto out = run_xdp(*object->program("map_blocks"), packet, seed, mode);
      ASSERT_TRUE(out) << out.error().to_string();
      EXPECT_EQ(static_cast<std::int32_t>(out->return_value), expected) << seed;
      std::shared_ptr<Map> blocks = object->map("blocks");
      ASSERT_NE(blocks, nullptr);
      builtin_block got{};
      for (std::uint32_t key : {0u, 1u}) {
        ASSERT_EQ(blocks->host_lookup(&key, &got), 0);
        EXPECT_EQ(std::memcmp(&got, key == 0 ? &a : &b, sizeof(got)), 0) << "value " << key;
      }
      // stack_buffers
      out = run_xdp(*object->program("stack_buffers"), packet, seed, mode);
      ASSERT_TRUE(out) << out.error().to_string();
      EXPECT_EQ(static_cast<std::int32_t>(out->return_value), builtin_stack(seed)) << seed;
    }
    // packet_prefix: equal to the pattern, below it, above it, too short.
    const auto prefix = [&](std::vector<std::uint8_t> frame) {
      auto out = run_xdp(*object->program("packet_prefix"), frame, 1, mode);
      EXPECT_TRUE(out) << out.error().to_string();
      return out ? out->return_value : 0;
    };
    EXPECT_EQ(prefix(std::vector<std::uint8_t>(60, 0xab)), 7u);
    EXPECT_EQ(prefix(std::vector<std::uint8_t>(60, 0x11)), 8u);
    EXPECT_EQ(prefix(std::vector<std::uint8_t>(60, 0xcd)), 9u);
    EXPECT_EQ(prefix(std::vector<std::uint8_t>(20, 0xab)), 2u);  // XDP_PASS
  }
}

TEST(BuiltinCalls, TurnedOffTheCallsArePoisonedAsBefore) {
  ObjectSpec spec = parse_builtin_calls();
  HelperRegistry helpers = linux_helpers();
  auto refused =
      Object::load(spec, ObjectLoadOptions{.helpers = &helpers, .builtin_functions = false});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("builtin_functions"), std::string::npos)
      << refused.error().message;
  auto linked = Object::load(
      spec, ObjectLoadOptions{
                .helpers = &helpers, .autoload = autoload_linked, .builtin_functions = false});
  ASSERT_TRUE(linked) << linked.error().to_string();
  EXPECT_TRUE(linked->programs().empty());  // every program calls one
  for (const ObjectProgram& program : linked->spec().programs) {
    EXPECT_NE(program.link_error.find("calls 'mem"), std::string::npos) << program.link_error;
    for (const ObjectRelocation& relocation : program.relocations) {
      EXPECT_NE(relocation.kind, RelocationKind::builtin);
      if (relocation.kind == RelocationKind::unresolved) {
        EXPECT_EQ(static_cast<std::uint32_t>(program.insns[relocation.insn].imm), poison_helper_id);
      }
    }
  }
  // The spec itself is left as parsed.
  EXPECT_TRUE(spec.programs[0].link_error.empty());
}

// A raw program handing a built-in an address the run does not own: checked mode fails the
// run naming the function and argument, on both engines.
TEST(BuiltinCalls, AForgedAddressFaultsInCheckedMode) {
  HelperRegistry helpers = builtin_helpers();
  const struct {
    const char* source;
    const char* message;
  } cases[] = {
      {"mov %r1, 4096\nmov %r2, 0\nmov %r3, 8\ncall 0x7f000001\nexit\n", "memset: dst"},
      {"mov %r2, 4096\nmov %r3, 8\ncall 0x7f000002\nexit\n", "memcpy: src"},
      {"mov %r2, %r1\nmov %r1, 4096\nmov %r3, 8\ncall 0x7f000003\nexit\n", "memmove: dst"},
      {"mov %r2, 4096\nmov %r3, 8\ncall 0x7f000004\nexit\n", "memcmp: b"},
      // In bounds but one byte too long.
      {"mov %r2, 0\nmov %r3, 17\ncall 0x7f000001\nexit\n", "memset: dst"},
  };
  for (const auto& c : cases) {
    auto insns = assemble(c.source);
    ASSERT_TRUE(insns) << insns.error().to_string();
    auto program = Program::load(*insns, LoadOptions{.helpers = &helpers});
    ASSERT_TRUE(program) << program.error().to_string();
    for (Engine engine : {Engine::interpreter, Engine::jit}) {
      std::vector<std::uint8_t> memory(16, 0);
      auto result = run_program(engine, *program, RunInput::raw(memory));
      ASSERT_FALSE(result) << c.source;
      EXPECT_NE(result.error().to_string().find(c.message), std::string::npos)
          << result.error().to_string();
    }
  }
  // In bounds, the same programs' shapes run: memset of the 16 bytes returns r1.
  auto insns = assemble(
      "mov %r6, %r1\nmov %r2, 9\nmov %r3, 16\ncall 0x7f000001\n"
      "sub %r0, %r6\nldxb %r1, [%r6+15]\nadd %r0, %r1\nexit\n");
  ASSERT_TRUE(insns) << insns.error().to_string();
  auto program = Program::load(*insns, LoadOptions{.helpers = &helpers});
  ASSERT_TRUE(program) << program.error().to_string();
  for (Engine engine : {Engine::interpreter, Engine::jit}) {
    std::vector<std::uint8_t> memory(16, 0);
    auto result = run_program(engine, *program, RunInput::raw(memory));
    ASSERT_TRUE(result) << result.error().to_string();
    EXPECT_EQ(*result, 9u);
    EXPECT_EQ(memory, std::vector<std::uint8_t>(16, 9));
  }
}

}  // namespace
}  // namespace bpfvm
