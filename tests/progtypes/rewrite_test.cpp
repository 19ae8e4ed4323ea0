// Context-access rewriting: what becomes of each access, the dataflow through spills and
// local calls, relocation after expansion, and every rejection with its instruction index.
#include "progtypes/insn_builders.hpp"
#include "progtypes/packets.hpp"
#include "progtypes/typed_run.hpp"

#include <bpfvm/progtypes.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bpfvm {
namespace {

using namespace test::build;
using test::run_typed;
using ::testing::HasSubstr;

// The error rewriting gives, or "" when it succeeds.
std::string rewrite_error(ProgramType type, const std::vector<Insn>& insns) {
  auto rewritten = rewrite_context_access(type, insns);
  return rewritten ? std::string() : rewritten.error().to_string();
}

TEST(ProgramTypeNames, RoundTrip) {
  for (std::uint32_t value = 0; value <= 31; ++value) {
    const auto type = static_cast<ProgramType>(value);
    const std::string_view name = program_type_name(type);
    ASSERT_NE(name, "unknown") << value;
    EXPECT_EQ(program_type_from_name(name), type);
  }
  EXPECT_EQ(program_type_name(static_cast<ProgramType>(99)), "unknown");
  EXPECT_EQ(program_type_from_name("tc"), ProgramType::sched_cls);
  EXPECT_EQ(program_type_from_name("nonsense"), std::nullopt);
}

TEST(Rewrite, RawProgramsAreUnchanged) {
  const std::vector<Insn> insns = {ldx(4, 0, 1, 76), stx(4, 1, 0, 3), exit_insn()};
  auto rewritten = rewrite_context_access(ProgramType::raw, insns);
  ASSERT_TRUE(rewritten);
  EXPECT_EQ(*rewritten, insns);
}

TEST(Rewrite, PacketPointersBecome64BitLoads) {
  const std::vector<Insn> insns = {ldx(4, 2, 1, 0), ldx(4, 3, 1, 4), ldx(4, 4, 1, 8), mov(0, 2),
                                   exit_insn()};
  auto rewritten = rewrite_context_access(ProgramType::xdp, insns);
  ASSERT_TRUE(rewritten) << rewritten.error().to_string();
  ASSERT_EQ(rewritten->size(), insns.size());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*rewritten)[i].opcode, 0x79) << i;  // ldxdw
    EXPECT_EQ((*rewritten)[i].offset, 8 * i) << i;
  }
  EXPECT_EQ((*rewritten)[3], insns[3]);
}

TEST(Rewrite, UnknownForbiddenAndMissizedFieldsAreRefusedWithTheirIndex) {
  struct Case {
    ProgramType type;
    Insn insn;
    const char* message;
  };
  const Case cases[] = {
      {ProgramType::xdp, st(4, 1, 0, 1), "xdp programs may not write context field data"},
      {ProgramType::xdp, ldx(2, 0, 1, 0), "invalid 2-byte read of context field data"},
      {ProgramType::xdp, ldx(8, 0, 1, 0), "invalid 8-byte read of context field data"},
      {ProgramType::xdp, ldx(4, 0, 1, 20), "egress_ifindex (offset 20) is readable by devmap"},
      {ProgramType::xdp, ldx(4, 0, 1, 24), "outside the 24-byte context of xdp"},
      {ProgramType::xdp, ldx(4, 0, 1, -4), "outside"},
      {ProgramType::sched_cls, ldx(4, 0, 1, 2), "misaligned 4-byte context read at offset 2"},
      {ProgramType::sched_cls, ldx(4, 0, 1, 88), "family (offset 88) is a socket field"},
      {ProgramType::sched_cls, ldx(4, 0, 1, 104), "remote_ip6 (offset 104)"},
      {ProgramType::sched_cls, ldx(8, 0, 1, 168), "sk (offset 168) is a socket pointer"},
      {ProgramType::sched_cls, ldx(8, 0, 1, 144), "flow_keys"},
      {ProgramType::sched_cls, ldx(1, 0, 1, 181), "is not a field of sched_cls (padding)"},
      {ProgramType::sched_cls, ldx(4, 0, 1, 152), "invalid 4-byte read of context field tstamp"},
      {ProgramType::sched_cls, stx(4, 1, 2, 0),
       "sched_cls programs may not write context field len"},
      {ProgramType::sched_cls, stx(2, 1, 2, 8), "invalid 2-byte write of context field mark"},
      {ProgramType::sched_cls, ldx(8, 0, 1, 8), "invalid 8-byte read of context field mark"},
      {ProgramType::sched_cls, ldx(8, 0, 1, 64), "invalid 8-byte read of context field cb[4]"},
      {ProgramType::sched_cls, stx(8, 1, 2, 184), "may not write context field hwtstamp"},
      {ProgramType::socket_filter, ldx(4, 0, 1, 76),
       "socket_filter programs may not read context field data"},
      {ProgramType::socket_filter, stx(4, 1, 2, 8),
       "socket_filter programs may not write context field mark"},
      {ProgramType::socket_filter, ldx(4, 0, 1, 72), "may not read context field tc_classid"},
      {ProgramType::socket_filter, ldx(4, 0, 1, 160), "may not read context field wire_len"},
  };
  for (const Case& c : cases) {
    const std::string error =
        rewrite_error(c.type, {mov(2, 0), mov(3, 0), c.insn, mov(0, 0), exit_insn()});
    EXPECT_THAT(error, HasSubstr("instruction 2: ")) << c.message;
    EXPECT_THAT(error, HasSubstr(c.message));
  }
}

