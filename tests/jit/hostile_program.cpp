#include "jit/hostile_program.hpp"

#include "isa/opcode_table.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace bpfvm::jit_test {

using test::Rng;

// ---------------------------------------------------------------------------------------
// Host memory and helpers

std::vector<std::uint8_t> HostMemory::snapshot() const {
  std::vector<std::uint8_t> bytes;
  auto add = [&](const auto& array) { bytes.insert(bytes.end(), array.begin(), array.end()); };
  add(context);
  add(writable);
  add(read_only);
  for (const auto& buffer : granted) add(buffer);
  return bytes;
}

void HostMemory::restore(const std::vector<std::uint8_t>& bytes) {
  std::size_t at = 0;
  auto take = [&](auto& array) {
    std::memcpy(array.data(), bytes.data() + at, array.size());
    at += array.size();
  };
  take(context);
  take(writable);
  take(read_only);
  for (auto& buffer : granted) take(buffer);
}

void HostMemory::fill(std::uint64_t seed) {
  Rng rng(seed ^ 0x6d656d6f7279ULL);
  auto fill_array = [&](auto& array) {
    for (auto& byte : array) byte = static_cast<std::uint8_t>(rng.next());
  };
  fill_array(context);
  fill_array(writable);
  fill_array(read_only);
  for (auto& buffer : granted) fill_array(buffer);
}

