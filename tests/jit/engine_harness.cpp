#include "jit/engine_harness.hpp"

#include <bpfvm/insn.hpp>

#include <fmt/format.h>

#include <regex>

namespace bpfvm::jit_test {
namespace {

[[gnu::noinline]] Result<std::uint64_t> run_once(Engine engine, const Program& program,
                                                 const JitProgram* jit, const RunInput& input,
                                                 const RunOptions& options) {
  if (engine == Engine::interpreter) return interpret(program, input, options);
  return jit->run(input, options);
}

// r10 at entry, through the same call path and options as the runs it normalizes.
std::uint64_t stack_top(Engine engine, const RunOptions& options) {
  Insn mov_r0_r10{.opcode = 0xbf, .dst = 0, .src = 10};
  Insn exit{.opcode = 0x95};
  Insn insns[] = {mov_r0_r10, exit};
  auto probe = Program::load(insns);
  RunOptions probe_options = options;
  if (probe_options.budget) probe_options.budget = 10;
  std::optional<JitProgram> jit;
  if (engine == Engine::jit) {
    auto compiled = JitProgram::compile(*probe, {});
    jit.emplace(*compiled);
  }
  auto top = run_once(engine, *probe, jit ? &*jit : nullptr, RunInput{}, probe_options);
  return top ? *top : 0;
}

std::string normalize(std::string message, std::uint64_t top) {
  static const std::regex address("address 0x([0-9a-f]+)");
  std::string out;
  std::smatch match;
  auto begin = message.cbegin();
  while (std::regex_search(begin, message.cend(), match, address)) {
    out.append(begin, match[0].first);
    std::uint64_t value = std::stoull(match[1].str(), nullptr, 16);
    auto delta = static_cast<std::int64_t>(value - top);
    if (delta > -65536 && delta < 65536)
      out += fmt::format("address <stack{:+}>", delta);
    else
      out += match[0].str();
    begin = match[0].second;
  }
  out.append(begin, message.cend());
  return out;
}

}  // namespace

const char* engine_name(Engine engine) {
  return engine == Engine::interpreter ? "interpreter" : "jit";
}

std::string hex(std::uint64_t value) { return fmt::format("0x{:x}", value); }

Outcome run_engine(Engine engine, const Program& program, const JitProgram* jit,
                   const RunInput& input, const RunOptions& options) {
  Outcome outcome;
  auto result = run_once(engine, program, jit, input, options);
  if (result) {
    outcome.result = *result;
    return outcome;
  }
  outcome.error = result.error();
  outcome.normalized_message = normalize(result.error().to_string(), stack_top(engine, options));
  return outcome;
}

std::string describe(const Outcome& outcome) {
  if (outcome.result) return "r0 = " + hex(*outcome.result);
  return fmt::format("error kind {} '{}'", static_cast<int>(outcome.error->kind),
                     outcome.normalized_message);
}

std::string compare_outcomes(const Outcome& interpreter, const Outcome& jit) {
  bool same =
      interpreter.result == jit.result && interpreter.error.has_value() == jit.error.has_value();
  if (same && interpreter.error) {
    same = interpreter.error->kind == jit.error->kind &&
           interpreter.error->insn_index == jit.error->insn_index &&
           interpreter.normalized_message == jit.normalized_message;
  }
  if (same) return "";
  return "interpreter: " + describe(interpreter) + "; jit: " + describe(jit);
}

RawComparison compare_raw(const Program& program, const JitProgram& jit,
                          std::span<const std::uint8_t> memory, const RunOptions& options) {
  RawComparison out;
  std::vector<std::uint8_t> buffer(memory.begin(), memory.end());
  out.interpreter =
      run_engine(Engine::interpreter, program, nullptr, RunInput::raw(buffer), options);
  out.interpreter_memory = buffer;
  buffer.assign(memory.begin(), memory.end());
  out.jit = run_engine(Engine::jit, program, &jit, RunInput::raw(buffer), options);
  out.jit_memory = buffer;
  out.difference = compare_outcomes(out.interpreter, out.jit);
  if (out.difference.empty() && out.interpreter_memory != out.jit_memory) {
    for (std::size_t i = 0; i < buffer.size(); ++i) {
      if (out.interpreter_memory[i] != out.jit_memory[i]) {
        out.difference =
            fmt::format("memory differs first at byte {}: interpreter {:02x}, jit {:02x}", i,
                        out.interpreter_memory[i], out.jit_memory[i]);
        break;
      }
    }
  }
  return out;
}

}  // namespace bpfvm::jit_test
