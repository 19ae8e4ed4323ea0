// bpfvm jit --dump: each instruction's disassembly followed by its machine code, as asmjit's
// formatter prints it (with the bytes), then the out-of-line paths.
#include <bpfvm/disassembler.hpp>
#include <bpfvm/jit.hpp>

#include "jit/compiler.hpp"

#include <fmt/format.h>

namespace bpfvm {
namespace {

// Whether `line` is the label of an instruction ("L12:" with 12 < count): the dump's
// headers already say where each instruction begins.
bool is_instruction_label(std::string_view line, std::size_t count) {
  if (line.size() < 3 || line.front() != 'L' || line.back() != ':') return false;
  std::size_t value = 0;
  for (char c : line.substr(1, line.size() - 2)) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  return value < count;
}

// The lines of `text`, each indented, without instruction labels.
void append_indented(std::string& out, std::string_view text, std::string_view indent,
                     std::size_t count) {
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    if (!line.empty() && !is_instruction_label(line, count)) {
      out += indent;
      out += line;
      out += '\n';
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

}  // namespace

Result<std::string> jit_dump(const Program& program, const JitOptions& options) {
  jit::EmitOptions emit;
  emit.checked = options.memory_mode == MemoryMode::checked;
  emit.count_instructions = options.count_instructions || options.budget_guard.has_value();
  emit.blind_constants = options.blind_constants;
  std::string log;
  auto compiled = jit::compile_code(program.code(), emit, &log);
  if (!compiled) return compiled.error();
  const jit::EmitLayout& layout = compiled->layout;

  std::string out =
      fmt::format("; {} mode{}{}; {} bytes of machine code; label Ln is instruction n\n",
                  emit.checked ? "checked" : "unchecked",
                  emit.count_instructions ? ", counting instructions" : "",
                  emit.blind_constants ? ", constants blinded" : "", compiled->memory.size());
  std::string_view text = log;
  out += "prologue:\n";
  const std::size_t count = layout.insn_begin.size();
  append_indented(
      out, text.substr(0, layout.log_begin.empty() ? layout.log_body_end : layout.log_begin[0]),
      "      ", count);
  for (std::size_t i = 0; i < count; ++i) {
    if (layout.insn_begin[i] == jit::EmitLayout::none) continue;
    std::size_t end = layout.log_body_end;
    for (std::size_t j = i + 1; j < count; ++j) {
      if (layout.insn_begin[j] != jit::EmitLayout::none) {
        end = layout.log_begin[j];
        break;
      }
    }
    out += fmt::format("{:>4}: {}\n", i, disassemble_insn(program.insns(), i, Syntax::conformance));
    append_indented(out, text.substr(layout.log_begin[i], end - layout.log_begin[i]), "      ",
                    count);
  }
  out += "out-of-line paths:\n";
  append_indented(out, text.substr(layout.log_body_end), "      ", count);
  return out;
}

}  // namespace bpfvm