namespace {

using u64 = std::uint64_t;

u64 hash_mix(u64 h, u64 v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

u64 mix(HelperCall&, u64 r1, u64 r2, u64 r3, u64 r4, u64 r5) {
  u64 h = 0x1234;
  for (u64 v : {r1, r2, r3, r4, r5}) h = hash_mix(h, v);
  return h;
}

// Writes garbage into every register System V lets a callee clobber, as a hostile helper
// compiled by anyone may: the JIT must not keep anything there across the call.
u64 scramble(HelperCall&, u64 r1, u64, u64, u64, u64) {
#if defined(__x86_64__)
  asm volatile(
      "mov $0x5c5c5c5c5c5c5c5c, %%rax\n\t"
      "mov %%rax, %%rcx\n\t"
      "mov %%rax, %%rdx\n\t"
      "mov %%rax, %%rsi\n\t"
      "mov %%rax, %%rdi\n\t"
      "mov %%rax, %%r8\n\t"
      "mov %%rax, %%r9\n\t"
      "mov %%rax, %%r10\n\t"
      "mov %%rax, %%r11\n\t"
      :
      :
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "cc", "memory");
#endif
  return r1 * 0x9e3779b97f4a7c15ULL;
}

u64 lookup(HelperCall& call, u64 key, u64, u64, u64, u64) {
  auto& memory = *static_cast<HostMemory*>(call.user());
  u64 slot = key % (HostMemory::granted_count + 1);
  if (slot == HostMemory::granted_count) return 0;  // not found
  auto& buffer = memory.granted[slot];
  call.grant(buffer.data(), buffer.size(), slot < 2);
  return reinterpret_cast<u64>(buffer.data());
}

u64 read_bytes(HelperCall& call, u64 address, u64 length, u64, u64, u64) {
  if (length > 4096 || !call.accessible(address, length, false)) return static_cast<u64>(-14);
  u64 h = length;
  for (u64 i = 0; i < length; ++i)
    h = hash_mix(h, reinterpret_cast<const std::uint8_t*>(address)[i]);
  return h;
}

u64 write_bytes(HelperCall& call, u64 address, u64 length, u64 value, u64, u64) {
  if (length > 4096 || !call.accessible(address, length, true)) return static_cast<u64>(-14);
  std::memset(reinterpret_cast<void*>(address), static_cast<int>(value & 0xff), length);
  return length;
}

// Stores through 16-byte aligned stack slots with movdqa: it faults unless the caller kept
// the System V stack alignment at the call.
[[gnu::noinline]] u64 aligned_sse(HelperCall&, u64 r1, u64 r2, u64, u64, u64) {
#if defined(__x86_64__)
  alignas(16) volatile std::uint64_t slots[4];
  __m128i value = _mm_set_epi64x(static_cast<long long>(r1), static_cast<long long>(r2));
  asm volatile("movdqa %1, %0" : "=m"(*reinterpret_cast<volatile __m128i*>(slots)) : "x"(value));
  return slots[0] + slots[1];
#else
  return r1 + r2;
#endif
}

u64 end_if_zero(HelperCall& call, u64 r1, u64, u64, u64, u64) {
  if (r1 == 0) call.end_program();
  return r1;
}

u64 fail_if(HelperCall& call, u64 r1, u64, u64, u64, u64) {
  if (r1 == 0x42) call.fail("fail_if saw 0x42");
  return r1 + 1;
}

}  // namespace

HelperRegistry test_helpers(HostMemory& memory) {
  HelperRegistry registry;
  Status added[] = {
      registry.add({helper_id::mix, "mix", &mix, nullptr}),
      registry.add({helper_id::scramble, "scramble", &scramble, nullptr}),
      registry.add({helper_id::lookup, "lookup", &lookup, &memory}),
      registry.add({helper_id::read_bytes, "read_bytes", &read_bytes, nullptr}),
      registry.add({helper_id::end_if_zero, "end_if_zero", &end_if_zero, nullptr}),
      registry.add({helper_id::fail_if, "fail_if", &fail_if, nullptr}),
      registry.add({helper_id::write_bytes, "write_bytes", &write_bytes, nullptr}),
      registry.add({helper_id::aligned_sse, "aligned_sse", &aligned_sse, nullptr}),
  };
  (void)added;  // distinct ids, non-null functions
  return registry;
}

// ---------------------------------------------------------------------------------------
// The generator

namespace {

constexpr int window = 128;  // bytes below r10 every frame initialises at entry
constexpr int frame = static_cast<int>(stack_frame_size);

struct Value {
  enum Kind : std::uint8_t { unknown, scalar, stack, context, host } kind = unknown;
  int up = 0;               // stack: frames above the current one
  std::int64_t offset = 0;  // stack: from that frame's r10; context, host: from the start
  int region = 0;           // host: 0 writable, 1 read-only, 2.. granted
  friend bool operator==(const Value&, const Value&) = default;
};

bool readable(const Value& v) {
  return v.kind == Value::scalar || v.kind == Value::context || v.kind == Value::host;
}
bool is_pointer(const Value& v) {
  return v.kind == Value::stack || v.kind == Value::context || v.kind == Value::host;
}

using Regs = std::array<Value, register_count>;

struct Signature {
  std::array<bool, 6> stack_param{};  // r1-r5: a pointer into the caller's window
  std::array<int, 6> param_offset{};  // its offset from the caller's r10
};

struct Function {
  Signature signature;
  std::size_t entry = 0;
};

std::vector<const OpcodeInfo*> rows_where(bool (*keep)(const OpcodeInfo&)) {
  std::vector<const OpcodeInfo*> rows;
  for (const OpcodeInfo& row : opcode_rows)
    if (keep(row)) rows.push_back(&row);
  return rows;
}

class Builder {
 public:
  Builder(std::uint64_t seed, const HostMemory& memory, HostileProgram& out)
      : rng_(seed), memory_(memory), out_(out) {
    alu_rows_ = rows_where([](const OpcodeInfo& r) {
      return r.shape == Shape::AluImm || r.shape == Shape::AluReg || r.shape == Shape::AluUnary ||
             r.shape == Shape::MovSx || r.shape == Shape::Endian;
    });
    load_rows_ = rows_where([](const OpcodeInfo& r) { return r.shape == Shape::Load; });
    store_rows_ = rows_where([](const OpcodeInfo& r) {
      return r.shape == Shape::StoreImm || r.shape == Shape::StoreReg;
    });
    atomic_rows_ = rows_where([](const OpcodeInfo& r) { return r.shape == Shape::Atomic; });
    jump_rows_ = rows_where(
        [](const OpcodeInfo& r) { return r.shape == Shape::JmpImm || r.shape == Shape::JmpReg; });
    packet_rows_ = rows_where(
        [](const OpcodeInfo& r) { return r.shape == Shape::LdAbs || r.shape == Shape::LdInd; });
  }

