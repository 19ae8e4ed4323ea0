#include "isa/decoder.hpp"

#include <fmt/format.h>

#include <string>

namespace bpfvm {
namespace {

// Which fields a shape leaves unused: RFC 9669 requires them to be zero.
struct UnusedFields {
  bool dst, src, offset, imm;
};

UnusedFields unused_fields(Shape shape) {
  switch (shape) {
    case Shape::AluImm: return {false, true, false, false};  // offset is a variant or zero
    case Shape::AluReg: return {false, false, false, true};
    case Shape::AluUnary: return {false, true, true, true};
    case Shape::Endian: return {false, true, true, false};
    case Shape::MovSx: return {false, false, false, true};
    case Shape::Lddw: return {false, false, true, false};
    case Shape::Load: return {false, false, false, true};
    case Shape::StoreImm: return {false, true, false, false};
    case Shape::StoreReg: return {false, false, false, true};
    case Shape::Atomic: return {false, false, false, false};
    case Shape::LdAbs: return {true, true, true, false};
    case Shape::LdInd: return {true, false, true, false};
    case Shape::Ja: return {true, true, false, true};
    case Shape::Ja32: return {true, true, true, false};
    case Shape::JmpImm: return {false, true, false, false};
    case Shape::JmpReg: return {false, false, false, true};
    case Shape::CallHelper: return {true, false, true, false};
    case Shape::CallLocal: return {true, false, true, false};
    case Shape::CallBtf: return {true, false, false, false};
    case Shape::Callx: return {false, true, true, true};
    case Shape::Exit: return {true, true, true, true};
  }
  return {true, true, true, true};
}

// Shapes whose dst register is written: r10 is read-only, so it may not be their dst.
bool writes_dst(Shape shape) {
  switch (shape) {
    case Shape::AluImm: case Shape::AluReg: case Shape::AluUnary: case Shape::Endian:
    case Shape::MovSx: case Shape::Lddw: case Shape::Load:
      return true;
    default:
      return false;
  }
}

// r10 may be read only to form or hold an address: as a memory base, copied by mov, moved
// by add/sub, stored, or compared. Anything else (bitwise, multiply, shift, 32-bit ops)
// would turn the host's stack address into program data for no purpose.
bool may_read_frame_pointer(const OpcodeInfo& row) {
  switch (row.op) {
    case Op::MOV64_REG: case Op::ADD64_REG: case Op::SUB64_REG:
      return true;
    default:
      break;
  }
  switch (row.shape) {
    case Shape::Load: case Shape::StoreReg: case Shape::JmpReg:
      return true;
    default:
      return false;
  }
}

std::string describe(const Insn& insn) {
  return fmt::format("opcode 0x{:02x}", insn.opcode);
}

Error field_error(std::size_t index, const OpcodeInfo& row, std::string_view field,
                  std::int64_t value, std::string_view rule) {
  return insn_error(Error::Kind::invalid_program, index,
                    fmt::format("{} (opcode 0x{:02x}): field {} {} (is {})", row.mnemonic,
                                row.opcode, field, rule, value));
}

std::string variant_field_name(Variant variant) {
  switch (variant) {
    case Variant::Off: return "offset";
    case Variant::Imm: return "imm";
    case Variant::Src: return "src";
    case Variant::None: break;
  }
  return "?";
}

// The opcode byte exists but no row matches the variant field.
Error variant_error(std::size_t index, const Insn& insn) {
  auto rows = rows_for_opcode(insn.opcode);
  const OpcodeInfo& first = *rows.front();
  std::string allowed;
  for (const OpcodeInfo* row : rows) {
    if (!allowed.empty()) allowed += ", ";
    allowed += fmt::format("{} ({})", row->variant_value, row->mnemonic);
  }
  std::int64_t value = first.variant == Variant::Off   ? insn.offset
                       : first.variant == Variant::Imm ? insn.imm
                                                       : insn.src;
  return insn_error(Error::Kind::invalid_program, index,
                    fmt::format("{} (opcode 0x{:02x}): field {} must be one of {} (is {})",
                                first.mnemonic, insn.opcode, variant_field_name(first.variant),
                                allowed, value));
}

Result<Ok> check_fields(std::size_t index, const Insn& insn, const OpcodeInfo& row) {
  UnusedFields unused = unused_fields(row.shape);
  // A field that selects the variant is checked by find_row; offset doubles as a variant
  // for sdiv/smod/movsx, so it is "unused" only where it is not the variant.
  bool offset_unused = unused.offset || ((row.shape == Shape::AluImm || row.shape == Shape::AluReg) &&
                                         row.variant != Variant::Off);
  if (unused.dst && insn.dst != 0) return field_error(index, row, "dst", insn.dst, "must be zero");
  if (unused.src && insn.src != 0 && row.variant != Variant::Src)
    return field_error(index, row, "src", insn.src, "must be zero");
  if (offset_unused && insn.offset != 0)
    return field_error(index, row, "offset", insn.offset, "must be zero");
  if (unused.imm && insn.imm != 0 && row.variant != Variant::Imm)
    return field_error(index, row, "imm", insn.imm, "must be zero");

  if (insn.dst >= register_count)
    return field_error(index, row, "dst", insn.dst, "must name a register r0-r10");
  if (insn.src >= register_count && !unused.src && row.shape != Shape::Lddw)
    return field_error(index, row, "src", insn.src, "must name a register r0-r10");

  if (writes_dst(row.shape) && insn.dst == frame_pointer)
    return insn_error(Error::Kind::invalid_program, index,
                      fmt::format("{}: r10 is the read-only frame pointer and cannot be written",
                                  row.mnemonic));
  // Fetching atomics and xchg write the old value into src; cmpxchg writes r0 instead.
  if (row.shape == Shape::Atomic && insn.src == frame_pointer && (insn.imm & 0x01) != 0 &&
      row.op != Op::ATOMIC32_CMPXCHG && row.op != Op::ATOMIC64_CMPXCHG)
    return insn_error(Error::Kind::invalid_program, index,
                      fmt::format("lock {}: would write the old value into r10, the read-only "
                                  "frame pointer",
                                  row.mnemonic));
  bool reads_src_register = !unused.src && row.shape != Shape::Lddw &&
                            row.shape != Shape::CallHelper && row.shape != Shape::CallLocal &&
                            row.shape != Shape::CallBtf;
  if (reads_src_register && insn.src == frame_pointer && !may_read_frame_pointer(row))
    return insn_error(Error::Kind::invalid_program, index,
                      fmt::format("{}: r10, the frame pointer, may only be used as an address "
                                  "(memory base, mov, add, sub, store, compare)",
                                  row.mnemonic));
  if (row.shape == Shape::Callx && insn.dst == frame_pointer)
    return field_error(index, row, "dst", insn.dst, "must hold a helper id in r0-r9");
  if (row.shape == Shape::Lddw && insn.src > lddw_src::map_idx_value)
    return field_error(index, row, "src", insn.src, "must be a pseudo source 0-6");
  return Ok{};
}

}  // namespace

Result<std::vector<DecodedInsn>> decode(std::span<const Insn> insns, const DecodeOptions& options) {
  if (insns.empty())
    return make_error(Error::Kind::invalid_program, "program is empty");
  if (insns.size() > options.max_insns)
    return make_error(Error::Kind::invalid_program,
                      fmt::format("program has {} instructions; the limit is {}", insns.size(),
                                  options.max_insns));

  std::vector<DecodedInsn> out(insns.size());
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const Insn& insn = insns[i];
    DecodedInsn& decoded = out[i];
    decoded.insn = insn;
    if (rows_for_opcode(insn.opcode).empty())
      return insn_error(Error::Kind::invalid_program, i,
                        fmt::format("unknown {}", describe(insn)));
    const OpcodeInfo* row = find_row(insn.opcode, insn.offset, insn.imm, insn.src);
    if (row == nullptr) return variant_error(i, insn);
    decoded.row = row;
    if (auto ok = check_fields(i, insn, *row); !ok) return ok.error();

    if (row->shape == Shape::Lddw) {
      if (i + 1 >= insns.size())
        return insn_error(Error::Kind::invalid_program, i,
                          "lddw is incomplete: its second slot is missing");
      const Insn& next = insns[i + 1];
      if (next.opcode != 0 || next.dst != 0 || next.src != 0 || next.offset != 0)
        return insn_error(Error::Kind::invalid_program, i + 1,
                          "second slot of lddw must have opcode, dst, src and offset zero");
      decoded.imm64 = static_cast<std::uint32_t>(insn.imm) |
                      (static_cast<std::uint64_t>(static_cast<std::uint32_t>(next.imm)) << 32);
      out[i + 1].insn = next;  // row stays null: a continuation, never a target
      ++i;
    }
  }

