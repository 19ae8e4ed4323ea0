// Helpers: registration, `call imm` resolved at load, `callx` at run time, arguments and
// results, failure, end_program, granted regions and accessibility checks.
#include "support/case_runner.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>

namespace bpfvm::testing {
namespace {

std::uint64_t address_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Helper 1: r1 + 2*r2 + 3*r3 + 4*r4 + 5*r5, and counts its calls in *user.
std::uint64_t weighted_sum(HelperCall& call, std::uint64_t r1, std::uint64_t r2, std::uint64_t r3,
                           std::uint64_t r4, std::uint64_t r5) {
  if (call.user() != nullptr) ++*static_cast<int*>(call.user());
  return r1 + 2 * r2 + 3 * r3 + 4 * r4 + 5 * r5;
}

// Helper 2: fails the run.
std::uint64_t failing(HelperCall& call, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                      std::uint64_t) {
  call.fail("the helper says no");
  return 0;
}

// Helper 3: ends the program, returning r1.
std::uint64_t stop(HelperCall& call, std::uint64_t r1, std::uint64_t, std::uint64_t, std::uint64_t,
                   std::uint64_t) {
  call.end_program();
  return r1;
}

// A host buffer a helper hands out.
struct Grant {
  std::uint8_t* base;
  std::size_t size;
  bool writable;
};

// Helper 4: grants the Grant in user() and returns its address.
std::uint64_t grant(HelperCall& call, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                    std::uint64_t) {
  auto* g = static_cast<Grant*>(call.user());
  call.grant(g->base, g->size, g->writable);
  return address_of(g->base);
}

// Helper 6: accessible(r1, r2, r3 != 0).
std::uint64_t accessible(HelperCall& call, std::uint64_t r1, std::uint64_t r2, std::uint64_t r3,
                         std::uint64_t, std::uint64_t) {
  return call.accessible(r1, static_cast<std::size_t>(r2), r3 != 0) ? 1 : 0;
}

struct Helpers {
  int calls = 0;
  alignas(16) std::array<std::uint8_t, 16> granted{};
  Grant grant_info{granted.data(), granted.size(), false};
  HelperRegistry registry;