  void build() {
    // Half the programs break the rules on purpose (out-of-bounds, read-only, misaligned,
    // wild and null accesses, unknown callx ids); the others only stop on budgets, call
    // depth, failing or ending helpers, so their runs go further and run unchecked too.
    hostile_ = rng_.chance(50);
    out_.breaks_rules = hostile_;
    out_.context_size = violate(10) ? 0 : rng_.between(16, HostMemory::context_capacity);
    out_.context_writable = !violate(10);
    out_.with_regions = !violate(10);
    if (rng_.chance(40)) out_.budget = rng_.below(3000);

    int functions = static_cast<int>(rng_.below(4));
    functions_.resize(static_cast<std::size_t>(functions) + 1);
    for (std::size_t f = 1; f < functions_.size(); ++f) {
      for (int r = 1; r <= 5; ++r) {
        functions_[f].signature.stack_param[r] = rng_.chance(30);
        functions_[f].signature.param_offset[r] =
            -8 * static_cast<int>(rng_.between(1, window / 8));
      }
    }

    // main
    current_ = 0;
    regs_ = {};
    for (int r = 0; r <= 9; ++r) regs_[r] = Value{Value::scalar};
    regs_[1] = Value{Value::context};
    regs_[frame_pointer] = Value{Value::stack};
    init_window();
    block(static_cast<int>(rng_.between(10, 60)), 0);
    finish_function();

    for (std::size_t f = 1; f < functions_.size(); ++f) {
      current_ = static_cast<int>(f);
      functions_[f].entry = out_.insns.size();
      regs_ = {};
      const Signature& sig = functions_[f].signature;
      for (int r = 1; r <= 5; ++r) {
        regs_[r] =
            sig.stack_param[r] ? Value{Value::stack, 1, sig.param_offset[r]} : Value{Value::scalar};
      }
      regs_[frame_pointer] = Value{Value::stack};
      init_window();
      block(static_cast<int>(rng_.between(5, 30)), 0);
      finish_function();
    }
    for (auto [at, f] : call_fixups_) {
      out_.insns[at].imm = static_cast<std::int32_t>(
          static_cast<std::int64_t>(functions_[f].entry) - static_cast<std::int64_t>(at) - 1);
    }
  }

 private:
  // ---- emission ----

  std::size_t emit(const OpcodeInfo& row, int dst, int src, std::int64_t offset, std::int64_t imm) {
    Insn insn;
    insn.opcode = row.opcode;
    insn.dst = static_cast<std::uint8_t>(dst);
    insn.src = static_cast<std::uint8_t>(src);
    insn.offset = static_cast<std::int16_t>(offset);
    insn.imm = static_cast<std::int32_t>(imm);
    switch (row.variant) {
      case Variant::Off: insn.offset = static_cast<std::int16_t>(row.variant_value); break;
      case Variant::Imm: insn.imm = row.variant_value; break;
      case Variant::Src: insn.src = static_cast<std::uint8_t>(row.variant_value); break;
      case Variant::None: break;
    }
    out_.insns.push_back(insn);
    return out_.insns.size() - 1;
  }
  std::size_t emit(Op op, int dst, int src, std::int64_t offset, std::int64_t imm) {
    return emit(info(op), dst, src, offset, imm);
  }
  void emit_lddw(int dst, u64 value) {
    emit(Op::LDDW, dst, 0, 0, static_cast<std::int32_t>(static_cast<std::uint32_t>(value)));
    Insn high;
    high.imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(value >> 32));
    out_.insns.push_back(high);
  }
  void patch_jump(std::size_t at, std::size_t target) {
    auto delta = static_cast<std::int64_t>(target) - static_cast<std::int64_t>(at) - 1;
    if (info(Op::JA32).opcode == out_.insns[at].opcode)
      out_.insns[at].imm = static_cast<std::int32_t>(delta);
    else
      out_.insns[at].offset = static_cast<std::int16_t>(delta);
  }

  // ---- values ----

  bool violate(unsigned percent) { return hostile_ && rng_.chance(percent); }

  std::int64_t interesting_imm() {
    switch (rng_.below(10)) {
      case 0: return 0;
      case 1: return 1;
      case 2: return -1;
      case 3: return std::numeric_limits<std::int32_t>::min();
      case 4: return std::numeric_limits<std::int32_t>::max();
      case 5: return rng_.between(0, 70);
      case 6: return rng_.between(-300, 300);
      default: return static_cast<std::int32_t>(rng_.next());
    }
  }

