#include "jit/liveness.hpp"

#include <bpfvm/helper.hpp>

#include <algorithm>

namespace bpfvm::jit {
namespace {

using detail::CodeInsn;

constexpr std::uint16_t bit(int r) { return static_cast<std::uint16_t>(1u << r); }
constexpr std::uint16_t r0_to_r5 = 0x3f;
constexpr std::uint16_t r1_to_r5 = 0x3e;
constexpr std::uint16_t all_registers = (1u << register_count) - 1;

struct Effect {
  std::uint16_t use = 0;
  std::uint16_t def = 0;  // registers certainly written (killed)
};

bool is_mov(Op op) {
  return op == Op::MOV32_IMM || op == Op::MOV64_IMM || op == Op::MOV32_REG || op == Op::MOV64_REG;
}

Effect effect(const CodeInsn& insn, bool in_subprogram) {
  Effect e;
  switch (info(insn.op).shape) {
    case Shape::AluImm:
      if (!is_mov(insn.op)) e.use = bit(insn.dst);
      e.def = bit(insn.dst);
      break;
    case Shape::AluUnary:
    case Shape::Endian:
      e.use = bit(insn.dst);
      e.def = bit(insn.dst);
      break;
    case Shape::AluReg:
      e.use = static_cast<std::uint16_t>(bit(insn.src) | (is_mov(insn.op) ? 0 : bit(insn.dst)));
      e.def = bit(insn.dst);
      break;
    case Shape::MovSx:
      e.use = bit(insn.src);
      e.def = bit(insn.dst);
      break;
    case Shape::Lddw: e.def = bit(insn.dst); break;
    case Shape::Load:
      e.use = bit(insn.src);
      e.def = bit(insn.dst);
      break;
    case Shape::StoreImm: e.use = bit(insn.dst); break;
    case Shape::StoreReg: e.use = static_cast<std::uint16_t>(bit(insn.dst) | bit(insn.src)); break;
    case Shape::Atomic:  // fetch forms write src, cmpxchg reads and writes r0: may-writes
      e.use = static_cast<std::uint16_t>(bit(insn.dst) | bit(insn.src) | bit(0));
      break;
    case Shape::LdAbs:
    case Shape::LdInd:  // reads the context (r6) and src; may leave r1-r5 changed
      e.use = static_cast<std::uint16_t>(bit(6) | bit(insn.src) | r1_to_r5);
      e.def = bit(0);
      break;
    case Shape::Ja:
    case Shape::Ja32: break;
    case Shape::JmpImm: e.use = bit(insn.dst); break;
    case Shape::JmpReg: e.use = static_cast<std::uint16_t>(bit(insn.dst) | bit(insn.src)); break;
    case Shape::CallHelper:
      // bpf_map_lookup_elem (Linux's own: Helper::fast_path says so) reads its two
      // arguments; any other helper may read all five.
      e.use = insn.helper != nullptr && insn.helper->fast_path == HelperFastPath::map_lookup_elem
                  ? static_cast<std::uint16_t>(bit(1) | bit(2))
                  : r1_to_r5;
      e.def = bit(0);
      break;
    case Shape::CallBtf:
      e.use = r1_to_r5;
      e.def = bit(0);
      break;
    case Shape::Callx:
      e.use = static_cast<std::uint16_t>(r1_to_r5 | bit(insn.dst));
      e.def = bit(0);
      break;
    case Shape::CallLocal: e.use = r0_to_r5; break;
    case Shape::Exit: e.use = in_subprogram ? r0_to_r5 : bit(0); break;
  }
  e.use &= all_registers;
  e.def &= all_registers;
  return e;
}

}  // namespace

std::vector<std::uint16_t> live_after(const detail::Code& code) {
  const std::size_t count = code.slots.size();
  std::vector<std::uint16_t> out(count, 0);
  if (count == 0) return out;
  // The main program ends where the first subprogram or callback begins.
  std::size_t main_end = count;
  for (std::uint32_t entry : code.functions) main_end = std::min<std::size_t>(main_end, entry);
  for (std::size_t i = 0; i < count; ++i) {
    const CodeInsn& insn = code.slots[i];
    if (insn.op == Op::CALL_LOCAL) main_end = std::min<std::size_t>(main_end, insn.target);
    if (insn.op == Op::LDDW) ++i;
  }

  std::vector<Effect> effects(count);
  for (std::size_t i = 0; i < count; ++i) effects[i] = effect(code.slots[i], i >= main_end);

  std::vector<std::uint16_t> in(count, 0);
  auto live_in = [&](std::size_t slot) -> std::uint16_t { return slot < count ? in[slot] : 0; };
  // Backwards passes until nothing changes; loops need one pass per nesting level or so.
  constexpr int max_passes = 64;
  for (int pass = 0; pass < max_passes; ++pass) {
    bool changed = false;
    for (std::size_t k = count; k-- > 0;) {
      // lddw's second slot: never reached, nothing flows through it.
      if (k > 0 && code.slots[k - 1].op == Op::LDDW) continue;
      const CodeInsn& insn = code.slots[k];
      const Shape shape = info(insn.op).shape;
      std::uint16_t after = 0;
      if (shape == Shape::Ja || shape == Shape::Ja32) {
        after = live_in(insn.target);
      } else if (shape == Shape::JmpImm || shape == Shape::JmpReg) {
        after = static_cast<std::uint16_t>(live_in(insn.target) | live_in(k + 1));
      } else if (shape != Shape::Exit) {
        after = live_in(k + (insn.op == Op::LDDW ? 2 : 1));
      }
      const auto before = static_cast<std::uint16_t>(effects[k].use | (after & ~effects[k].def));
      if (after != out[k] || before != in[k]) changed = true;
      out[k] = after;
      in[k] = before;
    }
    if (!changed) return out;
  }
  std::fill(out.begin(), out.end(), all_registers);
  return out;
}

}  // namespace bpfvm::jit