  explicit Helpers(bool writable_grant = false) {
    grant_info.writable = writable_grant;
    for (std::size_t i = 0; i < granted.size(); ++i)
      granted[i] = static_cast<std::uint8_t>(0x40 + i);
    add({1, "weighted_sum", &weighted_sum, &calls});
    add({2, "failing", &failing, nullptr});
    add({3, "stop", &stop, nullptr});
    add({4, "grant", &grant, &grant_info});
    add({6, "accessible", &accessible, nullptr});
  }
  void add(Helper helper) {
    auto added = registry.add(std::move(helper));
    EXPECT_TRUE(added.ok()) << describe(added.error());
  }
  Program load(const std::vector<Insn>& insns) const {
    auto program = Program::load(insns, LoadOptions{.helpers = &registry});
    EXPECT_TRUE(program.ok()) << describe(program.error());
    return std::move(program).value();
  }
};

TEST(HelperRegistry, RefusesDuplicateIdsAndNullFunctions) {
  HelperRegistry registry;
  EXPECT_TRUE(registry.add({1, "a", &weighted_sum, nullptr}).ok());
  auto duplicate = registry.add({1, "b", &weighted_sum, nullptr});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(kind_name(duplicate.error().kind), "usage");
  auto null = registry.add({2, "null", nullptr, nullptr});
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(registry.all().size(), 1u);
  ASSERT_NE(registry.find(1), nullptr);
  EXPECT_EQ(registry.find(1)->name, "a");
  EXPECT_EQ(registry.find(2), nullptr);
}

TEST(Helpers, ArgumentsResultAndUserPointer) {
  Helpers h;
  Program program = h.load({mov64_imm(1, 1), mov64_imm(2, 10), mov64_imm(3, 100),
                            mov64_imm(4, 1000), mov64_imm(5, 10000), call_helper(1), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 1u + 20 + 300 + 4000 + 50000);
  EXPECT_EQ(h.calls, 1);
}

// Linux checks a helper call only where its verifier reaches it; Program::load leaves an unknown
// id to fail the run at the call, as callx of one does, and never calls anything for it.
TEST(Helpers, UnknownHelperLoadsAndFailsTheRunWhenCalled) {
  Helpers h;
  auto program = Program::load(std::vector<Insn>{mov64_imm(0, 0), call_helper(99), exit_insn()},
                               LoadOptions{.helpers = &h.registry});
  ASSERT_TRUE(program.ok()) << describe(program.error());
  auto result = interpret(*program, RunInput{});
  ASSERT_FALSE(result.ok()) << "returned " << hex(*result);
  EXPECT_EQ(kind_name(result.error().kind), "helper");
  EXPECT_EQ(result.error().insn_index, 1u);
  EXPECT_NE(result.error().message.find("no helper with id 99 is registered"), std::string::npos)
      << result.error().message;
  EXPECT_EQ(h.calls, 0);
  // callx of the same id still finds nothing registered.
  auto callx_program =
      Program::load(std::vector<Insn>{call_helper(99), mov64_imm(7, 99), callx(7), exit_insn()},
                    LoadOptions{.helpers = &h.registry});
  ASSERT_TRUE(callx_program.ok());
  auto callx_result = interpret(*callx_program, RunInput{});
  ASSERT_FALSE(callx_result.ok());
  EXPECT_EQ(callx_result.error().insn_index, 0u);  // the call comes first
}

TEST(Helpers, UnknownHelperNeverCalledDoesNotStopTheRun) {
  Helpers h;
  // r0 = 7; if r0 == 7 skip the call: the call to 99 is dead.
  Program program = h.load({mov64_imm(0, 7), jeq_imm(0, 7, 1), call_helper(99), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 7u);
}

TEST(Helpers, NoRegistryMeansNoHelpers) {
  auto program = Program::load(std::vector<Insn>{call_helper(1), exit_insn()});
  ASSERT_TRUE(program.ok()) << describe(program.error());
  auto result = interpret(*program, RunInput{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "helper");
  EXPECT_EQ(result.error().insn_index, 0u);
}

TEST(Helpers, RegistryIsCopiedAtLoad) {
  auto registry = std::make_unique<HelperRegistry>();
  ASSERT_TRUE(registry->add({1, "sum", &weighted_sum, nullptr}).ok());
  auto loaded = Program::load(std::vector<Insn>{mov64_imm(1, 7), call_helper(1), exit_insn()},
                              LoadOptions{.helpers = registry.get()});
  ASSERT_TRUE(loaded.ok()) << describe(loaded.error());
  registry.reset();
  auto result = interpret(*loaded, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 7u);
}

TEST(Helpers, CallxCallsTheHelperInTheRegister) {
  Helpers h;
  Program program = h.load({mov64_imm(1, 3), mov64_imm(2, 0), mov64_imm(3, 0), mov64_imm(4, 0),
                            mov64_imm(5, 0), mov64_imm(7, 1), callx(7), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 3u);
  EXPECT_EQ(h.calls, 1);
}

TEST(Helpers, CallxToUnknownHelperFailsAtRunTime) {
  Helpers h;
  Program program = h.load({mov64_imm(7, 99), callx(7), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "helper");
  EXPECT_EQ(result.error().insn_index, 1u);
  EXPECT_NE(result.error().message.find("99"), std::string::npos) << result.error().message;
}

// Helper ids are 32-bit: a register holding 2^32 + 1 names no helper, not helper 1.
TEST(Helpers, CallxDoesNotTruncateTheId) {
  Helpers h;
  std::vector<Insn> insns;
  lddw(insns, 7, (std::uint64_t{1} << 32) | 1);
  insns.push_back(callx(7));
  insns.push_back(exit_insn());
  Program program = h.load(insns);
  auto result = interpret(program, RunInput{});
  ASSERT_FALSE(result.ok()) << "called helper " << ((std::uint64_t{1} << 32) | 1)
                            << " as helper 1, returning " << hex(*result);
  EXPECT_EQ(kind_name(result.error().kind), "helper");
}

TEST(Helpers, FailureEndsTheRunWithAHelperError) {
  Helpers h;
  Program program = h.load({mov64_imm(0, 1), call_helper(2), mov64_imm(0, 2), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "helper");
  EXPECT_EQ(result.error().insn_index, 1u);
  EXPECT_NE(result.error().message.find("the helper says no"), std::string::npos)
      << result.error().message;
}

TEST(Helpers, FailureThroughCallx) {
  Helpers h;
  Program program = h.load({mov64_imm(6, 2), callx(6), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "helper");
  EXPECT_EQ(result.error().insn_index, 1u);
}

TEST(Helpers, EndProgramReturnsTheHelperResult) {
  Helpers h;
  Program program = h.load({mov64_imm(1, 0x42), call_helper(3), mov64_imm(0, 2), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 0x42u);
}

TEST(Helpers, EndProgramFromANestedCall) {
  Helpers h;
  Program program = h.load({
      call_local(2),       // 0
      mov64_imm(0, 2),     // 1
      exit_insn(),         // 2
      call_local(1),       // 3: f
      exit_insn(),         // 4
      mov64_imm(1, 0x43),  // 5: g
      call_helper(3),      // 6
      mov64_imm(0, 3),     // 7
      exit_insn(),         // 8
  });
  // main's call_local(2) goes to 3.
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 0x43u);
}

TEST(Helpers, ConformanceUnwindHelper) {
  // helper 5 of the suite: returns r1, ends the program when it is 0.
  for (std::int32_t r1 : {0, 1, -1}) {
    SCOPED_TRACE(r1);
    auto result = load_and_run(
        std::vector<Insn>{mov64_imm(1, r1), call_helper(5), mov64_imm(0, 0x77), exit_insn()}, {});
    ASSERT_TRUE(result.ok()) << describe(result.error());
    EXPECT_EQ(*result, r1 == 0 ? 0u : 0x77u);
  }
}

// ---- granted regions ----

TEST(HelperGrants, GrantedRegionIsReadable) {
  Helpers h;
  Program program = h.load({call_helper(4), ldx(Size::dw, 0, 0, 8), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 0x4f4e4d4c4b4a4948ULL);
}

TEST(HelperGrants, GrantedRegionBoundaries) {
  Helpers h;
  for (std::int16_t offset : {std::int16_t{16}, std::int16_t{-1}, std::int16_t{9}}) {
    SCOPED_TRACE(offset);
    Program program = h.load({call_helper(4), ldx(Size::dw, 0, 0, offset), exit_insn()});
    auto result = interpret(program, RunInput{});
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds");
    EXPECT_EQ(result.error().insn_index, 1u);
  }
}

TEST(HelperGrants, ReadOnlyGrantRefusesStores) {
  Helpers h(/*writable_grant=*/false);
  Program program = h.load({call_helper(4), st(Size::b, 0, 0, 1), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(kind_name(result.error().kind), "out_of_bounds");
  EXPECT_EQ(result.error().insn_index, 1u);
  EXPECT_EQ(h.granted[0], 0x40);
}

TEST(HelperGrants, WritableGrantTakesStoresAndAtomics) {
  Helpers h(/*writable_grant=*/true);
  Program program = h.load({call_helper(4), st(Size::b, 0, 0, 1), mov64_imm(2, 2),
                            atomic_add(Size::dw, 0, 2, 8), mov64_imm(0, 0), exit_insn()});
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(h.granted[0], 1);
  EXPECT_EQ(h.granted[8], 0x48 + 2);
}

TEST(HelperGrants, GrantOutlivesTheCallingFrame) {
  Helpers h;
  Program program = h.load({
      call_local(2),          // 0
      ldx(Size::b, 0, 0, 3),  // 1: the pointer the callee returned
      exit_insn(),            // 2
      call_helper(4),         // 3: f
      exit_insn(),            // 4
  });
  auto result = interpret(program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 0x43u);
}

TEST(HelperGrants, GrantLastsOnlyForItsRun) {
  Helpers h;
  Program granting = h.load({call_helper(4), ldx(Size::b, 0, 0, 0), exit_insn()});
  auto first = interpret(granting, RunInput{});
  ASSERT_TRUE(first.ok()) << describe(first.error());
  // A second run that was never granted the buffer: its address comes in r2.
  Program reader = h.load({ldx(Size::b, 0, 2, 0), exit_insn()});
  RunInput input;
  input.r2 = address_of(h.granted.data());
  auto second = interpret(reader, input);
  ASSERT_FALSE(second.ok()) << "read a region granted to an earlier run";
  EXPECT_EQ(kind_name(second.error().kind), "out_of_bounds");
}

// ---- HelperCall::accessible ----

struct AccessProbe {
  const char* what;
  std::vector<Insn> setup;  // leaves the address in r1
  std::uint64_t size;
  bool write;
  bool expected;
};

std::vector<AccessProbe> access_probes(std::uint64_t region_address) {
  std::vector<Insn> region_setup;
  lddw(region_setup, 1, region_address);
  std::vector<Insn> region_end = region_setup;
  region_end.push_back(add64_imm(1, 15));
  return {
      {"memory, read", {}, 16, false, true},
      {"memory, write", {}, 16, true, true},
      {"memory, one too many", {}, 17, false, false},
      {"memory end", {add64_imm(1, 16)}, 1, false, false},
      {"before memory", {add64_imm(1, -1)}, 1, false, false},
      {"stack top doubleword", {mov64_reg(1, 10), add64_imm(1, -8)}, 8, true, true},
      {"stack bottom", {mov64_reg(1, 10), add64_imm(1, -512)}, 512, true, true},
      {"below the stack", {mov64_reg(1, 10), add64_imm(1, -513)}, 1, false, false},
      {"above the stack", {mov64_reg(1, 10)}, 1, false, false},
      {"read-only region, read", region_setup, 16, false, true},
      {"read-only region, write", region_setup, 16, true, false},
      {"read-only region, last byte", region_end, 1, false, true},
      {"read-only region, past the end", region_end, 2, false, false},
      {"wrapping address", {mov64_imm(1, -1)}, 2, false, false},
  };
}

void check_accessible(MemoryMode mode) {
  HelperRegistry registry;
  ASSERT_TRUE(registry.add({6, "accessible", &accessible, nullptr}).ok());
  // Memory and region in one buffer with gaps, so that neither is adjacent to the other.
  alignas(16) std::array<std::uint8_t, 64> buffer{};
  std::span<std::uint8_t> memory(buffer.data() + 8, 16);
  std::span<std::uint8_t> region(buffer.data() + 40, 16);
  for (const AccessProbe& probe : access_probes(address_of(region.data()))) {
    SCOPED_TRACE(probe.what);
    std::vector<Insn> insns = probe.setup;
    insns.push_back(mov64_imm(2, static_cast<std::int32_t>(probe.size)));
    insns.push_back(mov64_imm(3, probe.write ? 1 : 0));
    insns.push_back(call_helper(6));
    insns.push_back(exit_insn());
    auto program = Program::load(insns, LoadOptions{.helpers = &registry});
    ASSERT_TRUE(program.ok()) << describe(program.error());
    RunOptions options;
    options.memory_mode = mode;
    options.regions.push_back(MemoryRegion{region.data(), region.size(), false});
    auto result = interpret(*program, RunInput::raw(memory), options);
    ASSERT_TRUE(result.ok()) << describe(result.error());
    EXPECT_EQ(*result, probe.expected ? 1u : 0u);
  }
}

TEST(HelperAccessible, CheckedMode) { check_accessible(MemoryMode::checked); }

// Helpers that take pointers ask accessible() in both modes; the answer must not depend on
// the memory mode, or unchecked runs give different results from checked ones.
TEST(HelperAccessible, UncheckedModeAnswersTheSame) { check_accessible(MemoryMode::unchecked); }

}  // namespace
}  // namespace bpfvm::testing
