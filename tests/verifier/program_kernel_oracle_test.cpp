// The kernel's verifier as the oracle for verdicts: random programs (all of which Linux
// accepts) and mutants of them (a memory access moved or re-based, an instruction dropped,
// an operand changed) are verified by us and loaded into the running kernel as socket
// filters. The generator's prologue writes r0-r9 and mutations stay in the body, so the
// different contexts (raw memory of r2 bytes for us, a struct __sk_buff for the kernel,
// where r2 starts unset) never show.
//
// Asserted: every program we accept, the kernel accepts, unless the instruction the kernel
// rejected is one our more precise scalar domain proves unreachable. Measured and printed: of the
// programs the kernel accepts, how many we accept. Skips, saying why, where bpf(2) is refused.
#include "verifier/verify.hpp"

#include "support/kernel_bpf.hpp"
#include "support/random_program.hpp"

#include <bpfvm/disassembler.hpp>
#include <bpfvm/program.hpp>

#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <optional>

namespace bpfvm::verifier::testing {
namespace {

// The index of the last instruction the kernel's log shows ("12: (7b) ..."): where it
// stopped.
std::optional<std::size_t> last_logged_insn(const std::string& log) {
  std::optional<std::size_t> last;
  std::size_t pos = 0;
  while (pos < log.size()) {
    const std::size_t end = std::min(log.find('\n', pos), log.size());
    const std::string line = log.substr(pos, end - pos);
    const std::size_t colon = line.find(": (");
    if (colon != std::string::npos && colon > 0 && line.find_first_not_of("0123456789") == colon)
      last = std::stoul(line.substr(0, colon));
    pos = end + 1;
  }
  return last;
}

void mutate(std::vector<Insn>& insns, bpfvm::test::Rng& rng, std::size_t from) {
  for (int tries = 0; tries < 50; ++tries) {
    const std::size_t i = from + rng.below(insns.size() - 1 - from);
    Insn& insn = insns[i];
    const std::uint8_t c = insn_class(insn.opcode);
    if (c == cls::jmp || c == cls::jmp32 || c == cls::ld) continue;
    if (insns[i - 1].opcode == 0x18) continue;
    const bool memory = c == cls::ldx || c == cls::st || c == cls::stx;
    switch (rng.below(4)) {
      case 0:
        if (!memory) continue;
        insn.offset = static_cast<std::int16_t>(insn.offset + rng.between(-16, 16));
        return;
      case 1:
        if (!memory) continue;
        if (c == cls::ldx)
          insn.src = static_cast<std::uint8_t>(rng.below(11));
        else
          insn.dst = static_cast<std::uint8_t>(rng.below(10));
        return;
      case 2: insn = Insn{0x05, 0, 0, 0, 0}; return;
      default:
        if (c != cls::alu32 && c != cls::alu64) continue;
        insn.src = static_cast<std::uint8_t>(rng.below(11));
        return;
    }
  }
}

#ifdef NDEBUG
constexpr int program_count = 2000;
#else
constexpr int program_count = 500;  // sanitizer builds: the same checks, fewer programs
#endif

TEST(VerifierKernelOracle, NeverMorePermissiveThanLinux) {
  if (auto probe = bpfvm::test::kernel::probe(); !probe)
    GTEST_SKIP() << "the kernel's verifier is not available: " << probe.error().to_string();
  bpfvm::test::RandomProgramOptions opts;
  opts.max_body_insns = 50;
  const bpfvm::test::RandomProgramGenerator gen(opts);
  bpfvm::test::Rng rng(0x6f7261636c65ULL);
  std::map<std::pair<bool, bool>, int> table;  // (kernel accepts, we accept) -> count
  int compared = 0;
  int unreachable_for_us = 0;
  for (std::uint64_t k = 0; compared < program_count && k < 4 * program_count; ++k) {
    const auto p = gen.generate(0x6f726163'00000000ULL + k);
    auto insns = p.insns;
    if (k % 4 != 0) mutate(insns, rng, p.body_begin);
    if (!Program::load(insns)) continue;
    auto kernel = bpfvm::test::kernel::load_program(insns);
    if (!kernel && kernel.error().is_refusal() && kernel.error().verifier_log.empty())
      GTEST_SKIP() << kernel.error().to_string();
    const VerifyResult ours = verify(insns);
    ++compared;
    ++table[{kernel.ok(), ours.ok()}];
    if (kernel.ok() && !ours.ok())
      std::cout << "Linux accepts, we reject (seed " << p.seed << "): " << ours.error->to_string()
                << "\n";
    if (ours.ok() && !kernel.ok()) {
      // Our scalar domain is more precise than Linux's (division, modulo, shifts), so we may
      // prove an edge impossible that the kernel explores. That is the only acceptable
      // reason: the instruction the kernel rejected must never be reached in our
      // exploration.
      const auto failed_at = last_logged_insn(kernel.error().verifier_log);
      VerifyOptions logged;
      logged.log = true;
      const VerifyResult again = verify(insns, logged);
      const bool reached =
          !failed_at ||
          again.log.find("\n" + std::to_string(*failed_at) + ": ") != std::string::npos ||
          again.log.rfind(std::to_string(*failed_at) + ": ", 0) == 0;
      if (reached) {
        ADD_FAILURE() << "we accept what Linux rejects (seed " << p.seed << "):\n"
                      << kernel.error().to_string() << "\n"
                      << disassemble(insns, Syntax::llvm);
      } else {
        ++unreachable_for_us;
      }
    }
  }
  const int kernel_accepts = table[{true, true}] + table[{true, false}];
  std::cout << compared << " programs: kernel accepts " << kernel_accepts << ", we accept "
            << table[{true, true}] << " of those; kernel rejects "
            << table[{false, false}] + table[{false, true}] << ", we reject "
            << table[{false, false}] << " of those (the other " << unreachable_for_us
            << " fail, for Linux, at an instruction we prove unreachable)\n";
  EXPECT_GT(compared, program_count / 2);
}

}  // namespace
}  // namespace bpfvm::verifier::testing
