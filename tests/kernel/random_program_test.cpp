// The random program generator on its own, no kernel needed: the corpus the kernel
// differential test runs covers every ALU, jump, memory and atomic row of the opcode
// table, keeps the shape rules the kernel's verifier enforces, and loads and runs in bpfvm.
#include "support/random_program.hpp"

#include "isa/opcode_table.hpp"

#include <bpfvm/program.hpp>
#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

namespace bpfvm::test {
namespace {

// The corpus, generated once for all tests here.
const std::vector<RandomProgram>& corpus() {
  static const std::vector<RandomProgram> programs = [] {
    const RandomProgramGenerator generator;
    const SeedRange seeds = seeds_from_environment();
    std::vector<RandomProgram> result;
    for (std::size_t i = 0; i < seeds.count; ++i)
      result.push_back(generator.generate(seeds.seed(i)));
    return result;
  }();
  return programs;
}

std::string where(const RandomProgram& program, std::size_t slot) {
  return "seed " + std::to_string(program.seed) + ", slot " + std::to_string(slot) + "\n" +
         dump_insns(program.insns);
}

TEST(RandomProgramGenerator, SameSeedGivesSameProgram) {
  const RandomProgramGenerator generator;
  for (std::uint64_t seed : {0ULL, 1ULL, 42ULL, 0xffffffffffffffffULL}) {
    EXPECT_EQ(generator.generate(seed).insns, generator.generate(seed).insns) << seed;
  }
  EXPECT_NE(generator.generate(1).insns, generator.generate(2).insns);
}

TEST(RandomProgramGenerator, RngIsPinned) {
  // The sequence is part of the corpus definition: seeds must name the same programs on
  // every platform and after every refactoring of Rng.
  Rng rng(0);
  EXPECT_EQ(rng.next(), 0x99ec5f36cb75f2b4ULL);
  EXPECT_EQ(rng.next(), 0xbf6e1f784956452aULL);
}

TEST(RandomProgramGenerator, LengthsFollowOptions) {
  RandomProgramOptions options;
  options.min_body_insns = 20;
  options.max_body_insns = 30;
  const RandomProgramGenerator generator(options);
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const RandomProgram program = generator.generate(seed);
    const std::size_t body = program.fold_begin - program.body_begin;
    EXPECT_GE(body, 20u);
    EXPECT_LE(body, 30u);
  }
}

TEST(RandomProgramGenerator, KeepsToTheIsaVersion) {
  RandomProgramOptions options;
  options.cpu_version = 3;
  const RandomProgramGenerator generator(options);
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    const RandomProgram program = generator.generate(seed);
    for (std::size_t i = 0; i < program.insns.size(); ++i) {
      const Insn& insn = program.insns[i];
      const OpcodeInfo* row = find_row(insn.opcode, insn.offset, insn.imm, insn.src);
      ASSERT_NE(row, nullptr) << where(program, i);
      EXPECT_LE(row->cpu, 3) << row->mnemonic << ": " << where(program, i);
      if (row->shape == Shape::Lddw) ++i;
    }
  }
}

