// Shared test support: instruction builders, the helpers the bpf_conformance suite expects,
// hex parsing independent of the library's data-file parser, and a runner for data files.
#pragma once

#include <bpfvm/data_file.hpp>
#include <bpfvm/helper.hpp>
#include <bpfvm/insn.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/result.hpp>
#include <bpfvm/vm.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm::testing {

// ---- Instruction builders (RFC 9669 section 3 encodings) ----

// Access sizes as the opcode's size bits (RFC 9669 section 5.1).
enum class Size : std::uint8_t { w = 0x00, h = 0x08, b = 0x10, dw = 0x18 };
std::size_t size_bytes(Size size);
inline constexpr Size all_sizes[] = {Size::b, Size::h, Size::w, Size::dw};

Insn make_insn(std::uint8_t opcode, int dst, int src, std::int16_t offset, std::int32_t imm);

Insn mov64_imm(int dst, std::int32_t imm);
Insn mov64_reg(int dst, int src);
Insn add64_imm(int dst, std::int32_t imm);
Insn add64_reg(int dst, int src);
Insn sub64_imm(int dst, std::int32_t imm);
Insn exit_insn();
Insn ja(std::int16_t offset);
Insn jeq_imm(int dst, std::int32_t imm, std::int16_t offset);
Insn jne_imm(int dst, std::int32_t imm, std::int16_t offset);
Insn ldx(Size size, int dst, int src, std::int16_t offset);
Insn stx(Size size, int dst, int src, std::int16_t offset);
Insn st(Size size, int dst, std::int16_t offset, std::int32_t imm);
// Atomic add (no fetch) of a w or dw: `lock add [dst+off], src`.
Insn atomic_add(Size size, int dst, int src, std::int16_t offset);
// LD_ABS / LD_IND of b, h or w.
Insn ld_abs(Size size, std::int32_t imm);
Insn ld_ind(Size size, int src, std::int32_t imm);
Insn call_helper(std::int32_t id);
Insn call_local(std::int32_t relative);
Insn callx(int dst);
// lddw: two slots, appended to `out`.
void lddw(std::vector<Insn>& out, int dst, std::uint64_t imm);

// ---- Helpers ----

// The registry the conformance suite's programs expect: helper 5 "unwind" returns its first
// argument and ends the program when that is zero.
HelperRegistry suite_helpers();

// ---- Hex ----

// "aa bb 0c": whitespace-separated hex byte pairs. nullopt on anything else.
std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view text);
// 0x-prefixed hex or decimal, as programs.tsv and `-- result` write it.
std::optional<std::uint64_t> parse_number(std::string_view text);

// ---- Errors ----

std::string_view kind_name(Error::Kind kind);
// "<kind>: <to_string()>", what `-- error` lines are matched against (tests/cases/README.md).
std::string describe(const Error& error);

// ---- Running ----

// Loads with the conformance helpers and runs over `memory` as a raw program.
struct RawRun {
  MemoryMode mode = MemoryMode::checked;
  std::optional<std::uint64_t> budget = std::nullopt;
};
Result<std::uint64_t> load_and_run(std::span<const Insn> insns, std::vector<std::uint8_t> memory,
                                   const RawRun& run = {});

// Hex text of a value, "0x..".
std::string hex(std::uint64_t value);
// The text without leading and trailing whitespace.
std::string trim(std::string_view text);

// What happened to a data file: the first failing stage, or the result.
//
// The data-file functions are inline so that binaries which never call them (the corpus
// test over programs.tsv) do not link against the data-file parser and the assembler.
struct CaseOutcome {
  enum class Stage { parse, assemble, load, run, done } stage = Stage::parse;
  std::optional<Error> error;
  std::uint64_t result = 0;
};

inline std::string_view stage_name(CaseOutcome::Stage stage) {
  switch (stage) {
    case CaseOutcome::Stage::parse: return "parsing the data file";
    case CaseOutcome::Stage::assemble: return "assembling";
    case CaseOutcome::Stage::load: return "loading";
    case CaseOutcome::Stage::run: return "running";
    case CaseOutcome::Stage::done: return "done";
  }
  return "?";
}

inline CaseOutcome run_data_file(std::string_view text, const RawRun& run = {}) {
  CaseOutcome outcome;
  auto file = parse_data_file(text);
  if (!file) {
    outcome.error = file.error();
    return outcome;
  }
  outcome.stage = CaseOutcome::Stage::assemble;
  auto insns = file->program();
  if (!insns) {
    outcome.error = insns.error();
    return outcome;
  }
  outcome.stage = CaseOutcome::Stage::load;
  HelperRegistry helpers = suite_helpers();
  auto program = Program::load(*insns, LoadOptions{.helpers = &helpers});
  if (!program) {
    outcome.error = program.error();
    return outcome;
  }
  outcome.stage = CaseOutcome::Stage::run;
  std::vector<std::uint8_t> memory = file->memory;
  RunOptions options;
  options.memory_mode = run.mode;
  options.budget = run.budget;
  auto result = interpret(*program, RunInput::raw(memory), options);
  if (!result) {
    outcome.error = result.error();
    return outcome;
  }
  outcome.stage = CaseOutcome::Stage::done;
  outcome.result = *result;
  return outcome;
}

// Checks a data file's outcome against its `-- result` / `-- error` (tests/cases/README.md):
// empty when it matches, otherwise what went wrong.
inline std::string check_data_file(std::string_view text, const RawRun& run = {}) {
  auto file = parse_data_file(text);
  if (!file) return "the data file does not parse: " + describe(file.error());
  if (file->error && file->result) return "the data file has both `-- result` and `-- error`";
  CaseOutcome outcome = run_data_file(text, run);
  if (file->error) {
    std::string expected = trim(*file->error);
    if (!outcome.error)
      return "expected an error containing '" + expected + "' but the program returned " +
             hex(outcome.result);
    std::string actual = describe(*outcome.error);
    if (actual.find(expected) == std::string::npos)
      return "expected an error containing '" + expected + "' but " +
             std::string(stage_name(outcome.stage)) + " failed with '" + actual + "'";
    return "";
  }
  if (!file->result) return "the data file has neither `-- result` nor `-- error`";
  if (outcome.error)
    return "expected " + hex(*file->result) + " but " + std::string(stage_name(outcome.stage)) +
           " failed: " + describe(*outcome.error);
  if (outcome.result != *file->result)
    return "expected " + hex(*file->result) + " but the program returned " + hex(outcome.result);
  return "";
}

// The text of a file, or nullopt.
std::optional<std::string> read_text(const std::filesystem::path& path);

// Sorted `*.data` file stems of a folder (empty when it is absent).
std::vector<std::string> data_file_names(const std::filesystem::path& dir);

}  // namespace bpfvm::testing