  // A register allowed as the destination of a new value.
  bool writable_reg(int r) const {
    if (r == frame_pointer) return false;
    if (std::find(loop_counters_.begin(), loop_counters_.end(), r) != loop_counters_.end())
      return false;
    // Inside a loop only scalars change, so types at the loop head stay right.
    return loop_depth_ == 0 || regs_[r].kind == Value::scalar;
  }
  std::optional<int> pick_reg(bool (*want)(const Value&), bool must_write = false) {
    int candidates[register_count];
    int n = 0;
    for (int r = 0; r <= 9; ++r)
      if (want(regs_[r]) && (!must_write || writable_reg(r))) candidates[n++] = r;
    if (n == 0) return std::nullopt;
    return candidates[rng_.below(static_cast<u64>(n))];
  }
  std::optional<int> pick_writable() {
    int r = static_cast<int>(rng_.below(10));
    for (int i = 0; i < 10; ++i, r = (r + 1) % 10)
      if (writable_reg(r)) return r;
    return std::nullopt;
  }
  // Makes r readable (a scalar), if it may be written.
  bool ensure_readable(int r) {
    if (readable(regs_[r])) return true;
    if (!writable_reg(r)) return false;
    emit(Op::MOV64_IMM, r, 0, 0, interesting_imm());
    regs_[r] = Value{Value::scalar};
    return true;
  }

  // ---- structure ----

  void init_window() {
    for (int off = -window; off < 0; off += 8)
      emit(Op::STDW, frame_pointer, 0, off, static_cast<std::int32_t>(rng_.next()));
  }

  void finish_function() {
    if (!readable(regs_[0])) {
      emit(Op::MOV64_IMM, 0, 0, 0, interesting_imm());
      regs_[0] = Value{Value::scalar};
    }
    // Fold what is readable into r0, so wrong values anywhere show.
    for (int r = 1; r <= 9; ++r) {
      if (readable(regs_[r]) && rng_.chance(60)) {
        emit(Op::MUL64_IMM, 0, 0, 0, 0x5bd1e995);
        emit(Op::XOR64_REG, 0, r, 0, 0);
      }
    }
    emit(Op::EXIT, 0, 0, 0, 0);
  }

  void block(int elements, int depth) {
    for (int i = 0; i < elements; ++i) element(depth);
  }

  void element(int depth) {
    unsigned pick = static_cast<unsigned>(rng_.below(100));
    if (pick < 30) return alu();
    if (pick < 36) return make_pointer();
    if (pick < 46) return load();
    if (pick < 54) return store();
    if (pick < 59) return atomic();
    if (pick < 62) return lddw();
    if (pick < 65) return packet_load();
    if (pick < 73) return helper_call();
    if (pick < 75) return callx();
    if (pick < 80) return local_call();
    if (pick < 88 && depth < 3) return branch(depth);
    if (pick < 92 && depth < 3 && loop_depth_ < 2) return loop(depth);
    if (pick < 93 && out_.budget && loop_depth_ == 0 && depth < 3) return endless_loop(depth);
    if (pick < 94) return early_exit();
    return alu();
  }

  void alu() {
    if (rng_.chance(10)) return address_arithmetic();
    const OpcodeInfo& row = *alu_rows_[rng_.below(alu_rows_.size())];
    auto dst = pick_writable();
    if (!dst) return;
    // mov and movsx overwrite dst; everything else reads it first.
    const bool is_mov =
        (row.opcode & 0xf0) == 0xb0 &&
        (row.shape == Shape::AluImm || row.shape == Shape::AluReg || row.shape == Shape::MovSx);
    if (!is_mov && !ensure_readable(*dst)) return;
    int src = 0;
    if (row.shape == Shape::AluReg || row.shape == Shape::MovSx) {
      auto chosen = pick_reg(readable);
      if (!chosen) return;
      src = *chosen;
    }
    emit(row, *dst, src, 0, row.shape == Shape::AluImm ? interesting_imm() : 0);
    regs_[*dst] = Value{Value::scalar};
  }

  // `mov rA, rB; add rA, rC` (or an immediate), as compilers form addresses; the JIT fuses
  // the pair. rC may be rA itself (doubling rB).
  void address_arithmetic() {
    auto dst = pick_writable();
    auto base = pick_reg(readable);
    if (!dst || !base || *dst == *base) return;
    emit(Op::MOV64_REG, *dst, *base, 0, 0);
    if (rng_.chance(50)) {
      auto other = pick_reg(readable);
      emit(Op::ADD64_REG, *dst, other ? *other : *dst, 0, 0);
    } else {
      emit(Op::ADD64_IMM, *dst, 0, 0, interesting_imm());
    }
    regs_[*dst] = Value{Value::scalar};
  }

