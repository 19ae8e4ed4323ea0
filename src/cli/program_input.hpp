// Reading the programs and memory the commands take: raw bytecode, assembly, conformance
// data files, hex strings.
#pragma once

#include <bpfvm/insn.hpp>
#include <bpfvm/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::cli {

struct ProgramInput {
  std::vector<Insn> insns;
  // Memory a conformance .data file carries in its `-- mem` section.
  std::optional<std::vector<std::uint8_t>> memory;
  // Expected r0 from a .data file's `-- result`, for information.
  std::optional<std::uint64_t> expected_result;
};

enum class ProgramFormat { bytecode, assembly, data_file };

// By extension: .bin/.o-less raw bytecode, .s/.asm assembly, .data conformance files.
Result<ProgramFormat> format_of(const std::string& path);

Result<ProgramInput> read_program(const std::string& path);

Result<std::string> read_text_file(const std::string& path);
Result<std::vector<std::uint8_t>> read_binary_file(const std::string& path);
Status write_binary_file(const std::string& path, const std::vector<std::uint8_t>& bytes);

// Prefixes an error with the file it came from: "prog.s: line 2, column 1: ...".
std::string describe_error(const std::string& path, const Error& error);

}  // namespace bpfvm::cli