TEST(Rewrite, AtomicsAndSignExtendingLoadsOnTheContextAreRefused) {
  const Insn atomic_add{.opcode = 0xc3, .dst = 1, .src = 2, .offset = 8, .imm = 0};
  EXPECT_THAT(rewrite_error(ProgramType::sched_cls, {mov(2, 1), atomic_add, exit_insn()}),
              HasSubstr("instruction 1: atomic operation on the context"));
  const Insn ldxsw{.opcode = 0x81, .dst = 0, .src = 1, .offset = 8};
  EXPECT_THAT(rewrite_error(ProgramType::sched_cls, {ldxsw, exit_insn()}),
              HasSubstr("sign-extending load from the context"));
}

TEST(Rewrite, ContextOnOnePathAndNotOnAnotherIsAmbiguous) {
  // if r2 == 0 then r1 = 0 (a scalar): at the load, r1 is the context or a number.
  const std::vector<Insn> insns = {mov(2, 0), jeq(2, 0, 1),    ja(1),
                                   mov(1, 0), ldx(4, 0, 1, 8), exit_insn()};
  const std::string error = rewrite_error(ProgramType::sched_cls, insns);
  EXPECT_THAT(error, HasSubstr("instruction 4: r1 holds the context pointer on some paths"));
  EXPECT_THAT(error, HasSubstr("ambiguous"));
  // The same merge through a stack slot.
  const std::vector<Insn> spilled = {stx(8, 10, 1, -8), mov(2, 0),         jeq(2, 0, 1),
                                     st(8, 10, -8, 0),  ldx(8, 3, 10, -8), ldx(4, 0, 3, 8),
                                     exit_insn()};
  EXPECT_THAT(rewrite_error(ProgramType::sched_cls, spilled),
              HasSubstr("instruction 5: r3 holds the context pointer on some paths"));
  // Ambiguity that is never dereferenced is fine.
  EXPECT_EQ(rewrite_error(ProgramType::sched_cls,
                          {mov(2, 0), jeq(2, 0, 1), mov(1, 0), mov(0, 0), exit_insn()}),
            "");
}

