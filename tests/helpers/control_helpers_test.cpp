// bpf_tail_call (chains of 33, the 34th refused) and callbacks (bpf_loop: sums, early stop,
// flags, limits, nesting up to the call-depth limit, the budget), on both engines.
#include "helpers/harness.hpp"
#include "helpers/test_maps.hpp"

#include <cerrno>
#include <cstring>

namespace bpfvm::helper_test {
namespace {

HelperRegistry registry = linux_helpers();

// Each run of this program adds 1 to the u64 at ctx[0] and tail-calls prog_array[ctx[8]].
// When the tail call fails, it returns the helper's (negative) result.
const char* counting_tail_caller = R"(
    ldxdw %r0, [%r1]
    add %r0, 1
    stxdw [%r1], %r0
    ldxdw %r3, [%r1+8]
    lddw %r2, 0
    call 12
    exit
)";

TEST(TailCall, ChainOf33SucceedsAndThe34thFailsAndContinues) {
  auto array = std::make_shared<ProgArray>(4);
  auto insns = assemble_or_fail(counting_tail_caller);
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  auto program = Program::load(insns, {.helpers = &registry, .maps = {array}});
  ASSERT_TRUE(program) << program.error().to_string();
  ASSERT_EQ(array->set(0, std::make_shared<Program>(*program)), 0);
  std::uint64_t ctx[2] = {0, 0};
  RunInput input = context_input(ctx, sizeof ctx);
  auto outcomes = run_both(*program, input, {}, [&] { ctx[0] = 0; });
  // The entry run and 33 tail calls: 34 runs; the 34th tail call fails with -ELOOP and the
  // program goes on to return it.
  EXPECT_BOTH_EQ(outcomes, neg(ELOOP));
  EXPECT_EQ(ctx[0], 34u);
  array->set(0, nullptr);  // the program holds the array: break the cycle
}

TEST(TailCall, EmptySlotAndIndexPastTheEndContinue) {
  auto array = std::make_shared<ProgArray>(4);
  auto insns = assemble_or_fail(counting_tail_caller);
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  auto program = Program::load(insns, {.helpers = &registry, .maps = {array}});
  ASSERT_TRUE(program);
  for (std::uint64_t index : {1u, 4u, 0xffffffffu}) {
    std::uint64_t ctx[2] = {0, index};
    RunInput input = context_input(ctx, sizeof ctx);
    EXPECT_BOTH_EQ(run_both(*program, input, {}, [&] { ctx[0] = 0; }), neg(ENOENT));
    EXPECT_EQ(ctx[0], 1u);
  }
}

TEST(TailCall, TargetReplacesTheProgramWithTheSameContext) {
  auto array = std::make_shared<ProgArray>(2);
  auto target = Program::load(assemble_or_fail("ldxdw %r0, [%r1+8]\nmul %r0, 3\nexit\n"),
                              {.helpers = &registry});
  ASSERT_TRUE(target);
  ASSERT_EQ(array->set(1, std::make_shared<Program>(*target)), 0);
  auto insns = assemble_or_fail(R"(
    stdw [%r10-8], 99
    mov %r3, 1
    lddw %r2, 0
    call 12
    mov %r0, 1000
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_idx, 0);
  auto program = Program::load(insns, {.helpers = &registry, .maps = {array}});
  ASSERT_TRUE(program);
  std::uint64_t ctx[2] = {0, 14};
  RunInput input = context_input(ctx, sizeof ctx);
  EXPECT_BOTH_EQ(run_both(*program, input), 42);
}

TEST(TailCall, FromASubprogramReplacesOnlyItsFrame) {
  // Linux 5.10+ (x86-64): the target runs in the subprogram's frame and its r0 is what the
  // subprogram returns; the caller goes on with its callee-saved registers and its stack.
  auto array = std::make_shared<ProgArray>(2);
  // The target writes its own frame (the subprogram's, reused) and returns 7.
  auto target =
      Program::load(assemble_or_fail("stdw [%r10-8], 99\nmov %r6, 55\nmov %r0, 7\nexit\n"));
  ASSERT_TRUE(target);
  ASSERT_EQ(array->set(0, std::make_shared<Program>(*target)), 0);
  auto insns = assemble_or_fail(R"(
    mov %r6, 1000
    stdw [%r10-8], 20000
    mov %r3, %r2
    call local sub
    add %r0, %r6
    ldxdw %r1, [%r10-8]
    add %r0, %r1
    exit
  sub:
    mov %r6, 5
    lddw %r2, 0
    call 12
    add %r0, 300
    add %r0, %r6
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  auto program = Program::load(insns, {.helpers = &registry, .maps = {array}});
  ASSERT_TRUE(program) << program.error().to_string();
  // Slot 0 is set: 7 + r6 (1000) + the caller's stack slot (20000).
  std::uint8_t memory[1] = {};
  RunInput slot0 = RunInput::raw(memory);
  slot0.r2 = 0;
  EXPECT_BOTH_EQ(run_both(*program, slot0), 21007u);
  // Slot 1 is empty: the subprogram goes on with -ENOENT + 300 + 5.
  RunInput slot1 = RunInput::raw(memory);
  slot1.r2 = 1;
  EXPECT_BOTH_EQ(run_both(*program, slot1), static_cast<u64>(-ENOENT + 305 + 21000));
}

TEST(TailCall, FromASubprogramCountsTowardTheLimit) {
  // counting_tail_caller chains from its entry frame after the first tail call, which a
  // subprogram makes: 33 tail calls in all, the 34th fails (-ELOOP) and its r0 comes back
  // through the subprogram.
  auto array = std::make_shared<ProgArray>(4);
  auto insns = assemble_or_fail(counting_tail_caller);
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  auto chained = Program::load(insns, {.helpers = &registry, .maps = {array}});
  ASSERT_TRUE(chained) << chained.error().to_string();
  ASSERT_EQ(array->set(0, std::make_shared<Program>(*chained)), 0);
  auto caller = assemble_or_fail(R"(
    call local sub
    exit
  sub:
    mov %r3, 0
    lddw %r2, 0
    call 12
    exit
  )");
  set_pseudo(caller, 0, lddw_src::map_fd, 0);
  auto program = Program::load(caller, {.helpers = &registry, .maps = {array}});
  ASSERT_TRUE(program) << program.error().to_string();
  std::uint64_t context[2] = {0, 0};
  RunInput input = context_input(context, sizeof context);
  auto results = run_both(*program, input, {}, [&] { context[0] = 0; });
  EXPECT_BOTH_EQ(results, neg(ELOOP));
  EXPECT_EQ(context[0], 33u);  // the last run's count (both engines reset it first)
  array->set(0, nullptr);      // the chained program holds the array: break the cycle
}

TEST(TailCall, FromACallbackIsRefused) {
  auto array = std::make_shared<ProgArray>(1);
  auto target = Program::load(assemble_or_fail("mov %r0, 7\nexit\n"));
  ASSERT_TRUE(target);
  ASSERT_EQ(array->set(0, std::make_shared<Program>(*target)), 0);
  // bpf_loop(1, cb, &r10[-8], 0); cb tail-calls and stores the helper's result in *ctx.
  auto insns = assemble_or_fail(R"(
    stdw [%r10-8], 0
    mov %r1, 1
    lddw %r2, 0
    mov %r3, %r10
    add %r3, -8
    mov %r4, 0
    call 181
    ldxdw %r0, [%r10-8]
    exit
  cb:
    mov %r6, %r2
    mov %r3, 0
    lddw %r2, 0
    call 12
    stxdw [%r6], %r0
    mov %r0, 1
    exit
  )");
  set_pseudo(insns, 0, lddw_src::func, 10 - 2 - 1);  // lddw at slot 2, cb at slot 10
  set_pseudo(insns, 1, lddw_src::map_fd, 0);
  auto program = Program::load(insns, {.helpers = &registry, .maps = {array}});
  ASSERT_TRUE(program) << program.error().to_string();
  EXPECT_BOTH_EQ(run_both(*program, {}), neg(EINVAL));
}

TEST(TailCall, NotAProgArrayFails) {
  auto hash = std::make_shared<HashMap>(4, 4, 4);
  auto insns = assemble_or_fail("mov %r3, 0\nlddw %r2, 0\ncall 12\nexit\n");
  set_pseudo(insns, 0, lddw_src::map_fd, 0);
  auto program = Program::load(insns, {.helpers = &registry, .maps = {hash}});
  ASSERT_TRUE(program);
  EXPECT_BOTH_EQ(run_both(*program, {}), neg(EINVAL));
  // A forged pointer is no map at all: the run fails.
  auto forged = assemble_or_fail("mov %r3, 0\nmov %r2, %r10\ncall 12\nexit\n");
  auto forged_program = Program::load(forged, {.helpers = &registry, .maps = {hash}});
  ASSERT_TRUE(forged_program);
  EXPECT_BOTH_FAIL(run_both(*forged_program, {}), Error::Kind::helper, "not a map");
}

// bpf_loop(ctx[0], cb, &sum, ctx[8]) where cb adds i to sum and stops (returns 1) when i
// reaches ctx[16]; returns loop's result in the high half and the sum in the low half.
std::vector<Insn> loop_program() {
  auto insns = assemble_or_fail(R"(
    mov %r6, %r1
    stdw [%r10-8], 0
    ldxdw %r0, [%r6+16]
    stxdw [%r10-16], %r0
    ldxdw %r1, [%r6]
    lddw %r2, 0
    mov %r3, %r10
    add %r3, -16
    ldxdw %r4, [%r6+8]
    call 181
    ldxdw %r1, [%r10-8]
    lsh %r0, 32
    or %r0, %r1
    exit
  cb:
    ldxdw %r3, [%r2+8]
    add %r3, %r1
    stxdw [%r2+8], %r3
    ldxdw %r4, [%r2]
    mov %r0, 0
    jne %r1, %r4, out
    mov %r0, 1
  out:
    exit
  )");
  // lddw at slot 5, cb at slot 15.
  set_pseudo(insns, 0, lddw_src::func, 15 - 5 - 1);
  return insns;
}

TEST(Loop, SumsAndStopsEarly) {
  auto program = Program::load(loop_program(), {.helpers = &registry});
  ASSERT_TRUE(program) << program.error().to_string();
  struct Case {
    std::uint64_t n, flags, stop;
    u64 expected;
  };
  for (const Case& c :
       {Case{10, 0, 1000, (u64{10} << 32) | 45},                   // all ten: 0 + ... + 9
        Case{10, 0, 3, (u64{4} << 32) | 6},                        // stops at i = 3
        Case{0, 0, 1000, 0}, Case{5, 1, 1000, neg(EINVAL) << 32},  // flags must be 0
        Case{(1u << 23) + 1, 0, 0, neg(E2BIG) << 32},
        Case{(u64{1} << 32) | 3, 0, 1000, (u64{3} << 32) | 3}}) {  // u32 count
    std::uint64_t ctx[3] = {c.n, c.flags, c.stop};
    RunInput input = context_input(ctx, sizeof ctx);
    SCOPED_TRACE(c.n);
    EXPECT_BOTH_EQ(run_both(*program, input), c.expected);
  }
}

TEST(Loop, MaxLoopsIsTheLimitAndCallbacksCountAgainstTheBudget) {
  auto program = Program::load(loop_program(), {.helpers = &registry});
  ASSERT_TRUE(program);
  // 1 << 23 iterations are allowed (the callback stops at once: running them all would take
  // seconds under the sanitizers); one more is -E2BIG.
  std::uint64_t ctx[3] = {1u << 23, 0, 0};
  RunInput input = context_input(ctx, sizeof ctx);
  EXPECT_BOTH_EQ(run_both(*program, input), u64{1} << 32);
  ctx[0] = (1u << 23) + 1;
  EXPECT_BOTH_EQ(run_both(*program, input), neg(E2BIG) << 32);
  // 100000 iterations of 8 instructions each: a budget of 1000 runs out inside a callback.
  ctx[0] = 100000;
  ctx[2] = 1u << 30;
  EXPECT_BOTH_EQ(run_both(*program, input), (u64{100000} << 32) | (u64{100000} * 99999 / 2));
  RunOptions budgeted = options_with(MemoryMode::checked, 1000);
  EXPECT_BOTH_FAIL(run_both(*program, input, budgeted), Error::Kind::budget_exhausted,
                   "budget of 1000");
}

TEST(Loop, FaultInsideTheCallbackEndsTheRun) {
  auto insns = assemble_or_fail(R"(
    mov %r1, 3
    lddw %r2, 0
    mov %r3, 0
    mov %r4, 0
    call 181
    exit
  cb:
    ldxdw %r0, [%r2]
    exit
  )");
  set_pseudo(insns, 0, lddw_src::func, 7 - 1 - 1);
  auto program = Program::load(insns, {.helpers = &registry});
  ASSERT_TRUE(program);
  // The callback dereferences its null context: instruction 7 faults.
  EXPECT_BOTH_FAIL(run_both(*program, {}), Error::Kind::out_of_bounds, "instruction 7");
}

TEST(Loop, NestedLoopsStopAtTheCallDepthLimit) {
  // cb(i, depth_ptr): ++*depth_ptr... each level calls bpf_loop(1, cb, ctx) again, so the
  // frames pile up: the entry frame and 7 callbacks fit (8 frames), the 8th callback fails.
  auto insns = assemble_or_fail(R"(
    stdw [%r10-8], 0
    mov %r1, 1
    lddw %r2, 0
    mov %r3, %r10
    add %r3, -8
    mov %r4, 0
    call 181
    ldxdw %r0, [%r10-8]
    exit
  cb:
    ldxdw %r1, [%r2]
    add %r1, 1
    stxdw [%r2], %r1
    mov %r3, %r2
    mov %r1, 1
    lddw %r2, 0
    mov %r4, 0
    call 181
    exit
  )");
  set_pseudo(insns, 0, lddw_src::func, 10 - 2 - 1);
  set_pseudo(insns, 1, lddw_src::func, 10 - 15 - 1);
  auto program = Program::load(insns, {.helpers = &registry});
  ASSERT_TRUE(program) << program.error().to_string();
  EXPECT_BOTH_FAIL(run_both(*program, {}), Error::Kind::helper, "deeper than 8 frames");
}

TEST(Loop, CallbackSeesAFreshFrameAndKeepsTheCallersRegisters) {
  // The caller keeps r6-r9 and its stack; the callback's r10 is a new frame (its [r10-8]
  // starts zeroed in checked mode).
  auto insns = assemble_or_fail(R"(
    mov %r6, 6
    mov %r9, 9
    stdw [%r10-8], 77
    mov %r1, 1
    lddw %r2, 0
    mov %r3, %r10
    add %r3, -8
    mov %r4, 0
    call 181
    ldxdw %r1, [%r10-8]
    add %r1, %r6
    add %r1, %r9
    mov %r0, %r1
    exit
  cb:
    mov %r6, 100
    mov %r9, 100
    ldxdw %r5, [%r10-8]
    stdw [%r10-8], 1
    ldxdw %r4, [%r2]
    add %r4, %r5
    add %r4, 1
    stxdw [%r2], %r4
    mov %r0, 0
    exit
  )");
  set_pseudo(insns, 0, lddw_src::func, 15 - 4 - 1);
  auto program = Program::load(insns, {.helpers = &registry});
  ASSERT_TRUE(program) << program.error().to_string();
  EXPECT_BOTH_EQ(run_both(*program, {}), 78 + 6 + 9);
}

TEST(Loop, NotAFunctionFails) {
  auto insns =
      assemble_or_fail("mov %r1, 1\nmov %r2, %r10\nmov %r3, 0\nmov %r4, 0\ncall 181\nexit\n");
  auto program = Program::load(insns, {.helpers = &registry});
  ASSERT_TRUE(program);
  EXPECT_BOTH_FAIL(run_both(*program, {}), Error::Kind::helper, "is not a function");
}

TEST(Registry, EmbeddersAddTheirOwnHelpersWithPrototypes) {
  HelperRegistry mine = linux_helpers();
  auto twice = [](HelperCall&, u64 r1, u64, u64, u64, u64) -> u64 { return 2 * r1; };
  ASSERT_TRUE(mine.add({.id = 10000,
                        .name = "twice",
                        .function = twice,
                        .prototype = HelperPrototype{.args = {ArgKind::anything}}}));
  EXPECT_FALSE(mine.add({.id = linux_helper::loop, .name = "mine", .function = twice}));
  EXPECT_FALSE(add_linux_helpers(mine));  // every id is taken now
  auto program =
      Program::load(assemble_or_fail("mov %r1, 21\ncall 10000\nexit\n"), {.helpers = &mine});
  ASSERT_TRUE(program);
  EXPECT_BOTH_EQ(run_both(*program, {}), 42);
  ASSERT_TRUE(linux_helper_prototype(linux_helper::map_lookup_elem));
  EXPECT_EQ(linux_helper_prototype(linux_helper::map_lookup_elem)->returns,
            ReturnKind::map_value_or_null);
  EXPECT_EQ(linux_helper_prototype(linux_helper::loop)->args[1], ArgKind::func);
  EXPECT_FALSE(linux_helper_prototype(9));  // skb_store_bytes: the program types' helper
  EXPECT_EQ(mine.find(linux_helper::tail_call)->name, "tail_call");
}

}  // namespace
}  // namespace bpfvm::helper_test
