#include "support/case_runner.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace bpfvm::testing {

std::size_t size_bytes(Size size) {
  switch (size) {
    case Size::b: return 1;
    case Size::h: return 2;
    case Size::w: return 4;
    case Size::dw: return 8;
  }
  return 0;
}

Insn make_insn(std::uint8_t opcode, int dst, int src, std::int16_t offset, std::int32_t imm) {
  Insn insn;
  insn.opcode = opcode;
  insn.dst = static_cast<std::uint8_t>(dst & 0x0f);
  insn.src = static_cast<std::uint8_t>(src & 0x0f);
  insn.offset = offset;
  insn.imm = imm;
  return insn;
}

namespace {
std::uint8_t bits(Size size) { return static_cast<std::uint8_t>(size); }
}  // namespace

Insn mov64_imm(int dst, std::int32_t imm) { return make_insn(0xb7, dst, 0, 0, imm); }
Insn mov64_reg(int dst, int src) { return make_insn(0xbf, dst, src, 0, 0); }
Insn add64_imm(int dst, std::int32_t imm) { return make_insn(0x07, dst, 0, 0, imm); }
Insn add64_reg(int dst, int src) { return make_insn(0x0f, dst, src, 0, 0); }
Insn sub64_imm(int dst, std::int32_t imm) { return make_insn(0x17, dst, 0, 0, imm); }
Insn exit_insn() { return make_insn(0x95, 0, 0, 0, 0); }
Insn ja(std::int16_t offset) { return make_insn(0x05, 0, 0, offset, 0); }
Insn jeq_imm(int dst, std::int32_t imm, std::int16_t offset) {
  return make_insn(0x15, dst, 0, offset, imm);
}
Insn jne_imm(int dst, std::int32_t imm, std::int16_t offset) {
  return make_insn(0x55, dst, 0, offset, imm);
}
Insn ldx(Size size, int dst, int src, std::int16_t offset) {
  return make_insn(static_cast<std::uint8_t>(0x61 | bits(size)), dst, src, offset, 0);
}
Insn stx(Size size, int dst, int src, std::int16_t offset) {
  return make_insn(static_cast<std::uint8_t>(0x63 | bits(size)), dst, src, offset, 0);
}
Insn st(Size size, int dst, std::int16_t offset, std::int32_t imm) {
  return make_insn(static_cast<std::uint8_t>(0x62 | bits(size)), dst, 0, offset, imm);
}
Insn atomic_add(Size size, int dst, int src, std::int16_t offset) {
  return make_insn(static_cast<std::uint8_t>(0xc3 | bits(size)), dst, src, offset, 0x00);
}
Insn ld_abs(Size size, std::int32_t imm) {
  return make_insn(static_cast<std::uint8_t>(0x20 | bits(size)), 0, 0, 0, imm);
}
Insn ld_ind(Size size, int src, std::int32_t imm) {
  return make_insn(static_cast<std::uint8_t>(0x40 | bits(size)), 0, src, 0, imm);
}
Insn call_helper(std::int32_t id) { return make_insn(0x85, 0, 0, 0, id); }
Insn call_local(std::int32_t relative) { return make_insn(0x85, 0, 1, 0, relative); }
Insn callx(int dst) { return make_insn(0x8d, dst, 0, 0, 0); }

void lddw(std::vector<Insn>& out, int dst, std::uint64_t imm) {
  out.push_back(make_insn(0x18, dst, 0, 0, static_cast<std::int32_t>(static_cast<std::uint32_t>(imm))));
  out.push_back(make_insn(0x00, 0, 0, 0, static_cast<std::int32_t>(static_cast<std::uint32_t>(imm >> 32))));
}

namespace {
// bpf_conformance's helper 5: `unwind` returns r1 and stops the program when it is zero.
std::uint64_t unwind(HelperCall& call, std::uint64_t r1, std::uint64_t, std::uint64_t,
                     std::uint64_t, std::uint64_t) {
  if (r1 == 0) call.end_program();
  return r1;
}
}  // namespace

HelperRegistry suite_helpers() {
  HelperRegistry registry;
  auto added = registry.add(Helper{.id = 5, .name = "unwind", .function = &unwind, .user = nullptr});
  (void)added;  // a fresh registry cannot hold id 5 already
  return registry;
}

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view text) {
  std::vector<std::uint8_t> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    if (i + 1 >= text.size()) return std::nullopt;
    int high = hex_digit(text[i]);
    int low = hex_digit(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    if (i + 2 < text.size() && !std::isspace(static_cast<unsigned char>(text[i + 2])))
      return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(high * 16 + low));
    i += 2;
  }
  return out;
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  std::uint64_t value = 0;
  for (char c : text) {
    int digit = hex_digit(c);
    if (digit < 0 || digit >= base) return std::nullopt;
    value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(digit);
  }
  return value;
}

std::string_view kind_name(Error::Kind kind) {
  switch (kind) {
    case Error::Kind::invalid_program: return "invalid_program";
    case Error::Kind::parse: return "parse";
    case Error::Kind::io: return "io";
    case Error::Kind::out_of_bounds: return "out_of_bounds";
    case Error::Kind::budget_exhausted: return "budget_exhausted";
    case Error::Kind::call_depth: return "call_depth";
    case Error::Kind::helper: return "helper";
    case Error::Kind::usage: return "usage";
  }
  return "unknown";
}

std::string describe(const Error& error) {
  return std::string(kind_name(error.kind)) + ": " + error.to_string();
}

Result<std::uint64_t> load_and_run(std::span<const Insn> insns, std::vector<std::uint8_t> memory,
                                   const RawRun& run) {
  HelperRegistry helpers = suite_helpers();
  auto program = Program::load(insns, LoadOptions{.helpers = &helpers});
  if (!program) return program.error();
  RunOptions options;
  options.memory_mode = run.mode;
  options.budget = run.budget;
  return interpret(*program, RunInput::raw(memory), options);
}

std::string hex(std::uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  return std::string(text);
}

std::optional<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> data_file_names(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return names;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".data") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace bpfvm::testing