TEST(Rewrite, ModifiedContextPointersAndLeaksAreRefused) {
  EXPECT_THAT(rewrite_error(ProgramType::xdp, {add(1, 4), ldx(4, 0, 1, 0), exit_insn()}),
              HasSubstr("instruction 1: dereference of a modified context pointer in r1"));
  EXPECT_THAT(rewrite_error(ProgramType::xdp,
                            {mov_reg(2, 1), alu_reg(0x00, 2, 1), ldx(4, 0, 2, 0), exit_insn()}),
              HasSubstr("modified context pointer in r2"));
  // `add r1, 0` keeps the pointer.
  EXPECT_EQ(rewrite_error(ProgramType::xdp, {add(1, 0), ldx(4, 0, 1, 12), exit_insn()}), "");
  // The context stored anywhere but the stack, or partially spilled.
  EXPECT_THAT(
      rewrite_error(ProgramType::xdp, {mov(2, 4096), stx(8, 2, 1, 0), mov(0, 0), exit_insn()}),
      HasSubstr("instruction 1: r1 (the context pointer) may only be spilled to the stack"));
  EXPECT_THAT(rewrite_error(ProgramType::xdp, {stx(4, 10, 1, -8), mov(0, 0), exit_insn()}),
              HasSubstr("partial spill of r1 (the context pointer)"));
  // A register that is the context on one path only may be spilled whole; only using the
  // reloaded value as a base is ambiguous.
  const std::vector<Insn> maybe = {mov(2, 0),         jeq(2, 0, 1), mov(1, 0),  stx(8, 10, 1, -8),
                                   ldx(8, 3, 10, -8), mov(0, 0),    exit_insn()};
  EXPECT_EQ(rewrite_error(ProgramType::xdp, maybe), "");
  auto deref = maybe;
  deref[5] = ldx(4, 0, 3, 0);
  EXPECT_THAT(rewrite_error(ProgramType::xdp, deref),
              HasSubstr("instruction 5: r3 holds the context pointer on some paths"));
  EXPECT_THAT(rewrite_error(ProgramType::sched_cls, {stx(4, 1, 1, 48), mov(0, 0), exit_insn()}),
              HasSubstr("may only be spilled to the stack"));
}

TEST(Rewrite, RegistersClobberedByCallsAreNotTheContext) {
  // A base uninitialised on every path to the access is not the context: the access is left
  // as it is (dead code, or a fault at run time in checked mode), never rewritten.
  const std::vector<std::vector<Insn>> programs = {
      {call(7), ldx(4, 0, 1, 8), exit_insn()},
      {ldx(4, 0, 3, 8), exit_insn()},
  };
  for (const auto& program : programs) {
    auto out = rewrite_context_access(ProgramType::sched_cls, program);
    ASSERT_TRUE(out) << out.error().to_string();
    EXPECT_EQ(*out, program);
  }
  const Insn ld_abs{.opcode = 0x20, .imm = 0};
  const std::vector<Insn> after_ld_abs = {mov_reg(6, 1), ld_abs, ldx(4, 0, 1, 8), exit_insn()};
  auto out = rewrite_context_access(ProgramType::socket_filter, after_ld_abs);
  ASSERT_TRUE(out) << out.error().to_string();
  EXPECT_EQ(*out, after_ld_abs);  // r1 is clobbered by LD_ABS: [r1+8] is not a context read
  const std::vector<Insn> through_r6_program = {mov_reg(6, 1), ld_abs, ldx(4, 0, 6, 8),
                                                exit_insn()};
  auto through_r6 = rewrite_context_access(ProgramType::socket_filter, through_r6_program);
  ASSERT_TRUE(through_r6) << through_r6.error().to_string();
  EXPECT_NE((*through_r6)[2].offset, 8);  // rewritten to the internal context's field
}

TEST(Rewrite, LegacyPacketLoadsNeedAnSkbAndTheContextInR6) {
  const Insn ld_abs{.opcode = 0x20, .imm = 0};
  EXPECT_THAT(rewrite_error(ProgramType::sched_cls, {ld_abs, exit_insn()}),
              HasSubstr("instruction 0: LD_ABS and LD_IND need the context pointer in r6"));
  EXPECT_THAT(rewrite_error(ProgramType::xdp, {mov_reg(6, 1), ld_abs, exit_insn()}),
              HasSubstr("instruction 1: xdp programs may not use LD_ABS or LD_IND"));
  EXPECT_EQ(rewrite_error(ProgramType::raw, {ld_abs, exit_insn()}), "");
}

