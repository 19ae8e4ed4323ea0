#include "classic/opcode_table.hpp"

#include <array>

namespace bpfvm::classic {
namespace {

// Rows by the low byte of the opcode; opcodes with high bits set match no row.
struct OpIndex {
  std::array<const OpInfo*, 256> rows{};
  constexpr OpIndex() {
    for (const OpInfo& row : op_rows) rows[row.code] = &row;
  }
};

constexpr OpIndex op_index;

static_assert(op_count == 49, "bpf_filter() executes 49 opcodes");

}  // namespace

const OpInfo* find_op(std::uint16_t code) {
  if (code > 0xff) return nullptr;
  return op_index.rows[code];
}

int load_size(Op op) {
  switch (op) {
    case Op::LD_W_ABS:
    case Op::LD_W_IND: return 4;
    case Op::LD_H_ABS:
    case Op::LD_H_IND: return 2;
    case Op::LD_B_ABS:
    case Op::LD_B_IND:
    case Op::LDX_B_MSH: return 1;
    default: return 0;
  }
}

}  // namespace bpfvm::classic