  // A pointer into the stack window, the context or a host region, or an adjustment of one.
  void make_pointer() {
    if (loop_depth_ > 0) return;
    auto dst = pick_writable();
    if (!dst) return;
    switch (rng_.below(5)) {
      case 0:
      case 1: {
        int offset = -static_cast<int>(rng_.between(0, window / 8)) * 8;
        emit(Op::MOV64_REG, *dst, frame_pointer, 0, 0);
        emit(Op::ADD64_IMM, *dst, 0, 0, offset);
        regs_[*dst] = Value{Value::stack, 0, offset};
        return;
      }
      case 2: {
        auto offset = static_cast<std::int64_t>(rng_.below(HostMemory::context_capacity));
        emit_lddw(*dst, reinterpret_cast<u64>(memory_.context.data()) + static_cast<u64>(offset));
        regs_[*dst] = Value{Value::context, 0, offset};
        return;
      }
      case 3: {
        // Granted buffers are refused until `lookup` grants them.
        int region = violate(30) ? static_cast<int>(rng_.below(2 + HostMemory::granted_count))
                                 : static_cast<int>(rng_.below(2));
        emit_lddw(*dst, region_address(region));
        regs_[*dst] = Value{Value::host, 0, 0, region};
        return;
      }
      default: {
        // A copy of an existing pointer moved by a constant, or the pointer itself moved.
        auto p = pick_reg(is_pointer, true);
        if (!p) return;
        if (*p != *dst && rng_.chance(50)) {
          int delta = static_cast<int>(rng_.between(-16, 16)) * 4;
          emit(Op::MOV64_REG, *dst, *p, 0, 0);
          emit(Op::ADD64_IMM, *dst, 0, 0, delta);
          regs_[*dst] = regs_[*p];
          regs_[*dst].offset += delta;
          return;
        }
        int delta = static_cast<int>(rng_.between(-16, 16)) * 4;
        emit(Op::ADD64_IMM, *p, 0, 0, delta);
        regs_[*p].offset += delta;
        return;
      }
    }
  }

  u64 region_address(int region) const {
    if (region == 0) return reinterpret_cast<u64>(memory_.writable.data());
    if (region == 1) return reinterpret_cast<u64>(memory_.read_only.data());
    return reinterpret_cast<u64>(memory_.granted[static_cast<std::size_t>(region - 2)].data());
  }
  std::int64_t region_size(const Value& v) const {
    if (v.kind == Value::context) return static_cast<std::int64_t>(out_.context_size);
    return v.region < 2 ? static_cast<std::int64_t>(HostMemory::region_size)
                        : static_cast<std::int64_t>(HostMemory::granted_size);
  }

  // The offset for an access of `size` bytes through `base`: inside (mostly) or at a
  // boundary, never into stack bytes nobody initialised when `reads`.
  std::optional<std::int64_t> access_offset(const Value& base, int size, bool reads, bool writes,
                                            bool aligned) {
    auto align = [&](std::int64_t v) { return aligned ? v / size * size : v; };
    if (base.kind == Value::stack) {
      const std::int64_t rel0 = static_cast<std::int64_t>(frame) * base.up + base.offset;
      std::int64_t rel;
      unsigned pick = static_cast<unsigned>(rng_.below(100));
      if (!hostile_ && pick >= 85 && pick < 95) pick = 0;
      if (pick < 85) {
        // A window: the current frame's, or the frame the pointer came from.
        std::int64_t top = rng_.chance(70) ? 0 : static_cast<std::int64_t>(frame) * base.up;
        rel = top - window + align(rng_.between(0, window - size));
      } else if (pick < 95 && current_ == 0 && rng_.chance(40)) {
        // In main, r10 is the top of the stack: at or straddling it is refused.
        rel = -size + rng_.between(1, size + 8);
      } else if (pick < 95) {
        // Below the active stack: fully, or straddling its bottom. Refused either way.
        rel = rng_.chance(50) ? -frame - size - align(rng_.between(0, 64))
                              : -frame - rng_.between(1, size);
      } else {
        if (reads) return std::nullopt;
        rel = -frame + align(rng_.between(0, frame - size));
      }
      if (aligned) rel = rel / size * size;
      // A read must be refused (starting below the active stack) or see initialised bytes.
      const bool refused = rel < -frame || (current_ == 0 && rel + size > 0);
      if (reads && !refused && !in_window(rel, size, base)) return std::nullopt;
      std::int64_t off = rel - rel0;
      if (off < std::numeric_limits<std::int16_t>::min() ||
          off > std::numeric_limits<std::int16_t>::max())
        return std::nullopt;
      return off;
    }
    if (base.kind == Value::context || base.kind == Value::host) {
      const std::int64_t size_of_region = region_size(base);
      std::int64_t target;
      unsigned pick = static_cast<unsigned>(rng_.below(100));
      if (!hostile_) {
        if (size_of_region < size || (writes && !writable_region(base))) return std::nullopt;
        pick = 0;
      }
      if (pick < 85 && size_of_region >= size)
        target = align(rng_.between(0, size_of_region - size));
      else if (pick < 92)
        target = size_of_region - size + rng_.between(1, size);  // straddles or past
      else
        target = -rng_.between(1, 16);
      std::int64_t off = target - base.offset;
      if (off < std::numeric_limits<std::int16_t>::min() ||
          off > std::numeric_limits<std::int16_t>::max())
        return rng_.between(-64, 64);
      return off;
    }
    return rng_.between(-64, 64);  // a scalar base: a wild address
  }