  // Targets, once every slot is known (a jump may point forward into an lddw).
  for (std::size_t i = 0; i < out.size(); ++i) {
    const OpcodeInfo* row = out[i].row;
    if (row == nullptr) continue;
    bool local_call = row->shape == Shape::CallLocal;
    if (!is_jump(row->shape) && !local_call) continue;
    std::int64_t delta = (row->shape == Shape::Ja32 || local_call) ? out[i].insn.imm
                                                                   : out[i].insn.offset;
    std::int64_t target = static_cast<std::int64_t>(i) + 1 + delta;
    if (target < 0 || target >= static_cast<std::int64_t>(out.size()))
      return insn_error(Error::Kind::invalid_program, i,
                        fmt::format("{} target {:+} leads to instruction {}, outside the "
                                    "program (0 to {})",
                                    row->mnemonic, delta, target, out.size() - 1));
    if (out[static_cast<std::size_t>(target)].row == nullptr)
      return insn_error(Error::Kind::invalid_program, i,
                        fmt::format("{} target {:+} leads into the middle of lddw at {}",
                                    row->mnemonic, delta, target - 1));
    out[i].target = static_cast<std::size_t>(target);
  }

  // The last instruction must not fall through past the end.
  std::size_t last = out.size() - 1;
  if (out[last].row == nullptr) last -= 1;  // cannot happen: lddw completeness is checked
  if (!ends_flow(out[last].row->shape))
    return insn_error(Error::Kind::invalid_program, last,
                      fmt::format("{} is the last instruction and would fall off the end of "
                                  "the program (it must be exit or a jump)",
                                  out[last].row->mnemonic));
  return out;
}

}  // namespace bpfvm