// A helper outside the type's list is not bound, even where the registry has it: the program
// loads (Linux's verifier refuses the call only where it reaches it) and a run that makes the
// call fails there, never running skb_store_bytes on an xdp context.
TEST(Rewrite, HelpersOutsideTheTypesListAreNeverCalled) {
  HelperRegistry registry;
  ASSERT_TRUE(add_packet_helpers(registry, ProgramType::sched_cls).ok());
  ASSERT_NE(registry.find(9), nullptr);
  LoadOptions options{.helpers = &registry, .type = ProgramType::xdp};
  // r0 = 2 (XDP_PASS); the call to skb_store_bytes (9) is made only when r0 is not 2.
  const std::vector<Insn> dead = {mov(0, 2), jeq(0, 2, 1), call(9), exit_insn()};
  const std::vector<Insn> live = {mov(0, 2), call(9), exit_insn()};
  auto packet = test::packets::ipv4(17);
  PacketRunInput input;
  input.type = ProgramType::xdp;
  input.packet = packet;
  for (Engine engine : {Engine::interpreter, Engine::jit}) {
    auto dead_program = load_typed_program(dead, options);
    ASSERT_TRUE(dead_program) << dead_program.error().to_string();
    auto passed = run_packet(*dead_program, input, engine);
    ASSERT_TRUE(passed) << passed.error().to_string();
    EXPECT_EQ(passed->return_value, 2u);
    auto live_program = load_typed_program(live, options);
    ASSERT_TRUE(live_program) << live_program.error().to_string();
    auto failed = run_packet(*live_program, input, engine);
    ASSERT_FALSE(failed);
    EXPECT_THAT(failed.error().to_string(),
                HasSubstr("instruction 1: helper failed: call 9: no helper with id 9"));
  }
  EXPECT_TRUE(helper_allowed(ProgramType::raw, 9));
  EXPECT_TRUE(helper_allowed(ProgramType::sched_cls, 9));
  EXPECT_FALSE(helper_allowed(ProgramType::socket_filter, 9));
  EXPECT_TRUE(helper_allowed(ProgramType::socket_filter, 26));
  EXPECT_TRUE(helper_allowed(ProgramType::xdp, 44));
  EXPECT_FALSE(helper_allowed(ProgramType::sched_cls, 44));
}

// bpf_probe_write_user (36) and bpf_override_return (58) are in Linux's lists where the kernel
// is built and booted to offer them: every tracing type for 36 (bpf_tracing_func_proto,
// unless locked down), kprobe alone for 58 (kprobe_prog_func_proto with
// CONFIG_BPF_KPROBE_OVERRIDE); never for the networking types.
TEST(Rewrite, ConfigurationDependentTracingHelpers) {
  for (ProgramType type : {ProgramType::kprobe, ProgramType::tracepoint,
                           ProgramType::raw_tracepoint, ProgramType::perf_event}) {
    EXPECT_TRUE(helper_allowed(type, 36)) << program_type_name(type);
    EXPECT_TRUE(helper_depends_on_kernel_config(type, 36)) << program_type_name(type);
    EXPECT_EQ(helper_allowed(type, 58), type == ProgramType::kprobe) << program_type_name(type);
  }
  EXPECT_TRUE(helper_depends_on_kernel_config(ProgramType::kprobe, 58));
  EXPECT_FALSE(helper_depends_on_kernel_config(ProgramType::tracepoint, 58));
  for (ProgramType type : {ProgramType::xdp, ProgramType::sched_cls, ProgramType::socket_filter}) {
    EXPECT_FALSE(helper_allowed(type, 36)) << program_type_name(type);
    EXPECT_FALSE(helper_allowed(type, 58)) << program_type_name(type);
    EXPECT_FALSE(helper_depends_on_kernel_config(type, 36)) << program_type_name(type);
  }
  EXPECT_FALSE(helper_depends_on_kernel_config(ProgramType::kprobe, 6));
}

SkbMetadata sample_metadata() {
  SkbMetadata meta;
  meta.mark = 0x11223344;
  meta.priority = 0x55667788;
  for (std::uint32_t i = 0; i < 5; ++i) meta.cb[i] = 0xc0c0c000u + i;
  meta.tstamp = 0x0102030405060708ull;
  return meta;
}

std::uint64_t r0_of(ProgramType type, const std::vector<Insn>& insns,
                    const SkbMetadata& meta = sample_metadata()) {
  auto run = run_typed(type, insns, test::packets::ipv4(6), meta);
  EXPECT_TRUE(run) << run.error().to_string();
  return run ? run->return_value : 0;
}

