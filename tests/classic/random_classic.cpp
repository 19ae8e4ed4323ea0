#include "classic/random_classic.hpp"

#include <algorithm>

#include "classic/opcode_table.hpp"

namespace bpfvm::classic::test {
namespace {

// Offsets for packet loads: mostly around the packet sizes random_packet() makes, sometimes
// far away, sometimes in Linux's ancillary range.
std::uint32_t load_offset(Random& random) {
  switch (random.below(20)) {
    case 0: return 0xffffffffu - random.below(8);
    case 1: return ancillary_base + 4 * random.below(17);
    case 2: return 0x7fffffffu - random.below(4);
    case 3: return edgy_value(random);
    case 4:
    case 5: return random.below(100);
    default: return random.below(56);
  }
}

std::uint32_t operand(Random& random, Op op) {
  switch (op) {
    case Op::LD_W_ABS:
    case Op::LD_H_ABS:
    case Op::LD_B_ABS:
    case Op::LDX_B_MSH:
    case Op::LD_W_IND:
    case Op::LD_H_IND:
    case Op::LD_B_IND: return load_offset(random);
    case Op::LD_MEM:
    case Op::LDX_MEM:
    case Op::ST:
    case Op::STX: return random.below(16);
    case Op::DIV_K:
    case Op::MOD_K: {
      std::uint32_t k = edgy_value(random);
      return k == 0 ? 1 + random.below(9) : k;
    }
    case Op::LSH_K:
    case Op::RSH_K: return random.chance(70) ? random.below(32) : random.below(80);
    case Op::LDX_IMM:
      // X feeds IND offsets, divisions and shifts: small, zero and huge values matter most.
      switch (random.below(5)) {
        case 0: return 0;
        case 1:
        case 2: return random.below(40);
        case 3: return 0xffffffffu - random.below(8);
        default: return random.chance(50) ? random.below(16) : edgy_value(random);
      }
    default: return edgy_value(random);
  }
}

}  // namespace

std::uint32_t edgy_value(Random& random) {
  static constexpr std::uint32_t edges[] = {
      0,      1,       2,          31,         32,         33,         0xff,  0x100,
      0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x800, 0x86dd};
  switch (random.below(4)) {
    case 0: return edges[random.below(std::size(edges))];
    case 1: return random.below(256);
    case 2: return static_cast<std::uint32_t>(random.next());
    default: return random.below(70000);
  }
}

std::vector<Insn> random_program(Random& random, std::size_t max_length) {
  std::size_t length = 1 + random.below(static_cast<std::uint32_t>(max_length));
  std::vector<Insn> insns(length);
  for (std::size_t i = 0; i + 1 < length; ++i) {
    const OpInfo& row = op_rows[random.below(op_count)];
    Insn& insn = insns[i];
    insn.code = row.code;
    insn.k = operand(random, row.op);
    std::uint32_t room = static_cast<std::uint32_t>(length - i - 1);  // instructions after i
    if (row.op == Op::JA) {
      insn.k = random.below(room);
    } else if (is_conditional_jump(row.operand)) {
      std::uint32_t span = std::min<std::uint32_t>(room, 256);
      insn.jt = static_cast<std::uint8_t>(random.below(span));
      insn.jf = static_cast<std::uint8_t>(random.below(span));
    } else if (row.op == Op::RET_K || row.op == Op::RET_A) {
      if (random.chance(50)) --i;  // keep early returns rare
    } else if (random.chance(10)) {
      // Fields an instruction does not use are ignored by everyone.
      insn.jt = static_cast<std::uint8_t>(random.next());
      insn.jf = static_cast<std::uint8_t>(random.next());
    }
  }
  Insn& last = insns.back();
  last.code = random.chance(50) ? info(Op::RET_A).code : info(Op::RET_K).code;
  last.k = random.chance(80) ? 1 + random.below(0xffff) : edgy_value(random);
  read_only_written_scratch(insns);
  return insns;
}

void read_only_written_scratch(std::vector<Insn>& insns) {
  // written[i]: the scratch words every path to instruction i has stored (forward jumps only,
  // so one pass in index order sees every predecessor first).
  constexpr std::uint32_t all = 0xffff;
  std::vector<std::uint32_t> written(insns.size(), all);
  written[0] = 0;
  for (std::size_t i = 0; i < insns.size(); ++i) {
    Insn& insn = insns[i];
    const OpInfo* row = find_op(insn.code);
    std::uint32_t here = written[i];
    if (row->op == Op::LD_MEM || row->op == Op::LDX_MEM) {
      if ((here & (1u << insn.k)) == 0) {
        // Read a word that is written on every path, or turn the load into an immediate one.
        std::uint32_t k = 0;
        while (k < 16 && (here & (1u << k)) == 0) ++k;
        if (k < 16) {
          insn.k = k;
        } else {
          insn.code = row->op == Op::LD_MEM ? info(Op::LD_IMM).code : info(Op::LDX_IMM).code;
        }
      }
    }
    std::uint32_t out = here;
    if (row->op == Op::ST || row->op == Op::STX) out |= 1u << insn.k;
    auto flow = [&](std::size_t target) { written[target] &= out; };
    if (row->op == Op::RET_A || row->op == Op::RET_K) continue;
    if (row->op == Op::JA) {
      flow(i + 1 + insn.k);
    } else if (is_conditional_jump(row->operand)) {
      flow(i + 1 + insn.jt);
      flow(i + 1 + insn.jf);
    } else {
      flow(i + 1);
    }
  }
}

RandomPacket random_packet(Random& random) {
  RandomPacket packet;
  std::size_t size = random.chance(5)    ? 0
                     : random.chance(70) ? 56 + random.below(41)
                                         : random.below(97);
  packet.bytes.resize(size);
  for (auto& byte : packet.bytes) byte = static_cast<std::uint8_t>(random.next());
  switch (random.below(6)) {
    case 0: packet.wire_length = static_cast<std::uint32_t>(size) + random.below(2000); break;
    case 1: packet.wire_length = random.below(static_cast<std::uint32_t>(size) + 1); break;
    case 2: packet.wire_length = edgy_value(random); break;
    default: packet.wire_length = static_cast<std::uint32_t>(size); break;
  }
  return packet;
}

void prepend_dispatch(Random& random, std::vector<Insn>& insns) {
  const std::uint16_t loads[] = {0x28, 0x30, 0x20};        // ldh, ldb, ld [k]
  const std::uint16_t tests[] = {0x15, 0x25, 0x35, 0x45};  // jeq, jgt, jge, jset #k
  const std::size_t tests_count = 1 + random.below(2);
  std::vector<Insn> head;
  head.push_back(Insn{loads[random.below(3)], 0, 0, random.below(16)});
  for (std::size_t t = 0; t < tests_count; ++t) {
    // Offsets from the test: into the rest of the head or the program, forwards.
    const std::uint32_t room = static_cast<std::uint32_t>(tests_count - 1 - t + insns.size() - 1);
    const std::uint32_t limit = std::min<std::uint32_t>(room, 255) + 1;
    head.push_back(
        Insn{tests[random.below(4)], static_cast<std::uint8_t>(random.below(limit)),
             static_cast<std::uint8_t>(random.below(limit)),
             random.chance(50) ? random.below(256) : static_cast<std::uint32_t>(random.next())});
  }
  insns.insert(insns.begin(), head.begin(), head.end());
}

void funnel_returns(Random& random, std::vector<Insn>& insns) {
  const std::size_t last = insns.size() - 1;
  insns[last] = Insn{0x06, 0, 0, 1 + random.below(0xffff)};  // ret #k
  for (std::size_t i = 0; i < last; ++i) {
    const bool ret_k = insns[i].code == 0x06, ret_a = insns[i].code == 0x16;
    if ((ret_k && insns[i].k != 0) || ret_a)
      insns[i] = Insn{0x05, 0, 0, static_cast<std::uint32_t>(last - i - 1)};  // ja last
  }
}

std::vector<Insn> frame_heavy_program(std::uint32_t load) {
  std::vector<Insn> stores{{0x30, 0, 0, load}};  // ldb [load]
  constexpr std::uint8_t jumps = 200;
  for (std::uint8_t j = 0; j < jumps; ++j)  // jeq #j jt (the loads) jf next
    stores.push_back({0x15, static_cast<std::uint8_t>(jumps - 1 - j + 16), 0, j});
  for (std::uint32_t m = 0; m < 16; ++m) stores.push_back({0x02, 0, 0, m});  // st M[m]
  for (std::uint32_t m = 0; m < 16; ++m) {
    stores.push_back({0x60, 0, 0, m});  // ld M[m]
    stores.push_back({0x07, 0, 0, 0});  // tax
  }
  stores.push_back({0x16, 0, 0, 0});  // ret a
  return stores;
}

}  // namespace bpfvm::classic::test