// The rules that make the kernel accept a program, checked on every instruction.
TEST(RandomProgramGenerator, KeepsTheVerifiersRules) {
  const RandomProgramOptions options;
  const auto window = static_cast<int>(options.stack_bytes);
  for (const RandomProgram& program : corpus()) {
    const auto& insns = program.insns;
    ASSERT_FALSE(insns.empty());
    ASSERT_EQ(insns.back().opcode, info(Op::EXIT).opcode) << where(program, insns.size() - 1);
    std::vector<bool> reachable(insns.size(), false);
    reachable[0] = true;
    for (std::size_t i = 0; i < insns.size(); ++i) {
      const Insn& insn = insns[i];
      const OpcodeInfo* row = find_row(insn.opcode, insn.offset, insn.imm, insn.src);
      ASSERT_NE(row, nullptr) << where(program, i);
      const std::size_t width = row->shape == Shape::Lddw ? 2 : 1;
      if (!reachable[i]) FAIL() << "unreachable: " << where(program, i);
      if (row->shape == Shape::Exit) {
        EXPECT_EQ(i, insns.size() - 1) << "a second exit: " << where(program, i);
        continue;
      }
      // r10 is a memory base only: never written, never an operand.
      const int size = access_size(*row);
      switch (row->shape) {
        case Shape::Load:
          EXPECT_EQ(insn.src, frame_pointer) << where(program, i);
          EXPECT_LT(insn.dst, frame_pointer) << where(program, i);
          break;
        case Shape::StoreImm:
        case Shape::StoreReg:
        case Shape::Atomic:
          EXPECT_EQ(insn.dst, frame_pointer) << where(program, i);
          EXPECT_LT(insn.src, frame_pointer) << where(program, i);
          break;
        default:
          EXPECT_LT(insn.dst, frame_pointer) << where(program, i);
          if (row->shape != Shape::Lddw) {
            EXPECT_LT(insn.src, frame_pointer) << where(program, i);
          }
          break;
      }
      if (size != 0) {
        // Inside the initialised window, aligned to the access size.
        EXPECT_GE(insn.offset, -window) << where(program, i);
        EXPECT_LE(insn.offset + size, 0) << where(program, i);
        EXPECT_EQ(insn.offset % size, 0) << where(program, i);
      }
      const bool alu64 = insn_class(insn.opcode) == cls::alu64;
      const std::uint8_t op = insn.opcode & 0xf0;
      if (row->shape == Shape::AluImm && (op == 0x60 || op == 0x70 || op == 0xc0)) {
        EXPECT_GE(insn.imm, 0) << "invalid shift: " << where(program, i);
        EXPECT_LT(insn.imm, alu64 ? 64 : 32) << "invalid shift: " << where(program, i);
      }
      if (row->shape == Shape::AluImm && (op == 0x30 || op == 0x90)) {
        EXPECT_NE(insn.imm, 0) << "div by zero: " << where(program, i);
      }
      // Control flow: forward only, to an instruction start at or before the fold.
      const bool jumps = is_jump(row->shape);
      if (jumps) {
        const std::int64_t distance = row->shape == Shape::Ja32 ? insn.imm : insn.offset;
        ASSERT_GE(distance, 0) << "backward jump: " << where(program, i);
        const std::size_t target = i + 1 + static_cast<std::size_t>(distance);
        ASSERT_LE(target, program.fold_begin) << where(program, i);
        reachable[target] = true;
      }
      if (!ends_flow(row->shape)) {
        ASSERT_LT(i + width, insns.size()) << where(program, i);
        reachable[i + width] = true;
      }
      if (width == 2) {
        // Only a jump could have marked lddw's second slot: jumps are forward, and the
        // fall-through from slot i goes to i + 2.
        EXPECT_FALSE(reachable[i + 1]) << "jump into lddw: " << where(program, i);
        ++i;
      }
    }
  }
}

// Every ALU, jump, memory and atomic row of both widths appears somewhere in the corpus.
TEST(RandomProgramGenerator, CorpusCoversEveryRow) {
  static constexpr std::array covered_shapes = {
      Shape::AluImm, Shape::AluReg, Shape::AluUnary, Shape::Endian,   Shape::MovSx,
      Shape::Lddw,   Shape::Load,   Shape::StoreImm, Shape::StoreReg, Shape::Atomic,
      Shape::Ja,     Shape::Ja32,   Shape::JmpImm,   Shape::JmpReg,   Shape::Exit};
  std::vector<std::size_t> uses(op_count, 0);
  for (const RandomProgram& program : corpus()) {
    for (std::size_t i = 0; i < program.insns.size(); ++i) {
      const Insn& insn = program.insns[i];
      const OpcodeInfo* row = find_row(insn.opcode, insn.offset, insn.imm, insn.src);
      ASSERT_NE(row, nullptr);
      ++uses[static_cast<std::size_t>(row->op)];
      if (row->shape == Shape::Lddw) ++i;
    }
  }
  std::size_t rows = 0;
  for (const OpcodeInfo& row : opcode_rows) {
    if (std::find(covered_shapes.begin(), covered_shapes.end(), row.shape) ==
        covered_shapes.end()) {
      continue;
    }
    ++rows;
    EXPECT_GT(uses[static_cast<std::size_t>(row.op)], 0u)
        << "no program uses " << row.mnemonic << " (opcode 0x" << std::hex << int{row.opcode}
        << std::dec << ", shape " << shape_name(row.shape) << ", variant " << row.variant_value
        << ")";
  }
  EXPECT_GT(rows, 150u);  // the table's rows of these shapes; guards against a filter bug
}

TEST(RandomProgramGenerator, CorpusLoadsAndRunsInBpfvm) {
  for (const RandomProgram& program : corpus()) {
    auto loaded = Program::load(program.insns);
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string() << "\n" << where(program, 0);
    std::uint8_t memory[64] = {};
    auto result = interpret(*loaded, RunInput::raw(memory), RunOptions{});
    ASSERT_TRUE(result.ok()) << result.error().to_string() << "\n" << where(program, 0);
  }
}

}  // namespace
}  // namespace bpfvm::test
