#include "cli/program_input.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/data_file.hpp>
#include <bpfvm/program.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace bpfvm::cli {
namespace {

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Error io_error(const std::string& path, std::string_view what) {
  return make_error(Error::Kind::io,
                    fmt::format("{}: cannot {}: {}", path, what, std::strerror(errno)));
}

}  // namespace

Result<ProgramFormat> format_of(const std::string& path) {
  if (ends_with(path, ".bin")) return ProgramFormat::bytecode;
  if (ends_with(path, ".s") || ends_with(path, ".asm")) return ProgramFormat::assembly;
  if (ends_with(path, ".data")) return ProgramFormat::data_file;
  return make_error(Error::Kind::usage,
                    fmt::format("{}: cannot tell the program's format from its name; use .bin "
                                "(raw bytecode), .s or .asm (assembly) or .data (conformance "
                                "test file)",
                                path));
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path, "open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return io_error(path, "read");
  return text;
}

Result<std::vector<std::uint8_t>> read_binary_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return text.error();
  return std::vector<std::uint8_t>(text->begin(), text->end());
}

Status write_binary_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return io_error(path, "create");
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return io_error(path, "write");
  return Ok{};
}

Result<ProgramInput> read_program(const std::string& path) {
  auto format = format_of(path);
  if (!format) return format.error();
  ProgramInput input;
  switch (*format) {
    case ProgramFormat::bytecode: {
      auto bytes = read_binary_file(path);
      if (!bytes) return bytes.error();
      auto insns = insns_from_bytes(*bytes);
      if (!insns) return insns.error();
      input.insns = std::move(*insns);
      return input;
    }
    case ProgramFormat::assembly: {
      auto text = read_text_file(path);
      if (!text) return text.error();
      auto insns = assemble(*text);
      if (!insns) return insns.error();
      input.insns = std::move(*insns);
      return input;
    }
    case ProgramFormat::data_file: {
      auto text = read_text_file(path);
      if (!text) return text.error();
      auto data = parse_data_file(*text);
      if (!data) return data.error();
      auto insns = data->program();
      if (!insns) return insns.error();
      input.insns = std::move(*insns);
      input.memory = data->memory;
      input.expected_result = data->result;
      return input;
    }
  }
  return make_error(Error::Kind::usage, "unreachable program format");
}

std::string describe_error(const std::string& path, const Error& error) {
  std::string text = error.to_string();
  if (error.kind == Error::Kind::io || error.kind == Error::Kind::usage || path.empty() ||
      text.rfind(path, 0) == 0)
    return text;
  return fmt::format("{}: {}", path, text);
}

}  // namespace bpfvm::cli