TEST(Rewrite, EveryNarrowReadOfAU32Field) {
  const SkbMetadata meta = sample_metadata();
  for (ProgramType type : {ProgramType::socket_filter, ProgramType::sched_cls}) {
    for (std::int16_t k = 0; k < 4; ++k) {
      EXPECT_EQ(r0_of(type, {ldx(1, 0, 1, static_cast<std::int16_t>(8 + k)), exit_insn()}),
                (meta.mark >> (8 * k)) & 0xff);
      EXPECT_EQ(r0_of(type, {ldx(1, 0, 1, static_cast<std::int16_t>(32 + k)), exit_insn()}),
                (meta.priority >> (8 * k)) & 0xff);
    }
    EXPECT_EQ(r0_of(type, {ldx(2, 0, 1, 10), exit_insn()}), meta.mark >> 16);
    EXPECT_EQ(r0_of(type, {ldx(8, 0, 1, 48), exit_insn()}),
              (std::uint64_t{meta.cb[1]} << 32) | meta.cb[0]);
    EXPECT_EQ(r0_of(type, {ldx(4, 0, 1, 64), exit_insn()}), meta.cb[4]);
    // protocol is a u16 in struct sk_buff: a 2-byte read at its upper half returns it whole.
    EXPECT_EQ(r0_of(type, {ldx(2, 0, 1, 18), exit_insn()}), 0x0008u);
    EXPECT_EQ(r0_of(type, {ldx(1, 0, 1, 18), exit_insn()}), 0u);
  }
  EXPECT_EQ(r0_of(ProgramType::sched_cls, {ldx(8, 0, 1, 152), exit_insn()}), meta.tstamp);
}

TEST(Rewrite, WritableFieldsReadBack) {
  // tc_index and tc_classid keep 16 bits, as struct sk_buff.
  EXPECT_EQ(r0_of(ProgramType::sched_cls, {st(4, 1, 44, 0x12345), ldx(4, 0, 1, 44), exit_insn()}),
            0x2345u);
  EXPECT_EQ(r0_of(ProgramType::sched_cls, {st(4, 1, 72, 0x12345), ldx(4, 0, 1, 72), exit_insn()}),
            0x2345u);
  EXPECT_EQ(r0_of(ProgramType::sched_cls, {st(4, 1, 44, 0x1234), ldx(1, 0, 1, 45), exit_insn()}),
            0x12u);
  EXPECT_EQ(r0_of(ProgramType::sched_cls, {st(4, 1, 44, 0x1234), ldx(1, 0, 1, 46), exit_insn()}),
            0u);
  EXPECT_EQ(r0_of(ProgramType::sched_cls, {st(4, 1, 44, 0x1234), ldx(2, 0, 1, 46), exit_insn()}),
            0x1234u);
  auto run = run_typed(ProgramType::socket_filter,
                       {st(1, 1, 49, 0x7f), st(8, 1, 56, -1), mov(0, 0), exit_insn()},
                       test::packets::ipv4(6));
  ASSERT_TRUE(run) << run.error().to_string();
  EXPECT_EQ(run->skb.cb[0], 0x7f00u);
  EXPECT_EQ(run->skb.cb[2], 0xffffffffu);
  EXPECT_EQ(run->skb.cb[3], 0xffffffffu);
  run = run_typed(ProgramType::sched_cls,
                  {mov(2, 9), stx(4, 1, 2, 8), stx(4, 1, 2, 32), mov(0, 0), exit_insn()},
                  test::packets::ipv4(6));
  ASSERT_TRUE(run);
  EXPECT_EQ(run->skb.mark, 9u);
  EXPECT_EQ(run->skb.priority, 9u);
}

TEST(Rewrite, ContextThroughStackSpills) {
  const SkbMetadata meta = sample_metadata();
  // Spilled at r10-16, r1 clobbered, reloaded into r6.
  EXPECT_EQ(r0_of(ProgramType::sched_cls, {stx(8, 10, 1, -16), mov(1, 0), ldx(8, 6, 10, -16),
                                           ldx(4, 0, 6, 8), exit_insn()}),
            meta.mark);
  // Spilled through a copy of r10 with an offset.
  EXPECT_EQ(r0_of(ProgramType::sched_cls, {mov_reg(2, 10), add(2, -24), stx(8, 2, 1, 8),
                                           ldx(8, 4, 10, -16), ldx(4, 0, 4, 32), exit_insn()}),
            meta.priority);
  // A slot overwritten by a number no longer holds the context: the load is not rewritten
  // and checked mode stops the access.
  auto run = run_typed(
      ProgramType::sched_cls,
      {stx(8, 10, 1, -8), st(4, 10, -8, 0), ldx(8, 3, 10, -8), ldx(4, 0, 3, 8), exit_insn()},
      test::packets::ipv4(6));
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().kind, Error::Kind::out_of_bounds);
}

