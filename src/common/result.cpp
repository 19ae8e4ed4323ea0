#include <bpfvm/result.hpp>

#include <fmt/format.h>

namespace bpfvm {

std::string Error::to_string() const {
  if (insn_index) return fmt::format("instruction {}: {}", *insn_index, message);
  if (line && column) return fmt::format("line {}, column {}: {}", *line, *column, message);
  if (line) return fmt::format("line {}: {}", *line, message);
  return message;
}

Error make_error(Error::Kind kind, std::string message) {
  Error error;
  error.kind = kind;
  error.message = std::move(message);
  return error;
}

Error insn_error(Error::Kind kind, std::size_t insn_index, std::string message) {
  Error error = make_error(kind, std::move(message));
  error.insn_index = insn_index;
  return error;
}

}  // namespace bpfvm
