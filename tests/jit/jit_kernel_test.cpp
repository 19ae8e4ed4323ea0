// The JIT against the Linux kernel on random verifier-safe programs, as the interpreter's
// kernel differential does: each program runs in the kernel (BPF_PROG_LOAD +
// BPF_PROG_TEST_RUN) and through the JIT in checked and unchecked mode; the whole 64-bit r0
// must agree. Skips, saying why, where bpf(2) is refused.
//
// Reproduce one program: BPFVM_RANDOM_SEED=<seed> ./jit_kernel_test
#include "support/kernel_bpf.hpp"
#include "support/random_program.hpp"

#include "isa/opcode_table.hpp"

#include <bpfvm/jit.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace bpfvm::jit_test {
namespace {

using test::kernel::Fd;

Insn make(Op op, int dst, int src, int offset, std::int32_t imm) {
  Insn insn;
  insn.opcode = info(op).opcode;
  insn.dst = static_cast<std::uint8_t>(dst);
  insn.src = static_cast<std::uint8_t>(src);
  insn.offset = static_cast<std::int16_t>(offset);
  insn.imm = imm;
  return insn;
}

// TEST_RUN reports only the low 32 bits of r0, so the program's only exit (its last
// instruction) becomes: store r0 in element 0 of an array map, then return it.
std::vector<Insn> storing_r0_in(const test::RandomProgram& program, int map_fd) {
  std::vector<Insn> insns(program.insns.begin(), program.insns.end() - 1);
  insns.push_back(make(Op::STXDW, frame_pointer, 0, -8, 0));
  insns.push_back(make(Op::STW, frame_pointer, 0, -16, 0));
  insns.push_back(make(Op::LDDW, 1, lddw_src::map_fd, 0, map_fd));
  insns.push_back(Insn{});
  insns.push_back(make(Op::MOV64_REG, 2, frame_pointer, 0, 0));
  insns.push_back(make(Op::ADD64_IMM, 2, 0, 0, -16));
  insns.push_back(make(Op::CALL_HELPER, 0, 0, 0, 1));  // BPF_FUNC_map_lookup_elem
  insns.push_back(make(Op::JEQ64_IMM, 0, 0, 2, 0));
  insns.push_back(make(Op::LDXDW, 1, frame_pointer, -8, 0));
  insns.push_back(make(Op::STXDW, 0, 1, 0, 0));
  insns.push_back(make(Op::LDXDW, 0, frame_pointer, -8, 0));
  insns.push_back(make(Op::EXIT, 0, 0, 0, 0));
  return insns;
}

std::optional<std::string> kernel_unavailable() {
  if (geteuid() != 0) return "not root: BPF_PROG_LOAD and BPF_PROG_TEST_RUN need root";
  auto probe = test::kernel::probe();
  if (!probe && probe.error().is_refusal())
    return "bpf() is refused here: " + probe.error().to_string();
  return std::nullopt;
}

TEST(JitKernelDifferential, RandomProgramsAgreeWithLinux) {
  if (auto why = kernel_unavailable()) GTEST_SKIP() << *why;
  auto map = test::kernel::create_array_map(8, 1);
  ASSERT_TRUE(map.ok()) << map.error().to_string();
  const test::SeedRange seeds =
      test::seeds_from_environment(test::SeedRange{0x6a69746b'00000000ULL, 2000});
  const test::RandomProgramGenerator generator;
  std::size_t ran = 0, mismatches = 0;
  for (std::size_t i = 0; i < seeds.count; ++i) {
    const test::RandomProgram random = generator.generate(seeds.seed(i));
    auto kernel_program = test::kernel::load_program(storing_r0_in(random, map->get()));
    ASSERT_TRUE(kernel_program.ok())
        << "seed " << random.seed << ": " << kernel_program.error().to_string();
    const std::uint64_t sentinel = 0x5e9713e15e9713e1ULL;
    std::uint8_t value[8];
    std::memcpy(value, &sentinel, 8);
    ASSERT_TRUE(test::kernel::map_update(*map, 0, value).ok());
    const std::uint8_t packet[64] = {};
    auto run = test::kernel::test_run(*kernel_program, packet);
    ASSERT_TRUE(run.ok()) << run.error().to_string();
    ASSERT_TRUE(test::kernel::map_lookup(*map, 0, value).ok());
    std::uint64_t theirs;
    std::memcpy(&theirs, value, 8);

    auto program = Program::load(random.insns);
    ASSERT_TRUE(program.ok()) << program.error().to_string();
    for (MemoryMode mode : {MemoryMode::checked, MemoryMode::unchecked}) {
      JitOptions options;
      options.memory_mode = mode;
      auto jit = JitProgram::compile(*program, options);
      ASSERT_TRUE(jit.ok()) << jit.error().to_string();
      std::uint8_t memory[64] = {};
      RunOptions run_options;
      run_options.memory_mode = mode;
      auto ours = jit->run(RunInput::raw(memory), run_options);
      ASSERT_TRUE(ours.ok()) << "seed " << random.seed << ": " << ours.error().to_string();
      if (*ours != theirs) {
        ++mismatches;
        ADD_FAILURE() << "seed " << random.seed
                      << (mode == MemoryMode::checked ? " checked" : " unchecked") << ": kernel 0x"
                      << std::hex << theirs << ", JIT 0x" << *ours << "\n"
                      << test::dump_insns(random.insns);
      }
    }
    ++ran;
  }
  std::printf(
      "[jit-kernel] %zu programs through the kernel and the JIT (checked and unchecked), "
      "%zu mismatches\n",
      ran, mismatches);
}

}  // namespace
}  // namespace bpfvm::jit_test
