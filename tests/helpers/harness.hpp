// Shared by the helper tests: programs from assembly with `lddw` pseudo sources patched in,
// and runs through both engines that must agree.
#pragma once

#include <bpfvm/assembler.hpp>
#include <bpfvm/jit.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm::helper_test {

using u64 = std::uint64_t;

// Assembles `source`; the test fails (and the result is empty) when it does not assemble.
inline std::vector<Insn> assemble_or_fail(std::string_view source) {
  auto insns = assemble(source);
  EXPECT_TRUE(static_cast<bool>(insns)) << (insns ? "" : insns.error().to_string());
  return insns ? *insns : std::vector<Insn>{};
}

// Turns the n-th `lddw` (counting from 0) into one with pseudo source `src`, imm `imm` and
// second-slot imm `next_imm`.
inline void set_pseudo(std::vector<Insn>& insns, int nth, std::uint8_t src, std::int32_t imm,
                       std::int32_t next_imm = 0) {
  for (std::size_t i = 0; i < insns.size(); ++i) {
    if (insns[i].opcode != 0x18) continue;
    if (nth-- == 0) {
      insns[i].src = src & 0x0f;
      insns[i].imm = imm;
      insns[i + 1].imm = next_imm;
      return;
    }
    ++i;
  }
  ADD_FAILURE() << "no such lddw";
}

struct Outcomes {
  Result<u64> interpreter = u64{0};
  Result<u64> jit = u64{0};
};

inline std::string show(const Result<u64>& r) {
  return r ? "r0 = " + std::to_string(*r) : r.error().to_string();
}

// Runs on the interpreter, then on the JIT (compiled for the same memory mode). `reset`,
// when given, runs before each run so both start from the same state.
template <class Reset>
Outcomes run_both(const Program& program, const RunInput& input, const RunOptions& options,
                  Reset&& reset) {
  Outcomes out;
  reset();
  out.interpreter = interpret(program, input, options);
  reset();
  JitOptions jit_options;
  jit_options.memory_mode = options.memory_mode;
  jit_options.count_instructions = options.budget.has_value();
  auto jit = JitProgram::compile(program, jit_options);
  if (!jit) {
    out.jit = jit.error();
    return out;
  }
  out.jit = jit->run(input, options);
  return out;
}

inline Outcomes run_both(const Program& program, const RunInput& input,
                         const RunOptions& options = {}) {
  return run_both(program, input, options, [] {});
}

// Both engines return `expected`.
#define EXPECT_BOTH_EQ(outcomes, expected)                                         \
  do {                                                                             \
    const auto& o_ = (outcomes);                                                   \
    EXPECT_TRUE(o_.interpreter&&* o_.interpreter == static_cast<u64>(expected))    \
        << "interpreter: " << show(o_.interpreter) << ", expected " << (expected); \
    EXPECT_TRUE(o_.jit&&* o_.jit == static_cast<u64>(expected))                    \
        << "jit: " << show(o_.jit) << ", expected " << (expected);                 \
  } while (0)

// Both engines fail with an error of `kind` whose message contains `text`.
#define EXPECT_BOTH_FAIL(outcomes, expected_kind, text)                                            \
  do {                                                                                             \
    const auto& o_ = (outcomes);                                                                   \
    for (const Result<u64>* r_ : {&o_.interpreter, &o_.jit}) {                                     \
      ASSERT_FALSE(static_cast<bool>(*r_))                                                         \
          << (r_ == &o_.jit ? "jit" : "interpreter") << " returned " << show(*r_);                 \
      EXPECT_EQ(r_->error().kind, (expected_kind)) << r_->error().to_string();                     \
      EXPECT_NE(r_->error().to_string().find(text), std::string::npos) << r_->error().to_string(); \
    }                                                                                              \
  } while (0)

inline RunInput context_input(void* context, std::size_t size) {
  RunInput input;
  input.context = context;
  input.context_size = size;
  return input;
}

inline RunOptions options_with(MemoryMode mode, std::optional<std::uint64_t> budget = {}) {
  RunOptions options;
  options.memory_mode = mode;
  options.budget = budget;
  return options;
}

inline u64 neg(int e) { return static_cast<u64>(static_cast<std::int64_t>(-e)); }

}  // namespace bpfvm::helper_test