  bool writable_region(const Value& v) const {
    if (v.kind == Value::context) return out_.context_writable;
    return v.region == 0 || v.region == 2 || v.region == 3;
  }

  // Whether [rel, rel + size) (relative to the current r10) lies in an initialised window.
  bool in_window(std::int64_t rel, int size, const Value& base) const {
    for (int j = 0; j <= base.up; ++j) {
      std::int64_t top = static_cast<std::int64_t>(frame) * j;
      if (j != 0 && j != base.up) continue;
      if (rel >= top - window && rel + size <= top) return true;
    }
    return false;
  }

  // A base register for an access: a pointer mostly, r10 often, a scalar sometimes.
  std::optional<int> access_base() {
    unsigned pick = static_cast<unsigned>(rng_.below(100));
    if (pick < 30) return frame_pointer;
    if (pick < 92 || !hostile_) {
      if (auto p = pick_reg(is_pointer)) return p;
      return frame_pointer;
    }
    return pick_reg(readable);
  }

  void load() {
    const OpcodeInfo& row = *load_rows_[rng_.below(load_rows_.size())];
    auto base = access_base();
    auto dst = pick_writable();
    if (!base || !dst) return;
    int size = access_size(row);
    auto off = access_offset(regs_[*base], size, true, false, rng_.chance(80));
    if (!off) return;
    emit(row, *dst, *base, *off, 0);
    regs_[*dst] = Value{Value::scalar};
  }

  void store() {
    const OpcodeInfo& row = *store_rows_[rng_.below(store_rows_.size())];
    auto base = access_base();
    if (!base) return;
    int size = access_size(row);
    auto off = access_offset(regs_[*base], size, false, true, rng_.chance(80));
    if (!off) return;
    if (row.shape == Shape::StoreImm) {
      emit(row, *base, 0, *off, interesting_imm());
      return;
    }
    auto src = pick_reg(readable);
    if (!src) return;
    emit(row, *base, *src, *off, 0);
  }

  void atomic() {
    const OpcodeInfo& row = *atomic_rows_[rng_.below(atomic_rows_.size())];
    auto base = access_base();
    auto src = pick_reg(readable);
    if (!base || !src) return;
    const bool fetches = (row.variant_value & 1) != 0;
    const bool cmpxchg = row.variant_value == 0xf1;
    if (fetches && !writable_reg(*src)) return;
    if (cmpxchg && (!readable(regs_[0]) || !writable_reg(0))) return;
    int size = access_size(row);
    // Atomics read the old value: only initialised bytes.
    auto off = access_offset(regs_[*base], size, true, true, !violate(5));
    if (!off) return;
    emit(row, *base, *src, *off, 0);
    if (fetches) regs_[*src] = Value{Value::scalar};
    if (cmpxchg) regs_[0] = Value{Value::scalar};
  }

  void lddw() {
    auto dst = pick_writable();
    if (!dst) return;
    emit_lddw(*dst, rng_.chance(50) ? rng_.next() : static_cast<u64>(interesting_imm()));
    regs_[*dst] = Value{Value::scalar};
  }

  void packet_load() {
    if (!writable_reg(0)) return;
    const OpcodeInfo& row = *packet_rows_[rng_.below(packet_rows_.size())];
    std::int64_t imm = rng_.chance(80)
                           ? rng_.between(0, static_cast<std::int64_t>(out_.context_size))
                           : interesting_imm();
    if (row.shape == Shape::LdAbs) {
      emit(row, 0, 0, 0, imm);
    } else {
      auto src = pick_reg(readable);
      if (!src) return;
      emit(row, 0, *src, 0, imm);
    }
    regs_[0] = Value{Value::scalar};
  }

