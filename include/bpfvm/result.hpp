// Errors as values: every load, parse, verify and run failure returns through Result<T>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace bpfvm {

// What went wrong, and where, in one line.
struct Error {
  enum class Kind {
    invalid_program,   // decoding or field checks failed at load
    parse,             // text input (assembly, data file, hex) is malformed
    io,                // a file could not be read or written
    out_of_bounds,     // checked mode: a load, store or atomic outside every region
    budget_exhausted,  // the instruction budget ran out
    call_depth,        // more than the allowed number of nested local calls
    helper,            // a helper failed or an unknown helper was called at run time
    usage,             // bad arguments to an API or command
  };

  Kind kind = Kind::invalid_program;
  std::string message;
  std::optional<std::size_t> insn_index;  // instruction index, when the error has one
  std::optional<std::size_t> line;        // 1-based source line, for text input
  std::optional<std::size_t> column;      // 1-based source column, for text input

  // "instruction 3: ...", "line 2, column 5: ...", or just the message.
  std::string to_string() const;
};

Error make_error(Error::Kind kind, std::string message);
Error insn_error(Error::Kind kind, std::size_t insn_index, std::string message);

// A value or the error that prevented it. `E` is Error everywhere in the library; tests that
// wrap other APIs (the kernel's bpf(2)) reuse the type with an error of their own.
template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(E error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, E> state_;
};

// For operations that return nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

}  // namespace bpfvm
