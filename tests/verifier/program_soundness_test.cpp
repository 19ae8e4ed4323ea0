// Soundness of the program-level verifier: what it accepts runs in the interpreter's checked
// mode without a fault. Programs come from the random generator (every one of them passes
// the Linux verifier, so each should pass ours too: the acceptance rate is measured and
// must be total) and from mutations of them that break a rule or may break one: a memory
// access moved, its base swapped for another register (r1, the context, included), a
// store dropped, a register operand changed. Mutants are rejected or, when accepted, must
// run cleanly on a random context.
#include "verifier/verify.hpp"

#include "support/random_program.hpp"

#include <bpfvm/disassembler.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>

#include <iostream>

namespace bpfvm::verifier::testing {
namespace {

constexpr std::size_t context_bytes = 64;

bool is_memory(const Insn& insn) {
  const std::uint8_t c = insn_class(insn.opcode);
  return c == cls::ldx || c == cls::st || c == cls::stx;
}

// One random change to a program's instruction slots, or false when the chosen slot does not
// take it (a jump's offset, lddw's halves and the final exit are left alone so the program
// still decodes and its control flow keeps its shape).
bool mutate(std::vector<Insn>& insns, bpfvm::test::Rng& rng) {
  const std::size_t i = rng.below(insns.size() - 1);
  Insn& insn = insns[i];
  const std::uint8_t c = insn_class(insn.opcode);
  if (c == cls::jmp || c == cls::jmp32 || c == cls::ld) return false;
  if (i > 0 && insns[i - 1].opcode == 0x18) return false;
  switch (rng.below(4)) {
    case 0:  // move the access
      if (!is_memory(insn)) return false;
      insn.offset = static_cast<std::int16_t>(insn.offset + rng.between(-24, 24));
      return true;
    case 1:  // another base register (r1: the context)
      if (!is_memory(insn)) return false;
      if (c == cls::ldx)
        insn.src = static_cast<std::uint8_t>(rng.chance(50) ? 1 : rng.below(11));
      else
        insn.dst = static_cast<std::uint8_t>(rng.chance(50) ? 1 : rng.below(10));
      return true;
    case 2:  // drop an instruction: `ja +0` keeps the indices
      insn = Insn{0x05, 0, 0, 0, 0};
      return true;
    default:  // another operand register
      if (c == cls::alu32 || c == cls::alu64) {
        insn.src = static_cast<std::uint8_t>(rng.below(11));
        return true;
      }
      return false;
  }
}

struct Tally {
  std::size_t programs = 0, accepted = 0, runs = 0;
};

// Verifies `insns`; when accepted, runs them on random contexts and expects no fault.
void check(const std::vector<Insn>& insns, bpfvm::test::Rng& rng, Tally& tally,
           std::uint64_t seed) {
  ++tally.programs;
  VerifyOptions options;
  options.context_size = context_bytes;
  const VerifyResult r = verify(insns, options);
  if (!r.ok()) return;
  ++tally.accepted;
  auto program = Program::load(insns);
  ASSERT_TRUE(program) << program.error().to_string();
  for (int run = 0; run < 2; ++run) {
    std::vector<std::uint8_t> memory(context_bytes);
    for (auto& b : memory) b = static_cast<std::uint8_t>(rng.next());
    RunOptions ro;
    ro.budget = 5'000'000;
    auto result = interpret(*program, RunInput::raw(memory), ro);
    ++tally.runs;
    ASSERT_TRUE(result) << "seed " << seed
                        << ": accepted program faulted: " << result.error().to_string() << "\n"
                        << disassemble(insns, Syntax::llvm);
  }
}

#ifdef NDEBUG
constexpr std::size_t program_count = 1500;
#else
constexpr std::size_t program_count = 300;
#endif

TEST(VerifierSoundness, RandomProgramsAreAcceptedAndRunClean) {
  bpfvm::test::RandomProgramOptions opts;
  opts.max_body_insns = 80;
  const bpfvm::test::RandomProgramGenerator gen(opts);
  bpfvm::test::Rng rng(0x7665726966ULL);
  Tally tally;
  for (std::size_t k = 0; k < program_count; ++k) {
    const auto p = gen.generate(0x76657269'00000000ULL + k);
    const VerifyResult r = verify(p.insns, VerifyOptions{});
    EXPECT_TRUE(r.ok()) << "seed " << p.seed << ": " << r.error->to_string() << "\n"
                        << disassemble(p.insns, Syntax::llvm);
    check(p.insns, rng, tally, p.seed);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::cout << "random programs: " << tally.accepted << "/" << tally.programs << " accepted, "
            << tally.runs << " checked runs, no fault\n";
  EXPECT_EQ(tally.accepted, tally.programs);
}

TEST(VerifierSoundness, MutantsAreRejectedOrRunClean) {
  bpfvm::test::RandomProgramOptions opts;
  opts.max_body_insns = 60;
  const bpfvm::test::RandomProgramGenerator gen(opts);
  bpfvm::test::Rng rng(0x6d7574616e74ULL);
  Tally tally;
  for (std::size_t k = 0; k < program_count * 3; ++k) {
    auto insns = gen.generate(0x6d757461'00000000ULL + k / 3).insns;
    int changes = 0;
    const int wanted = 1 + static_cast<int>(rng.below(3));
    for (int tries = 0; changes < wanted && tries < 50; ++tries) changes += mutate(insns, rng);
    if (!Program::load(insns)) continue;  // the decoder's business, not the verifier's
    check(insns, rng, tally, 0x6d757461'00000000ULL + k / 3);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::cout << "mutants: " << tally.accepted << "/" << tally.programs << " accepted, " << tally.runs
            << " checked runs, no fault\n";
  EXPECT_GT(tally.accepted, 0u);
  EXPECT_LT(tally.accepted, tally.programs);
}

}  // namespace
}  // namespace bpfvm::verifier::testing