  // Arguments for a helper, then the call (by id, or through callx rX).
  bool helper_arguments(std::int32_t id) {
    switch (id) {
      case helper_id::lookup:
      case helper_id::end_if_zero:
      case helper_id::fail_if: {
        if (!writable_reg(1)) return false;
        std::int64_t value = id == helper_id::lookup ? rng_.between(0, 7)
                             : rng_.chance(hostile_ ? 25 : 5)
                                 ? (id == helper_id::fail_if ? 0x42 : 0)
                                 : rng_.between(1, 100);
        if (id == helper_id::lookup && !hostile_) value = rng_.between(0, 1);
        lookup_key_ = value;
        emit(Op::MOV64_IMM, 1, 0, 0, value);
        regs_[1] = Value{Value::scalar};
        return true;
      }
      case helper_id::read_bytes:
      case helper_id::write_bytes: {
        if (!hostile_ || loop_depth_ > 0 || !writable_reg(1) || !writable_reg(2) ||
            !writable_reg(3))
          return false;
        out_.asks_accessible = true;
        // [r1, r1 + r2): inside a window, a region, or outside everything.
        int length = static_cast<int>(rng_.between(1, 32));
        if (rng_.chance(50)) {
          int offset = -static_cast<int>(rng_.between(length, window));
          if (rng_.chance(10)) offset = -frame - length - 8;  // below the stack: refused
          emit(Op::MOV64_REG, 1, frame_pointer, 0, 0);
          emit(Op::ADD64_IMM, 1, 0, 0, offset);
          regs_[1] = Value{Value::stack, 0, offset};
        } else {
          int region = static_cast<int>(rng_.below(2 + HostMemory::granted_count));
          emit_lddw(1, region_address(region) + rng_.below(80));
          regs_[1] = Value{Value::host, 0, 0, region};
        }
        emit(Op::MOV64_IMM, 2, 0, 0, length);
        emit(Op::MOV64_IMM, 3, 0, 0, rng_.between(0, 255));
        regs_[2] = regs_[3] = Value{Value::scalar};
        return true;
      }
      default:  // mix, scramble: r1-r5 must be values
        for (int r = 1; r <= 5; ++r)
          if (!ensure_readable(r)) return false;
        return true;
    }
  }

  std::int32_t random_helper() { return static_cast<std::int32_t>(rng_.between(1, 7)); }

  void after_helper(std::int32_t id) {
    regs_[0] = Value{Value::scalar};
    // lookup(key) returns granted buffer key % 5 (the first two writable), or null for 4.
    std::int64_t slot = lookup_key_ % (HostMemory::granted_count + 1);
    if (id == helper_id::lookup && slot < HostMemory::granted_count)
      regs_[0] = Value{Value::host, 0, 0, 2 + static_cast<int>(slot)};
  }

  void helper_call() {
    if (!writable_reg(0)) return;
    std::int32_t id = random_helper();
    if (id == helper_id::lookup && loop_depth_ > 0) return;
    if (!helper_arguments(id)) return;
    emit(Op::CALL_HELPER, 0, 0, 0, id);
    after_helper(id);
  }

  void callx() {
    if (!writable_reg(0)) return;
    std::int32_t id = violate(10) ? helper_id::unknown : random_helper();
    if (id == helper_id::lookup && loop_depth_ > 0) return;
    if (id != helper_id::unknown && !helper_arguments(id)) return;
    // The id goes in a callee-saved register or r0, not in an argument.
    int holder = rng_.chance(50) ? 0 : static_cast<int>(rng_.between(6, 9));
    if (!writable_reg(holder)) return;
    emit(Op::MOV64_IMM, holder, 0, 0, id);
    emit(Op::CALLX, holder, 0, 0, 0);
    if (holder != 0) regs_[holder] = Value{Value::scalar};
    after_helper(id);
  }

  void local_call() {
    if (loop_depth_ > 0 || functions_.size() < 2) return;
    int target;
    if (current_ > 0 && rng_.chance(15) && recursive_calls_ < 2) {
      target = static_cast<int>(rng_.between(1, current_));  // recursion: may go too deep
      ++recursive_calls_;
    } else {
      if (current_ + 1 >= static_cast<int>(functions_.size())) return;
      target = static_cast<int>(
          rng_.between(current_ + 1, static_cast<std::int64_t>(functions_.size()) - 1));
    }
    const Signature& sig = functions_[static_cast<std::size_t>(target)].signature;
    for (int r = 1; r <= 5; ++r) {
      if (sig.stack_param[r]) {
        emit(Op::MOV64_REG, r, frame_pointer, 0, 0);
        emit(Op::ADD64_IMM, r, 0, 0, sig.param_offset[r]);
      } else if (!readable(regs_[r])) {
        emit(Op::MOV64_IMM, r, 0, 0, interesting_imm());
      }
    }
    call_fixups_.push_back({emit(Op::CALL_LOCAL, 0, 0, 0, 0), static_cast<std::size_t>(target)});
    regs_[0] = Value{Value::scalar};
    for (int r = 1; r <= 5; ++r) regs_[r] = Value{};  // whatever the callee left
  }

