#include "support/random_program.hpp"

#include "isa/opcode_table.hpp"

#include <bpfvm/disassembler.hpp>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace bpfvm::test {

// ---------------------------------------------------------------------------------------
// Rng

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(std::uint64_t seed) {
  for (std::uint64_t& word : state_) word = splitmix64(seed);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

std::uint64_t Rng::below(std::uint64_t bound) {
  assert(bound > 0);
  // Rejection sampling: uniform, and the same on every platform.
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
  std::uint64_t x;
  do {
    x = next();
  } while (x >= limit);
  return x % bound;
}

std::int64_t Rng::between(std::int64_t low, std::int64_t high) {
  assert(low <= high);
  const std::uint64_t span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  if (span == std::numeric_limits<std::uint64_t>::max()) return static_cast<std::int64_t>(next());
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + below(span + 1));
}

// ---------------------------------------------------------------------------------------
// Instruction helpers

namespace {

constexpr int last_general_register = 9;              // r0-r9; r10 is only ever a memory base
constexpr std::int32_t fold_multiplier = 0x5bd1e995;  // odd, so r0 * K is a bijection

// The opcode's operation bits (RFC 9669 section 4): what an ALU row computes.
namespace alu_op {
constexpr std::uint8_t div = 0x30, lsh = 0x60, rsh = 0x70, mod = 0x90, arsh = 0xc0;
}

std::uint8_t operation(const OpcodeInfo& row) { return row.opcode & 0xf0; }
bool is_64bit_alu(const OpcodeInfo& row) { return insn_class(row.opcode) == cls::alu64; }
bool is_shift(const OpcodeInfo& row) {
  const std::uint8_t op = operation(row);
  return op == alu_op::lsh || op == alu_op::rsh || op == alu_op::arsh;
}
bool is_division(const OpcodeInfo& row) {
  const std::uint8_t op = operation(row);
  return op == alu_op::div || op == alu_op::mod;
}

// An instruction of `row` with the variant field (sdiv's offset, an atomic's operation,
// an endianness width, movsx's width) filled in from the table.
Insn encode(const OpcodeInfo& row, int dst, int src, int offset, std::int32_t imm) {
  Insn insn;
  insn.opcode = row.opcode;
  insn.dst = static_cast<std::uint8_t>(dst);
  insn.src = static_cast<std::uint8_t>(src);
  insn.offset = static_cast<std::int16_t>(offset);
  insn.imm = imm;
  switch (row.variant) {
    case Variant::None: break;
    case Variant::Off: insn.offset = static_cast<std::int16_t>(row.variant_value); break;
    case Variant::Imm: insn.imm = row.variant_value; break;
    case Variant::Src: insn.src = static_cast<std::uint8_t>(row.variant_value); break;
  }
  return insn;
}

constexpr std::int32_t int32_min = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t int32_max = std::numeric_limits<std::int32_t>::max();

// Values where implementations tend to go wrong: signs, widths, carries, shifts.
// clang-format off
constexpr std::int32_t boundary32[] = {
    0, 1, -1, 2, -2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 127, 128, 255, 256, -128, -129,
    0x7fff, 0x8000, 0xffff, 0x10000, -32768, -32769,
    int32_max, int32_min, int32_min + 1, 0x55555555, 0x0f0f0f0f};
// clang-format on

constexpr std::uint64_t boundary64[] = {
    0,
    1,
    ~0ULL,
    0x8000000000000000ULL,
    0x7fffffffffffffffULL,
    0x80000000ULL,
    0xffffffffULL,
    0x100000000ULL,
    0x7fffffffULL,
    0xffffffff80000000ULL,
    0xffffffff7fffffffULL,
    0x8000000000000001ULL,
    0x00000000ffff0000ULL,
    0x8080808080808080ULL,
    0x0123456789abcdefULL,
    0xfedcba9876543210ULL,
    0x0000000100000001ULL,
    0xdeadbeef80000000ULL,
};

template <class T, std::size_t N>
const T& pick(Rng& rng, const T (&values)[N]) {
  return values[rng.below(N)];
}

template <class T>
const T& pick(Rng& rng, const std::vector<T>& values) {
  assert(!values.empty());
  return values[rng.below(values.size())];
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The generator

RandomProgramGenerator::RandomProgramGenerator(RandomProgramOptions options) : options_(options) {
  assert(options_.stack_bytes % 8 == 0 && options_.stack_bytes >= 8 &&
         options_.stack_bytes <= stack_frame_size);
  assert(options_.min_body_insns <= options_.max_body_insns);
  for (const OpcodeInfo& row : opcode_rows) {
    if (row.cpu > options_.cpu_version) continue;
    switch (row.shape) {
      case Shape::AluImm:
      case Shape::AluReg:
      case Shape::AluUnary:
      case Shape::MovSx:
        alu_rows_.push_back(&row);
        if (row.shape == Shape::AluReg && is_division(row)) div_reg_rows_.push_back(&row);
        break;
      case Shape::Endian: endian_rows_.push_back(&row); break;
      case Shape::Load: load_rows_.push_back(&row); break;
      case Shape::StoreImm: store_imm_rows_.push_back(&row); break;
      case Shape::StoreReg: store_reg_rows_.push_back(&row); break;
      case Shape::Atomic: atomic_rows_.push_back(&row); break;
      case Shape::JmpImm:
      case Shape::JmpReg: cond_jump_rows_.push_back(&row); break;
      default: break;  // lddw, ja, ja32, exit are placed by hand; calls and packet loads not used
    }
  }
}

class RandomProgramGenerator::Builder {
 public:
  Builder(const RandomProgramGenerator& generator, std::uint64_t seed)
      : g_(generator), o_(generator.options_), rng_(seed) {}

  RandomProgram build(std::uint64_t seed) {
    RandomProgram program;
    program.seed = seed;
    prologue();
    program.body_begin = out_.size();
    const auto body =
        static_cast<std::size_t>(rng_.between(static_cast<std::int64_t>(o_.min_body_insns),
                                              static_cast<std::int64_t>(o_.max_body_insns)));
    block(body);
    program.fold_begin = out_.size();
    if (o_.fold_state_into_r0) fold();
    emit(encode(info(Op::EXIT), 0, 0, 0, 0));
    program.insns = std::move(out_);
    return program;
  }

 private:
  // --- values and operands ------------------------------------------------------------

  int any_register() { return static_cast<int>(rng_.below(last_general_register + 1)); }

  std::int32_t value32() {
    switch (rng_.below(4)) {
      case 0:
      case 1: return pick(rng_, boundary32);
      case 2: return static_cast<std::int32_t>(rng_.between(-64, 64));
      default: return static_cast<std::int32_t>(static_cast<std::uint32_t>(rng_.next()));
    }
  }

  std::uint64_t value64() {
    switch (rng_.below(10)) {
      case 0:
      case 1:
      case 2:
      case 3: return pick(rng_, boundary64);
      case 4: return static_cast<std::uint64_t>(static_cast<std::int64_t>(value32()));
      default: return rng_.next();
    }
  }

  std::int32_t shift_amount(const OpcodeInfo& row) {
    const int width = is_64bit_alu(row) ? 64 : 32;
    // The kernel rejects constant shifts outside [0, width) ("invalid shift").
    if (rng_.chance(30)) {
      const int edges[] = {0, 1, width / 2, width - 1};
      return pick(rng_, edges);
    }
    return static_cast<std::int32_t>(rng_.below(static_cast<std::uint64_t>(width)));
  }

  std::int32_t divisor_imm() {
    // The kernel rejects division and modulo by a constant zero ("div by zero"); by a
    // register it defines the result instead (the edge-case element covers that).
    if (rng_.chance(25)) {
      const std::int32_t edges[] = {1, -1, 2, -2, int32_min, int32_max};
      return pick(rng_, edges);
    }
    std::int32_t value;
    do {
      value = value32();
    } while (value == 0);
    return value;
  }

  // A size-aligned offset from r10 inside the stack window (the kernel requires aligned
  // stack accesses, and atomics must be aligned anyway).
  int stack_offset(int size) {
    const auto window = static_cast<std::int64_t>(o_.stack_bytes);
    const auto slots = static_cast<std::uint64_t>(window / size);
    return static_cast<int>(-window + size * static_cast<std::int64_t>(rng_.below(slots)));
  }

  const OpcodeInfo& row_of_size(const std::vector<const OpcodeInfo*>& rows, int size) {
    std::vector<const OpcodeInfo*> sized;
    for (const OpcodeInfo* row : rows) {
      if (access_size(*row) == size) sized.push_back(row);
    }
    return *pick(rng_, sized);
  }

  // --- emission -----------------------------------------------------------------------

  std::size_t emit(const Insn& insn) {
    out_.push_back(insn);
    return out_.size() - 1;
  }

  void emit_lddw(int dst, std::uint64_t value) {
    emit(encode(info(Op::LDDW), dst, lddw_src::imm64, 0, static_cast<std::int32_t>(value)));
    Insn high;
    high.imm = static_cast<std::int32_t>(value >> 32);
    emit(high);
  }

  // Points the jump at `jump_index` to `target` (a later slot).
  void patch(std::size_t jump_index, std::size_t target) {
    assert(target > jump_index);
    const auto distance = static_cast<std::int64_t>(target - jump_index - 1);
    Insn& jump = out_[jump_index];
    if (jump.opcode == info(Op::JA32).opcode) {
      jump.imm = static_cast<std::int32_t>(distance);
    } else {
      assert(distance <= std::numeric_limits<std::int16_t>::max());
      jump.offset = static_cast<std::int16_t>(distance);
    }
  }

  std::size_t emit_conditional_jump() {
    ++conditional_jumps_;
    const OpcodeInfo& row = *pick(rng_, g_.cond_jump_rows_);
    const int dst = any_register();
    if (row.shape == Shape::JmpReg) return emit(encode(row, dst, any_register(), 0, 0));
    // Small values make equality and order tests come out both ways now and then.
    const std::int32_t imm =
        rng_.chance(30) ? static_cast<std::int32_t>(rng_.between(-2, 2)) : value32();
    return emit(encode(row, dst, 0, 0, imm));
  }

  // ja +0 or ja32 +0 until patched.
  std::size_t emit_unconditional_jump() {
    if (info(Op::JA32).cpu <= o_.cpu_version && rng_.chance(50))
      return emit(encode(info(Op::JA32), 0, 0, 0, 0));
    return emit(encode(info(Op::JA), 0, 0, 0, 0));
  }

  // --- program parts ------------------------------------------------------------------

  void prologue() {
    // r1 arrives holding the context pointer; giving it a number here keeps pointers out
    // of every ALU operation, comparison and store (r10 is only ever a memory base).
    for (int reg = 0; reg <= last_general_register; ++reg) {
      switch (rng_.below(5)) {
        case 0:
        case 1: emit(encode(info(Op::MOV64_IMM), reg, 0, 0, value32())); break;
        case 2: emit(encode(info(Op::MOV32_IMM), reg, 0, 0, value32())); break;
        default: emit_lddw(reg, value64()); break;
      }
    }
    // Every byte of the window is written before the body runs: engines keep different
    // garbage in uninitialised stack (and privileged kernel programs may read it).
    const auto window = static_cast<int>(o_.stack_bytes);
    for (int offset = -window; offset < 0; offset += 8) initialise_stack(offset, 8);
  }

  // Writes [r10 + offset, r10 + offset + size) with one store or, split in aligned
  // halves, with smaller ones.
  void initialise_stack(int offset, int size) {
    if (size > 1 && rng_.chance(35)) {
      initialise_stack(offset, size / 2);
      initialise_stack(offset + size / 2, size / 2);
      return;
    }
    store(offset, size);
  }

  void store(int offset, int size) {
    if (rng_.chance(50)) {
      emit(encode(row_of_size(g_.store_imm_rows_, size), frame_pointer, 0, offset, value32()));
    } else {
      emit(encode(row_of_size(g_.store_reg_rows_, size), frame_pointer, any_register(), offset, 0));
    }
  }

  void fold() {
    const Insn multiply = encode(info(Op::MUL64_IMM), 0, 0, 0, fold_multiplier);
    for (int reg = 1; reg <= last_general_register; ++reg) {
      emit(multiply);
      emit(encode(info(Op::ADD64_REG), 0, reg, 0, 0));
    }
    const auto window = static_cast<int>(o_.stack_bytes);
    for (int offset = -window; offset < 0; offset += 8) {
      emit(encode(info(Op::LDXDW), 1, frame_pointer, offset, 0));
      emit(multiply);
      emit(encode(info(Op::XOR64_REG), 0, 1, 0, 0));
    }
  }

  // Emits exactly `budget` slots. Jumps "to the end" of this block land just after them.
  void block(std::size_t budget) {
    frames_.emplace_back();
    const std::size_t end = out_.size() + budget;
    while (out_.size() < end) element(end - out_.size());
    assert(out_.size() == end);
    for (std::size_t jump : frames_.back()) patch(jump, out_.size());
    frames_.pop_back();
  }

  enum class Kind { alu, endian, lddw, load, store, atomic, edge_case, branch, nop_jump };

  void element(std::size_t remaining) {
    const bool can_branch =
        conditional_jumps_ < o_.max_conditional_jumps && frames_.size() <= o_.max_branch_depth;
    const struct {
      Kind kind;
      unsigned weight;
    } choices[] = {
        {Kind::alu, o_.weight_alu},
        {Kind::endian, o_.weight_endian},
        {Kind::lddw, remaining >= 2 ? o_.weight_lddw : 0},
        {Kind::load, o_.weight_load},
        {Kind::store, o_.weight_store},
        {Kind::atomic, o_.weight_atomic},
        {Kind::edge_case, remaining >= 4 ? o_.weight_edge_case : 0},
        {Kind::branch, can_branch ? o_.weight_branch : 0},
        {Kind::nop_jump, o_.weight_nop_jump},
    };
    unsigned total = 0;
    for (const auto& choice : choices) total += choice.weight;
    if (total == 0) {
      emit(encode(info(Op::MOV64_IMM), any_register(), 0, 0, value32()));
      return;
    }
    auto roll = static_cast<unsigned>(rng_.below(total));
    Kind kind = Kind::alu;
    for (const auto& choice : choices) {
      if (roll < choice.weight) {
        kind = choice.kind;
        break;
      }
      roll -= choice.weight;
    }
    switch (kind) {
      case Kind::alu: alu(); break;
      case Kind::endian: emit(encode(*pick(rng_, g_.endian_rows_), any_register(), 0, 0, 0)); break;
      case Kind::lddw: emit_lddw(any_register(), value64()); break;
      case Kind::load: load(); break;
      case Kind::store: {
        const int size = 1 << rng_.below(4);
        store(stack_offset(size), size);
        break;
      }
      case Kind::atomic: atomic(); break;
      case Kind::edge_case: edge_case(); break;
      case Kind::branch: branch(remaining); break;
      case Kind::nop_jump: emit_unconditional_jump(); break;  // left as ja +0
    }
  }

  void alu() {
    const OpcodeInfo& row = *pick(rng_, g_.alu_rows_);
    const int dst = any_register();
    switch (row.shape) {
      case Shape::AluImm: {
        std::int32_t imm;
        if (is_shift(row)) {
          imm = shift_amount(row);
        } else if (is_division(row)) {
          imm = divisor_imm();
        } else {
          imm = value32();
        }
        emit(encode(row, dst, 0, 0, imm));
        break;
      }
      case Shape::AluReg:
      case Shape::MovSx: emit(encode(row, dst, any_register(), 0, 0)); break;
      default: emit(encode(row, dst, 0, 0, 0)); break;  // neg
    }
  }

  void load() {
    const OpcodeInfo& row = *pick(rng_, g_.load_rows_);
    emit(encode(row, any_register(), frame_pointer, stack_offset(access_size(row)), 0));
  }

  void atomic() {
    // Fetching forms write the old value to src (cmpxchg: to r0); any of r0-r9 may be src.
    const OpcodeInfo& row = *pick(rng_, g_.atomic_rows_);
    emit(encode(row, frame_pointer, any_register(), stack_offset(access_size(row)), 0));
  }

  // Division by zero, and signed division of the most negative number by -1, set up on
  // purpose: random values almost never hit them. Emits 2 to 4 slots.
  void edge_case() {
    const int dst = any_register();
    int src = any_register();
    while (src == dst) src = any_register();
    // sdiv and smod are v4 instructions; below v4 only division by zero is set up.
    if (info(Op::SDIV64_REG).cpu > o_.cpu_version || rng_.chance(50)) {
      // x / 0 = 0 and x % 0 = x (RFC 9669 section 4.1). A 32-bit divisor is the low half
      // of src: 0x100000000 is zero to div32.
      const OpcodeInfo& row = *pick(rng_, g_.div_reg_rows_);
      if (!is_64bit_alu(row) && rng_.chance(30)) {
        emit_lddw(src, 0x100000000ULL | (rng_.next() & 0xffffffff00000000ULL));
        emit(encode(row, dst, src, 0, 0));
      } else {
        emit(encode(info(rng_.chance(50) ? Op::MOV64_IMM : Op::MOV32_IMM), src, 0, 0, 0));
        emit(encode(row, dst, src, 0, 0));
      }
      return;
    }
    // INT_MIN / -1 overflows: sdiv gives INT_MIN, smod gives 0.
    const bool wide = rng_.chance(50);
    const bool modulo = rng_.chance(50);
    const bool by_register = rng_.chance(50);
    if (wide) {
      emit_lddw(dst, 0x8000000000000000ULL);
    } else if (rng_.chance(50)) {
      emit(encode(info(Op::MOV32_IMM), dst, 0, 0, int32_min));
    } else {
      // Junk above the low half, which 32-bit division must ignore.
      emit_lddw(dst, (rng_.next() & 0xffffffff00000000ULL) | 0x80000000ULL);
    }
    if (by_register) {
      emit(encode(info(Op::MOV64_IMM), src, 0, 0, -1));
      const Op op = wide ? (modulo ? Op::SMOD64_REG : Op::SDIV64_REG)
                         : (modulo ? Op::SMOD32_REG : Op::SDIV32_REG);
      emit(encode(info(op), dst, src, 0, 0));
    } else {
      const Op op = wide ? (modulo ? Op::SMOD64_IMM : Op::SDIV64_IMM)
                         : (modulo ? Op::SMOD32_IMM : Op::SDIV32_IMM);
      emit(encode(info(op), dst, 0, 0, -1));
    }
  }

  // A forward branch in one of three structured shapes; never a loop, and never code
  // that no path reaches (the kernel's check_cfg rejects "unreachable insn").
  void branch(std::size_t remaining) {
    const std::size_t nested_room = std::min<std::size_t>(remaining - 1, 40);
    switch (rng_.below(3)) {
      case 0: {
        // if (cond) goto end_of_enclosing_block;
        const std::size_t jump = emit_conditional_jump();
        frames_[rng_.below(frames_.size())].push_back(jump);
        break;
      }
      case 1: {
        // if (cond) goto skip; <then>; skip:
        const std::size_t jump = emit_conditional_jump();
        block(rng_.below(nested_room + 1));
        patch(jump, out_.size());
        break;
      }
      default: {
        // if (cond) goto other; <then>; goto join; other: <else>; join:
        if (remaining < 2) {
          const std::size_t jump = emit_conditional_jump();
          patch(jump, out_.size());
          break;
        }
        const std::size_t room = std::min<std::size_t>(remaining - 2, 40);
        const std::size_t then_size = rng_.below(room + 1);
        const std::size_t else_size = rng_.below(room - then_size + 1);
        const std::size_t jump = emit_conditional_jump();
        block(then_size);
        const std::size_t skip = emit_unconditional_jump();
        patch(jump, out_.size());
        block(else_size);
        patch(skip, out_.size());
        break;
      }
    }
  }

  const RandomProgramGenerator& g_;
  const RandomProgramOptions& o_;
  Rng rng_;
  std::vector<Insn> out_;
  // Open blocks, outermost first; each holds the jumps that go to its end.
  std::vector<std::vector<std::size_t>> frames_;
  unsigned conditional_jumps_ = 0;
};

RandomProgram RandomProgramGenerator::generate(std::uint64_t seed) const {
  return Builder(*this, seed).build(seed);
}

// ---------------------------------------------------------------------------------------
// Seeds and listing

SeedRange seeds_from_environment(SeedRange fallback) {
  SeedRange range = fallback;
  if (const char* seed = std::getenv("BPFVM_RANDOM_SEED"); seed != nullptr && *seed != '\0') {
    range.first = std::strtoull(seed, nullptr, 0);
    range.count = 1;
  }
  if (const char* count = std::getenv("BPFVM_RANDOM_COUNT"); count != nullptr && *count != '\0') {
    range.count = static_cast<std::size_t>(std::strtoull(count, nullptr, 0));
  }
  return range;
}

std::string dump_insns(std::span<const Insn> insns) {
  std::string text;
  char line[80];
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const Insn& insn = insns[i];
    std::snprintf(line, sizeof(line), "%4zu: %02x %x %x %6d %11d  ", i, insn.opcode, insn.dst,
                  insn.src, insn.offset, insn.imm);
    text += line;
    text += disassemble_insn(insns, i, Syntax::llvm);
    text += '\n';
    const OpcodeInfo* row = find_row(insn.opcode, insn.offset, insn.imm, insn.src);
    if (row != nullptr && row->shape == Shape::Lddw && i + 1 < insns.size()) {
      ++i;  // the second slot: its fields, without a listing of its own
      std::snprintf(line, sizeof(line), "%4zu: %02x %x %x %6d %11d\n", i, insns[i].opcode,
                    insns[i].dst, insns[i].src, insns[i].offset, insns[i].imm);
      text += line;
    }
  }
  return text;
}

}  // namespace bpfvm::test
