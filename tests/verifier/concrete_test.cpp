// The concrete reference the soundness tests trust, checked against the interpreter on every
// ALU and conditional-jump row of the opcode table; and the verifier's mapping of those rows
// (alu_row, jump_row) checked to cover the whole table.
#include "verifier/concrete.hpp"
#include "support/case_runner.hpp"
#include "verifier/describe.hpp"
#include "verifier/samples.hpp"

#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>

namespace bpfvm::verifier::testing {
namespace {

using bpfvm::testing::exit_insn;
using bpfvm::testing::lddw;
using bpfvm::testing::make_insn;
using bpfvm::testing::mov64_imm;

bool is_alu_shape(Shape s) {
  return s == Shape::AluImm || s == Shape::AluReg || s == Shape::AluUnary || s == Shape::Endian ||
         s == Shape::MovSx;
}
bool is_jump_shape(Shape s) { return s == Shape::JmpImm || s == Shape::JmpReg; }

// The instruction of `row` on r1 (and r2 or `imm`).
Insn row_insn(const OpcodeInfo& row, std::int32_t imm) {
  const std::int16_t off =
      row.variant == Variant::Off ? static_cast<std::int16_t>(row.variant_value) : 0;
  switch (row.shape) {
    case Shape::AluImm:
    case Shape::JmpImm: return make_insn(row.opcode, 1, 0, off, imm);
    case Shape::AluReg:
    case Shape::JmpReg:
    case Shape::MovSx: return make_insn(row.opcode, 1, 2, off, 0);
    case Shape::Endian: return make_insn(row.opcode, 1, 0, 0, row.variant_value);
    default: return make_insn(row.opcode, 1, 0, 0, 0);
  }
}

std::uint64_t run(const std::vector<Insn>& insns) {
  auto program = Program::load(insns);
  EXPECT_TRUE(program.ok()) << bpfvm::testing::describe(program.error());
  if (!program.ok()) return 0;
  auto result = interpret(*program, RunInput{});
  EXPECT_TRUE(result.ok()) << bpfvm::testing::describe(result.error());
  return result.ok() ? *result : 0;
}

TEST(Concrete, EveryOpcodeRowIsMappedByTheVerifier) {
  int alu = 0, jumps = 0;
  for (const OpcodeInfo& row : opcode_rows) {
    EXPECT_EQ(alu_row(row.op).has_value(), is_alu_shape(row.shape)) << row.mnemonic;
    EXPECT_EQ(jump_row(row.op).has_value(), is_jump_shape(row.shape)) << row.mnemonic;
    alu += is_alu_shape(row.shape);
    jumps += is_jump_shape(row.shape);
  }
  EXPECT_EQ(alu,
            72);  // 13 binary ops x 2 widths x imm/reg, mov x 4, neg x 2, movsx x 5, 9 byte order
  EXPECT_EQ(jumps, 44);  // 11 conditions x 2 widths x imm/reg
}

TEST(Concrete, AluReferenceMatchesTheInterpreter) {
  Samples samples(0xc0c0);
  for (const OpcodeInfo& row : opcode_rows) {
    const auto mapped = alu_row(row.op);
    if (!mapped) continue;
    for (int i = 0; i < 40; ++i) {
      const std::uint64_t x = samples.value();
      const auto imm = static_cast<std::int32_t>(samples.value());
      const std::uint64_t y = row.shape == Shape::AluImm
                                  ? static_cast<std::uint64_t>(std::int64_t{imm})
                                  : samples.value();
      std::vector<Insn> insns;
      lddw(insns, 1, x);
      lddw(insns, 2, y);
      insns.push_back(row_insn(row, imm));
      insns.push_back(make_insn(0xbf, 0, 1, 0, 0));  // mov r0, r1
      insns.push_back(exit_insn());
      ASSERT_EQ(run(insns), concrete_alu(mapped->op, mapped->bits, x, y))
          << row.mnemonic << fmt::format(" {:#x} {:#x}", x, y);
      // And the abstract transfer on constants gives the same.
      const auto abstract = transfer(row.op, ScalarValue::constant(x), ScalarValue::constant(y));
      ASSERT_TRUE(abstract && abstract->is_const());
      ASSERT_EQ(abstract->const_value(), concrete_alu(mapped->op, mapped->bits, x, y))
          << row.mnemonic;
    }
  }
}

TEST(Concrete, JumpReferenceMatchesTheInterpreter) {
  Samples samples(0xc0c1);
  for (const OpcodeInfo& row : opcode_rows) {
    const auto mapped = jump_row(row.op);
    if (!mapped) continue;
    for (int i = 0; i < 40; ++i) {
      const std::uint64_t x = samples.value();
      const auto imm = static_cast<std::int32_t>(i % 4 == 0 ? x : samples.value());
      std::uint64_t y = row.shape == Shape::JmpImm ? static_cast<std::uint64_t>(std::int64_t{imm})
                                                   : samples.value();
      if (row.shape == Shape::JmpReg && i % 4 == 0) y = x;
      std::vector<Insn> insns;
      lddw(insns, 1, x);
      lddw(insns, 2, y);
      insns.push_back(mov64_imm(0, 0));
      Insn jump = row_insn(row, imm);
      jump.offset = 1;
      insns.push_back(jump);
      insns.push_back(exit_insn());
      insns.push_back(mov64_imm(0, 1));
      insns.push_back(exit_insn());
      ASSERT_EQ(run(insns) == 1, concrete_cmp(mapped->op, mapped->bits, x, y))
          << row.mnemonic << fmt::format(" {:#x} {:#x}", x, y);
      const auto abstract = branch(row.op, ScalarValue::constant(x), ScalarValue::constant(y));
      ASSERT_TRUE(abstract.has_value());
      EXPECT_EQ(abstract->verdict,
                concrete_cmp(mapped->op, mapped->bits, x, y) ? Verdict::always : Verdict::never)
          << row.mnemonic;
    }
  }
}

}  // namespace
}  // namespace bpfvm::verifier::testing
