// Every row of the opcode table survives encode -> decode -> disassemble -> assemble.
#include <bpfvm/assembler.hpp>
#include <bpfvm/disassembler.hpp>

#include "isa/decoder.hpp"
#include "isa/opcode_table.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

// An instruction for the row with non-trivial registers, offset and immediate wherever the
// shape uses them. Jumps and local calls go +1, over the first exit, to the second one.
std::vector<Insn> representative(const OpcodeInfo& row) {
  Insn insn;
  insn.opcode = row.opcode;
  Insn lddw_high;
  // clang-format off
  switch (row.shape) {
    case Shape::AluImm: insn.dst = 3; insn.imm = -12345; break;
    case Shape::AluReg: insn.dst = 3; insn.src = 7; break;
    case Shape::AluUnary: insn.dst = 4; break;
    case Shape::Endian: insn.dst = 5; break;
    case Shape::MovSx: insn.dst = 6; insn.src = 2; break;
    case Shape::Lddw: insn.dst = 7; insn.imm = static_cast<std::int32_t>(0x89abcdef);
      lddw_high.imm = 0x01234567; break;
    case Shape::Load: insn.dst = 3; insn.src = 10; insn.offset = -8; break;
    case Shape::StoreImm: insn.dst = 10; insn.offset = -16; insn.imm = 0x7eadbeef; break;
    case Shape::StoreReg: insn.dst = 1; insn.src = 9; insn.offset = 0x7ff; break;
    case Shape::Atomic: insn.dst = 10; insn.src = 2; insn.offset = -24; break;
    case Shape::LdAbs: insn.imm = 12; break;
    case Shape::LdInd: insn.src = 6; insn.imm = -4; break;
    case Shape::Ja: insn.offset = 1; break;
    case Shape::Ja32: insn.imm = 1; break;
    case Shape::JmpImm: insn.dst = 8; insn.imm = -3; insn.offset = 1; break;
    case Shape::JmpReg: insn.dst = 8; insn.src = 9; insn.offset = 1; break;
    case Shape::CallHelper: insn.imm = 5; break;
    case Shape::CallLocal: insn.imm = 1; break;
    case Shape::CallBtf: insn.imm = 123; break;
    case Shape::Callx: insn.dst = 2; break;
    case Shape::Exit: break;
  }
  // clang-format on
  switch (row.variant) {
    case Variant::None: break;
    case Variant::Off: insn.offset = static_cast<std::int16_t>(row.variant_value); break;
    case Variant::Imm: insn.imm = row.variant_value; break;
    case Variant::Src: insn.src = static_cast<std::uint8_t>(row.variant_value); break;
  }
  Insn exit;
  exit.opcode = info(Op::EXIT).opcode;
  std::vector<Insn> program{insn};
  if (row.shape == Shape::Lddw) program.push_back(lddw_high);
  program.push_back(exit);
  program.push_back(exit);
  return program;
}

class IsaRowRoundTrip : public testing::TestWithParam<std::size_t> {
 protected:
  const OpcodeInfo& row() const { return opcode_rows[GetParam()]; }
};

TEST_P(IsaRowRoundTrip, DecodesToItsOwnRow) {
  std::vector<Insn> program = representative(row());
  auto decoded = decode(program);
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ((*decoded)[0].row, &row());
}

TEST_P(IsaRowRoundTrip, ConformanceSyntaxAssemblesBack) {
  std::vector<Insn> program = representative(row());
  std::string text = disassemble(program, Syntax::conformance);
  EXPECT_EQ(text.find(".8byte"), std::string::npos) << text;
  auto assembled = assemble(text);
  ASSERT_TRUE(assembled.ok()) << assembled.error().to_string() << "\n" << text;
  EXPECT_EQ(*assembled, program) << text;
}

TEST_P(IsaRowRoundTrip, LlvmSyntaxIsPrintedAndStable) {
  std::vector<Insn> program = representative(row());
  std::string first = disassemble_insn(program, 0, Syntax::llvm);
  EXPECT_FALSE(first.empty());
  EXPECT_FALSE(first.starts_with(".8byte")) << first;
  EXPECT_EQ(first.find('?'), std::string::npos) << first;
  EXPECT_EQ(disassemble_insn(program, 0, Syntax::llvm), first);
}

std::string row_test_name(const testing::TestParamInfo<std::size_t>& info) {
  const OpcodeInfo& row = opcode_rows[info.param];
  std::string name = fmt::format("{:03}_{}_", info.param, shape_name(row.shape));
  for (char c : row.mnemonic) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(EveryRow, IsaRowRoundTrip, testing::Range<std::size_t>(0, op_count),
                         row_test_name);

// Every opcode byte that is no instruction prints raw and still assembles back.
TEST(IsaRawSlots, UndecodableBytesRoundTripAsEightByteWords) {
  for (int opcode = 0; opcode < 256; ++opcode) {
    if (!rows_for_opcode(static_cast<std::uint8_t>(opcode)).empty()) continue;
    Insn insn;
    insn.opcode = static_cast<std::uint8_t>(opcode);
    insn.dst = 0xf;
    insn.src = 0xa;
    insn.offset = -2;
    insn.imm = 0x12345678;
    std::vector<Insn> program{insn};
    for (Syntax syntax : {Syntax::conformance, Syntax::llvm}) {
      std::string text = disassemble(program, syntax);
      EXPECT_TRUE(text.starts_with(".8byte 0x12345678fffeaf")) << text;
      auto assembled = assemble(text);
      ASSERT_TRUE(assembled.ok()) << assembled.error().to_string();
      EXPECT_EQ(*assembled, program);
    }
  }
}

// A non-zero field the syntax cannot show makes the slot raw, so that nothing is lost.
TEST(IsaRawSlots, UnusedNonZeroFieldsPrintRaw) {
  Insn add;
  add.opcode = info(Op::ADD64_IMM).opcode;
  add.src = 1;  // unused in add imm
  std::vector<Insn> program{add};
  EXPECT_EQ(disassemble_insn(program, 0, Syntax::conformance), ".8byte 0x0000000000001007");
  EXPECT_EQ(disassemble_insn(program, 0, Syntax::llvm), ".8byte 0x0000000000001007");
}

TEST(IsaRawSlots, LddwWithoutSecondSlotPrintsRaw) {
  Insn lddw;
  lddw.opcode = info(Op::LDDW).opcode;
  lddw.imm = 1;
  std::vector<Insn> program{lddw};
  EXPECT_EQ(disassemble(program, Syntax::conformance), ".8byte 0x0000000100000018\n");
}

TEST(IsaRawSlots, LddwPseudoSourceIsRawInConformanceSyntaxOnly) {
  Insn lddw;
  lddw.opcode = info(Op::LDDW).opcode;
  lddw.dst = 1;
  lddw.src = lddw_src::map_fd;
  lddw.imm = 5;
  std::vector<Insn> program{lddw, Insn{}};
  EXPECT_EQ(disassemble(program, Syntax::conformance),
            ".8byte 0x0000000500001118\n.8byte 0x0000000000000000\n");
  EXPECT_EQ(disassemble(program, Syntax::llvm), "ld_pseudo\tr1, 1, 5\n");
}

}  // namespace
}  // namespace bpfvm
