// Program::load refuses malformed programs with an invalid_program error naming the
// instruction; whatever it accepts runs in checked mode without crashing.
// Malformed programs that data files can express are in tests/cases/malformed-*.data.
#include "support/case_runner.hpp"

#include <gtest/gtest.h>

#include <array>

namespace bpfvm::testing {
namespace {

void expect_refused(const std::vector<Insn>& insns, std::optional<std::size_t> index) {
  auto program = Program::load(insns);
  ASSERT_FALSE(program.ok()) << "Program::load accepted it";
  EXPECT_EQ(kind_name(program.error().kind), "invalid_program") << describe(program.error());
  if (index) {
    EXPECT_EQ(program.error().insn_index, index) << describe(program.error());
  }
}

TEST(Load, EmptyProgram) {
  auto program = Program::load(std::span<const Insn>{});
  ASSERT_FALSE(program.ok());
  EXPECT_EQ(kind_name(program.error().kind), "invalid_program");
  auto from_bytes = Program::load_bytes(std::span<const std::uint8_t>{});
  ASSERT_FALSE(from_bytes.ok());
  EXPECT_EQ(kind_name(from_bytes.error().kind), "invalid_program");
}

TEST(Load, BytesNotAMultipleOfEight) {
  std::vector<std::uint8_t> bytes = bytes_from_insns(std::vector<Insn>{mov64_imm(0, 1), exit_insn()});
  for (std::size_t cut : {1, 4, 7, 9, 15}) {
    SCOPED_TRACE(cut);
    std::vector<std::uint8_t> truncated(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    auto program = Program::load_bytes(truncated);
    ASSERT_FALSE(program.ok());
    EXPECT_EQ(kind_name(program.error().kind), "invalid_program");
  }
  EXPECT_TRUE(Program::load_bytes(bytes).ok());
}

TEST(Load, TruncatedLddw) {
  std::vector<Insn> insns;
  lddw(insns, 0, 1);
  insns.pop_back();
  expect_refused(insns, 0);
  // lddw as the last two slots: complete, but then the program has no exit.
  insns.clear();
  lddw(insns, 0, 1);
  expect_refused(insns, std::nullopt);
}

TEST(Load, LddwSecondSlotMustBeBlank) {
  for (Insn second : {make_insn(0x00, 1, 0, 0, 0), make_insn(0x00, 0, 1, 0, 0),
                      make_insn(0x00, 0, 0, 1, 0), make_insn(0x95, 0, 0, 0, 0)}) {
    std::vector<Insn> insns{make_insn(0x18, 0, 0, 0, 1), second, exit_insn()};
    expect_refused(insns, std::nullopt);
  }
}

TEST(Load, UnknownOpcodes) {
  for (std::uint8_t opcode : {0x00, 0x01, 0x08, 0x38, 0x58, 0x8e, 0x9d, 0xe7, 0xf7, 0xfe, 0xff}) {
    SCOPED_TRACE(static_cast<int>(opcode));
    expect_refused({mov64_imm(0, 0), make_insn(opcode, 0, 0, 0, 0), exit_insn()}, 1);
  }
}

TEST(Load, JumpsOutOfRange) {
  expect_refused({ja(1), exit_insn()}, 0);
  expect_refused({ja(-2), exit_insn()}, 0);
  expect_refused({mov64_imm(0, 0), jeq_imm(0, 0, 1), exit_insn()}, 1);
  expect_refused({ja(0x7fff), exit_insn()}, 0);
  expect_refused({ja(-0x8000), exit_insn()}, 0);
  expect_refused({make_insn(0x06, 0, 0, 0, 0x7fffffff), exit_insn()}, 0);   // ja32
  expect_refused({make_insn(0x06, 0, 0, 0, -0x7fffffff - 1), exit_insn()}, 0);
  expect_refused({call_local(1), exit_insn()}, 0);
  expect_refused({call_local(-2), exit_insn()}, 0);
  expect_refused({call_local(0x7fffffff), exit_insn()}, 0);
}

TEST(Load, JumpIntoLddw) {
  std::vector<Insn> insns{ja(1)};
  lddw(insns, 0, 1);
  insns.push_back(exit_insn());
  expect_refused(insns, 0);
  // A backward jump into the second slot, and a local call into it.
  insns = {mov64_imm(0, 0)};
  lddw(insns, 1, 1);
  insns.push_back(ja(-2));
  insns.push_back(exit_insn());
  expect_refused(insns, 3);
  insns = {call_local(1)};
  lddw(insns, 1, 1);
  insns.push_back(exit_insn());
  expect_refused(insns, 0);
}

TEST(Load, MissingExit) {
  expect_refused({mov64_imm(0, 0)}, 0);
  expect_refused({exit_insn(), mov64_imm(0, 0)}, 1);
  expect_refused({mov64_imm(0, 0), call_local(-2)}, 1);  // a call returns: it falls through
}

TEST(Load, JumpAsLastInstructionIsFine) {
  auto program = Program::load(std::vector<Insn>{mov64_imm(0, 3), ja(1), exit_insn(), ja(-2)});
  ASSERT_TRUE(program.ok()) << describe(program.error());
  auto result = interpret(*program, RunInput{});
  ASSERT_TRUE(result.ok()) << describe(result.error());
  EXPECT_EQ(*result, 3u);
}

TEST(Load, MaxInsnsOption) {
  std::vector<Insn> insns{mov64_imm(0, 0), mov64_imm(0, 1), exit_insn()};
  EXPECT_TRUE(Program::load(insns, LoadOptions{.helpers = nullptr, .max_insns = 3}).ok());
  auto refused = Program::load(insns, LoadOptions{.helpers = nullptr, .max_insns = 2});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(kind_name(refused.error().kind), "invalid_program");
}

TEST(Load, KeepsTheInstructions) {
  std::vector<Insn> insns{mov64_imm(0, 9)};
  lddw(insns, 1, 0x1234);
  insns.push_back(exit_insn());
  auto program = Program::load(insns);
  ASSERT_TRUE(program.ok());
  ASSERT_EQ(program->size(), insns.size());
  for (std::size_t i = 0; i < insns.size(); ++i) EXPECT_EQ(program->insns()[i], insns[i]) << i;
  Program copy = *program;  // copies share the code
  EXPECT_EQ(copy.insns().data(), program->insns().data());
}

// Every opcode byte with a spread of field values: load refuses it cleanly or the program runs
// in checked mode, with a budget, to an answer or a clean error. Never a crash.
TEST(Load, EveryOpcodeLoadsOrIsRefusedAndRunsSafely) {
  HelperRegistry helpers = suite_helpers();
  alignas(16) std::array<std::uint8_t, 64> memory{};
  std::size_t loaded = 0;
  for (int opcode = 0; opcode < 256; ++opcode) {
    for (int dst : {0, 1, 2, 10, 11}) {
      for (int src : {0, 1, 10, 15}) {
        for (std::int16_t offset : {std::int16_t{0}, std::int16_t{1}, std::int16_t{-1}, std::int16_t{8},
                                    std::int16_t{-512}, std::int16_t{0x7fff}}) {
          for (std::int32_t imm : {0, 1, -1, 5, 8, 16, 32, 64, 0x7fffffff}) {
            std::vector<Insn> insns{mov64_reg(2, 10), add64_imm(2, -16),
                                    make_insn(static_cast<std::uint8_t>(opcode), dst, src, offset, imm),
                                    opcode == 0x18 ? make_insn(0, 0, 0, 0, 0) : mov64_imm(3, 0),
                                    exit_insn()};
            auto program = Program::load(insns, LoadOptions{.helpers = &helpers});
            if (!program.ok()) {
              ASSERT_EQ(kind_name(program.error().kind), "invalid_program") << describe(program.error());
              ASSERT_TRUE(program.error().insn_index.has_value()) << describe(program.error());
              continue;
            }
            ++loaded;
            RunOptions options;
            options.budget = 100;
            auto result = interpret(*program, RunInput::raw(memory), options);
            if (!result.ok()) {
              auto kind = kind_name(result.error().kind);
              EXPECT_TRUE(kind == "out_of_bounds" || kind == "budget_exhausted" ||
                          kind == "call_depth" || kind == "helper")
                  << "opcode " << opcode << ": " << describe(result.error());
            }
          }
        }
      }
    }
  }
  EXPECT_GT(loaded, 0u);
}

}  // namespace
}  // namespace bpfvm::testing