TEST(Rewrite, ContextIntoAndOutOfLocalFunctions) {
  const SkbMetadata meta = sample_metadata();
  // main: r6 = r1; call f; r0 += mark; exit. f: r0 = priority.
  EXPECT_EQ(r0_of(ProgramType::sched_cls,
                  {mov_reg(6, 1), call_local(3), ldx(4, 1, 6, 8), alu_reg(0x00, 0, 1), exit_insn(),
                   ldx(4, 0, 1, 32), exit_insn()}),
            std::uint64_t{meta.mark} + meta.priority);
  // f returns the context; main dereferences it.
  EXPECT_EQ(r0_of(ProgramType::sched_cls,
                  {call_local(2), ldx(4, 0, 0, 8), exit_insn(), mov_reg(0, 1), exit_insn()}),
            meta.mark);
  // f called with the context once and a number once: its access is ambiguous.
  EXPECT_THAT(
      rewrite_error(ProgramType::sched_cls, {mov_reg(6, 1), call_local(3), mov(1, 0), call_local(1),
                                             exit_insn(), ldx(4, 0, 1, 8), exit_insn()}),
      HasSubstr("instruction 5: r1 holds the context pointer on some paths"));
}

// bpf_loop(1, callback, fp-8, 0) with the callback dereferencing its second argument. The
// callback's arguments are never the context, so it may dereference them; but a context
// spilled where the callback could reach it is refused at the helper call.
std::vector<Insn> loop_program(Insn first) {
  return {first,
          Insn{.opcode = 0x18, .dst = 2, .src = 4, .imm = 8},  // r2 = callback (slot 10)
          Insn{},
          mov(1, 1),
          mov_reg(3, 10),
          add(3, -8),
          mov(4, 0),
          call(181),
          mov(0, 2),
          exit_insn(),
          ldx(8, 0, 2, 0),  // the callback: r0 = *(u64 *)r2
          exit_insn()};
}

TEST(Rewrite, CallbacksMayDereferenceTheirArgumentsButNotReachASpilledContext) {
  EXPECT_EQ(rewrite_error(ProgramType::xdp, loop_program(mov_reg(6, 1))), "");
  EXPECT_THAT(rewrite_error(ProgramType::xdp, loop_program(stx(8, 10, 1, -8))),
              HasSubstr("instruction 7: the context pointer is spilled at fp-8 when a helper is "
                        "called"));
}

TEST(Rewrite, JumpsAndCallsAreRelocatedAroundExpandedStores) {
  // queue_mapping stores from a register expand to two instructions (a NO_QUEUE_MAPPING
  // check and the store): a backward loop and a local call cross them.
  const std::vector<Insn> insns = {
      mov_reg(6, 1),                                       // 0
      mov(7, 0),                                           // 1
      mov(2, 5),                                           // 2
      stx(4, 1, 2, 12),                                    // 3: expands
      add(7, 1),                                           // 4
      {.opcode = 0xa5, .dst = 7, .offset = -3, .imm = 3},  // 5: jlt r7, 3, -> 3
      call_local(3),                                       // 6 -> 10
      ldx(4, 2, 6, 12),                                    // 7
      alu_reg(0x00, 0, 2),                                 // 8
      exit_insn(),                                         // 9
      mov_reg(0, 7),                                       // 10
      exit_insn()};                                        // 11
  auto rewritten = rewrite_context_access(ProgramType::sched_cls, insns);
  ASSERT_TRUE(rewritten) << rewritten.error().to_string();
  EXPECT_EQ(rewritten->size(), insns.size() + 1);
  EXPECT_EQ(r0_of(ProgramType::sched_cls, insns), 3u + 5u);
  for (Engine engine : {Engine::interpreter, Engine::automatic}) {
    auto run = run_typed(ProgramType::sched_cls, insns, test::packets::ipv4(6), {}, {}, engine);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->skb.queue_mapping, 5u);
  }
}

TEST(Rewrite, ContextFieldTablesDescribeEachType) {
  for (ProgramType type : {ProgramType::socket_filter, ProgramType::sched_cls, ProgramType::xdp}) {
    std::size_t covered = 0;
    for (const ContextField& field : context_fields(type)) {
      EXPECT_GE(field.offset, covered) << field.name;  // in uapi order, without overlaps
      covered = field.offset + field.size;
    }
    EXPECT_LE(covered, uapi_context_size(type));
  }
  EXPECT_TRUE(context_fields(ProgramType::raw).empty());
}

}  // namespace
}  // namespace bpfvm
