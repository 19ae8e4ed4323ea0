#include <bpfvm/program.hpp>

#include "isa/decoder.hpp"
#include "vm/code.hpp"

#include <fmt/format.h>

#include <cstring>

namespace bpfvm {
namespace {

// The immediate an engine needs, widened once here instead of on every execution.
std::int64_t widened_imm(const DecodedInsn& decoded) {
  const OpcodeInfo& row = *decoded.row;
  if (row.shape == Shape::Lddw) return static_cast<std::int64_t>(decoded.imm64);
  return decoded.insn.imm;  // sign-extended; 32-bit operations truncate it again
}

Result<Ok> resolve_call(std::size_t index, const DecodedInsn& decoded, const HelperRegistry& helpers,
                        detail::CodeInsn& out) {
  switch (decoded.row->shape) {
    case Shape::CallHelper: {
      auto id = static_cast<std::uint32_t>(decoded.insn.imm);
      out.helper = helpers.find(id);
      if (out.helper == nullptr)
        return insn_error(Error::Kind::invalid_program, index,
                          fmt::format("call {}: no helper with id {} is registered", id, id));
      return Ok{};
    }
    case Shape::CallBtf:
      return insn_error(Error::Kind::invalid_program, index,
                        fmt::format("call btf {}: calls to kernel functions by BTF id are not "
                                    "supported and must be resolved by the object loader",
                                    decoded.insn.imm));
    case Shape::Lddw:
      if (decoded.insn.src != lddw_src::imm64)
        return insn_error(Error::Kind::invalid_program, index,
                          fmt::format("lddw with pseudo source {} (a map or BTF reference) must "
                                      "be resolved by the object loader before it can run",
                                      decoded.insn.src));
      return Ok{};
    default:
      return Ok{};
  }
}

}  // namespace

Result<std::vector<Insn>> insns_from_bytes(std::span<const std::uint8_t> bytes) {
  if (bytes.size() % sizeof(Insn) != 0)
    return make_error(Error::Kind::invalid_program,
                      fmt::format("program is {} bytes, not a multiple of 8 (the last "
                                  "instruction is truncated)",
                                  bytes.size()));
  std::vector<Insn> insns(bytes.size() / sizeof(Insn));
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const std::uint8_t* p = bytes.data() + i * sizeof(Insn);
    Insn& insn = insns[i];
    insn.opcode = p[0];
    insn.dst = p[1] & 0x0f;
    insn.src = p[1] >> 4;
    insn.offset = static_cast<std::int16_t>(p[2] | (p[3] << 8));
    insn.imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(p[4]) | (p[5] << 8) |
                                         (p[6] << 16) | (static_cast<std::uint32_t>(p[7]) << 24));
  }
  return insns;
}

std::vector<std::uint8_t> bytes_from_insns(std::span<const Insn> insns) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(insns.size() * sizeof(Insn));
  for (const Insn& insn : insns) {
    auto offset = static_cast<std::uint16_t>(insn.offset);
    auto imm = static_cast<std::uint32_t>(insn.imm);
    bytes.push_back(insn.opcode);
    bytes.push_back(static_cast<std::uint8_t>(insn.dst | (insn.src << 4)));
    bytes.push_back(static_cast<std::uint8_t>(offset));
    bytes.push_back(static_cast<std::uint8_t>(offset >> 8));
    for (int shift = 0; shift < 32; shift += 8) bytes.push_back(static_cast<std::uint8_t>(imm >> shift));
  }
  return bytes;
}

Result<Program> Program::load(std::span<const Insn> insns, const LoadOptions& options) {
  auto decoded = decode(insns, DecodeOptions{.max_insns = options.max_insns});
  if (!decoded) return decoded.error();

  auto code = std::make_shared<detail::Code>();
  code->insns.assign(insns.begin(), insns.end());
  if (options.helpers != nullptr) code->helpers = *options.helpers;
  code->slots.resize(insns.size());
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const DecodedInsn& d = (*decoded)[i];
    if (d.row == nullptr) continue;  // lddw's second slot
    detail::CodeInsn& slot = code->slots[i];
    slot.op = d.row->op;
    slot.dst = d.insn.dst;
    slot.src = d.insn.src;
    slot.offset = d.insn.offset;
    slot.target = static_cast<std::uint32_t>(d.target);
    slot.imm = widened_imm(d);
    if (auto ok = resolve_call(i, d, code->helpers, slot); !ok) return ok.error();
  }
  return Program(std::move(code));
}

Result<Program> Program::load_bytes(std::span<const std::uint8_t> bytes, const LoadOptions& options) {
  auto insns = insns_from_bytes(bytes);
  if (!insns) return insns.error();
  return load(*insns, options);
}

std::span<const Insn> Program::insns() const { return code_->insns; }

}  // namespace bpfvm
