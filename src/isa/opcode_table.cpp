#include "isa/opcode_table.hpp"

#include <array>
#include <vector>

namespace bpfvm {
namespace {

// Rows per opcode byte, built once from the table.
struct OpcodeIndex {
  std::array<std::vector<const OpcodeInfo*>, 256> rows;
  OpcodeIndex() {
    for (const OpcodeInfo& row : opcode_rows) rows[row.opcode].push_back(&row);
  }
};

const OpcodeIndex& opcode_index() {
  static const OpcodeIndex index;
  return index;
}

static_assert(op_count < 256, "Op must fit the interpreter's byte-wide dispatch");

}  // namespace

std::span<const OpcodeInfo* const> rows_for_opcode(std::uint8_t opcode) {
  return opcode_index().rows[opcode];
}

const OpcodeInfo* find_row(std::uint8_t opcode, std::int16_t offset, std::int32_t imm,
                           std::uint8_t src) {
  for (const OpcodeInfo* row : rows_for_opcode(opcode)) {
    switch (row->variant) {
      case Variant::None: return row;
      case Variant::Off: if (offset == row->variant_value) return row; break;
      case Variant::Imm: if (imm == row->variant_value) return row; break;
      case Variant::Src: if (src == row->variant_value) return row; break;
    }
  }
  return nullptr;
}

std::string_view group_name(Group group) {
  switch (group) {
    case Group::base32: return "base32";
    case Group::base64: return "base64";
    case Group::atomic32: return "atomic32";
    case Group::atomic64: return "atomic64";
    case Group::divmul32: return "divmul32";
    case Group::divmul64: return "divmul64";
    case Group::packet: return "packet";
    case Group::callx: return "callx";
  }
  return "?";
}

std::string_view shape_name(Shape shape) {
  switch (shape) {
    case Shape::AluImm: return "AluImm";
    case Shape::AluReg: return "AluReg";
    case Shape::AluUnary: return "AluUnary";
    case Shape::Endian: return "Endian";
    case Shape::MovSx: return "MovSx";
    case Shape::Lddw: return "Lddw";
    case Shape::Load: return "Load";
    case Shape::StoreImm: return "StoreImm";
    case Shape::StoreReg: return "StoreReg";
    case Shape::Atomic: return "Atomic";
    case Shape::LdAbs: return "LdAbs";
    case Shape::LdInd: return "LdInd";
    case Shape::Ja: return "Ja";
    case Shape::Ja32: return "Ja32";
    case Shape::JmpImm: return "JmpImm";
    case Shape::JmpReg: return "JmpReg";
    case Shape::CallHelper: return "CallHelper";
    case Shape::CallLocal: return "CallLocal";
    case Shape::CallBtf: return "CallBtf";
    case Shape::Callx: return "Callx";
    case Shape::Exit: return "Exit";
  }
  return "?";
}

bool is_jump(Shape shape) {
  return shape == Shape::Ja || shape == Shape::Ja32 || shape == Shape::JmpImm ||
         shape == Shape::JmpReg;
}

bool ends_flow(Shape shape) {
  return shape == Shape::Ja || shape == Shape::Ja32 || shape == Shape::Exit;
}

int access_size(const OpcodeInfo& row) {
  switch (row.shape) {
    case Shape::Load: case Shape::StoreImm: case Shape::StoreReg: case Shape::Atomic:
    case Shape::LdAbs: case Shape::LdInd:
      break;
    default:
      return 0;
  }
  // The size bits of the opcode (RFC 9669 section 5.1): W=0x00, H=0x08, B=0x10, DW=0x18.
  switch (row.opcode & 0x18) {
    case 0x00: return 4;
    case 0x08: return 2;
    case 0x10: return 1;
    default: return 8;
  }
}

}  // namespace bpfvm