  void branch(int depth) {
    const OpcodeInfo& row = *jump_rows_[rng_.below(jump_rows_.size())];
    auto dst = pick_reg(readable);
    if (!dst) return;
    int src = 0;
    if (row.shape == Shape::JmpReg) {
      auto chosen = pick_reg(readable);
      if (!chosen) return;
      src = *chosen;
    }
    std::size_t jump = emit(row, *dst, src, 0, row.shape == Shape::JmpImm ? interesting_imm() : 0);
    const Regs before = regs_;
    block(static_cast<int>(rng_.between(1, 6)), depth + 1);
    if (rng_.chance(50)) {
      // if-else: the taken branch is the else block.
      const Regs then_regs = regs_;
      std::size_t skip = rng_.chance(20) ? emit(Op::JA32, 0, 0, 0, 0) : emit(Op::JA, 0, 0, 0, 0);
      patch_jump(jump, out_.insns.size());
      regs_ = before;
      block(static_cast<int>(rng_.between(1, 6)), depth + 1);
      patch_jump(skip, out_.insns.size());
      merge(then_regs);
    } else {
      patch_jump(jump, out_.insns.size());
      merge(before);
    }
  }

  void merge(const Regs& other) {
    for (int r = 0; r < register_count; ++r)
      if (!(regs_[r] == other[r])) regs_[r] = Value{};
  }

  void loop(int depth) {
    auto counter = pick_writable();
    if (!counter || *counter == 0) return;
    if (loop_depth_ > 0 && regs_[*counter].kind != Value::scalar) return;
    emit(Op::MOV64_IMM, *counter, 0, 0, rng_.between(1, 5));
    regs_[*counter] = Value{Value::scalar};
    const Regs before = regs_;
    std::size_t head = out_.insns.size();
    ++loop_depth_;
    loop_counters_.push_back(*counter);
    block(static_cast<int>(rng_.between(1, 8)), depth + 1);
    loop_counters_.pop_back();
    --loop_depth_;
    emit(Op::ADD64_IMM, *counter, 0, 0, -1);
    std::size_t back = emit(Op::JNE64_IMM, *counter, 0, 0, 0);
    patch_jump(back, head);
    merge(before);
  }

  // Runs until the budget stops it.
  void endless_loop(int depth) {
    std::size_t head = out_.insns.size();
    ++loop_depth_;
    block(static_cast<int>(rng_.between(1, 4)), depth + 1);
    --loop_depth_;
    std::size_t back = emit(Op::JA, 0, 0, 0, 0);
    patch_jump(back, head);
  }

  void early_exit() {
    if (!readable(regs_[0])) return;
    // Guarded, so the rest of the block stays reachable.
    auto cond = pick_reg(readable);
    if (!cond) return;
    emit(Op::JNE64_IMM, *cond, 0, 1, static_cast<std::int32_t>(rng_.between(0, 3)));
    emit(Op::EXIT, 0, 0, 0, 0);
  }

  Rng rng_;
  const HostMemory& memory_;
  HostileProgram& out_;
  std::vector<const OpcodeInfo*> alu_rows_, load_rows_, store_rows_, atomic_rows_, jump_rows_,
      packet_rows_;
  std::vector<Function> functions_;
  std::vector<std::pair<std::size_t, std::size_t>> call_fixups_;
  int current_ = 0;
  bool hostile_ = false;
  std::int64_t lookup_key_ = 0;
  int recursive_calls_ = 0;
  Regs regs_{};
  int loop_depth_ = 0;
  std::vector<int> loop_counters_;
};

}  // namespace

HostileProgram generate_hostile_program(std::uint64_t seed, const HostMemory& memory) {
  HostileProgram program;
  program.seed = seed;
  Builder(seed, memory, program).build();
  return program;
}

}  // namespace bpfvm::jit_test
