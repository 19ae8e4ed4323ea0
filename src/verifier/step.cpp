#include "verifier/step.hpp"

#include "verifier/callbacks.hpp"
#include "verifier/context_access.hpp"
#include "verifier/helper_call.hpp"
#include "verifier/map_access.hpp"
#include "verifier/packet_access.hpp"
#include "verifier/references.hpp"
#include "verifier/scalar_alu.hpp"
#include "verifier/scalar_branch.hpp"
#include "verifier/socket_access.hpp"

#include <fmt/format.h>

namespace bpfvm::verifier {
namespace {

using Regs = std::array<RegValue, register_count>;

std::string describe(int reg, const RegValue& v) {
  return reg < 0 ? std::string() : fmt::format("R{}={}", reg, to_string(v));
}

// The operand registers an instruction reads, for error messages.
std::pair<int, int> operands(const DecodedInsn& d) {
  switch (d.row->shape) {
    case Shape::AluImm:
    case Shape::AluUnary:
    case Shape::Endian:
    case Shape::JmpImm:
    case Shape::StoreImm: return {d.insn.dst, -1};
    case Shape::AluReg:
    case Shape::JmpReg:
    case Shape::StoreReg:
    case Shape::Atomic: return {d.insn.dst, d.insn.src};
    case Shape::MovSx:
    case Shape::Load:
    case Shape::LdInd: return {d.insn.src, -1};
    case Shape::Exit: return {0, -1};
    case Shape::CallLocal:
    case Shape::CallHelper: return {1, 2};
    default: return {-1, -1};
  }
}

struct Failure {
  std::string reason;
};

// A memory access through `base` + insn offset of `size` bytes: where it lands.
struct Target {
  RegKind kind;
  int frame;
  std::int64_t offset;  // from the region's start (stack: from the frame pointer)
  // The highest offset the access may start at: above `offset` only for variable-offset
  // stack reads.
  std::int64_t max_offset;
};

// A stack access through a pointer whose offset is a range (Linux: check_stack_read_var_off
// for privileged programs): reads only, every start in the range within the frame and
// size-aligned (the tnum shows it). Writes would need Linux's per-byte "maybe written"
// handling and stay refused.
std::variant<Target, Failure> resolve_variable_stack(const RegValue& base, int base_reg,
                                                     std::int16_t insn_off, int size, bool write) {
  if (write)
    return Failure{
        fmt::format("variable-offset stack write R{} var_off={} size={}: only reads "
                    "may use a variable offset",
                    base_reg, to_string(base.value), size)};
  const std::int64_t frame = static_cast<std::int64_t>(stack_frame_size);
  // Guard the additions below: an offset outside [-2^20, 0] is out of the frame anyway.
  if (base.value.smin < -(std::int64_t{1} << 20) || base.value.smax > 0 ||
      base.value.smin + insn_off < -frame || base.value.smax + insn_off + size > 0)
    return Failure{
        fmt::format("invalid variable-offset read from stack R{} var_off={} off={} "
                    "size={}",
                    base_reg, to_string(base.value), insn_off, size)};
  const Tnum start =
      tnum_add(base.value.var_off, Tnum::constant(static_cast<std::uint64_t>(insn_off)));
  if (!start.is_aligned(static_cast<std::uint64_t>(size)))
    return Failure{
        fmt::format("misaligned variable-offset stack access R{} var_off={} off={} "
                    "size={}",
                    base_reg, to_string(base.value), insn_off, size)};
  return Target{RegKind::stack, base.frame, base.value.smin + insn_off, base.value.smax + insn_off};
}

std::variant<Target, Failure> resolve(const StepContext& ctx, const VerifierState& st, int base_reg,
                                      std::int16_t insn_off, int size, bool write) {
  const RegValue& base = st.current().regs[static_cast<std::size_t>(base_reg)];
  const char* what = write ? "write" : "read";
  switch (base.kind) {
    case RegKind::uninit: return Failure{fmt::format("R{} !read_ok", base_reg)};
    case RegKind::scalar: return Failure{fmt::format("R{} invalid mem access 'scalar'", base_reg)};
    case RegKind::stack: {
      if (!base.value.is_const())
        return resolve_variable_stack(base, base_reg, insn_off, size, write);
      const std::int64_t off = static_cast<std::int64_t>(base.value.const_value()) + insn_off;
      if (off < -static_cast<std::int64_t>(stack_frame_size) || off + size > 0)
        return Failure{fmt::format("invalid {} stack R{} off={} size={}",
                                   write ? "write to" : "read from", base_reg, off, size)};
      // Linux always checks stack alignment (check_ptr_alignment: strict for PTR_TO_STACK),
      // which its spill tracking relies on, and so does ours.
      if (off % size != 0)
        return Failure{fmt::format("misaligned stack access off={} size={}", off, size)};
      return Target{RegKind::stack, base.frame, off, off};
    }
    case RegKind::packet:
    case RegKind::packet_end:
    case RegKind::packet_meta:
      if (auto e = check_packet_access(ctx.options, base, base_reg, insn_off, size, write))
        return Failure{*e};
      return Target{base.kind, 0, base.fixed_off + insn_off, base.fixed_off + insn_off};
    case RegKind::ctx: {
      if (ctx.options.type != ProgramType::raw) {
        auto r = typed_context_access(ctx.options, base, base_reg, insn_off, size, write);
        if (auto* e = std::get_if<std::string>(&r)) return Failure{*e};
        return Target{RegKind::ctx, 0, insn_off, insn_off};
      }
      if (!ctx.options.context_size)
        return Failure{fmt::format(
            "cannot bound {} through R{}: the raw context's size is r2, known only at run "
            "time (give the verifier a context size)",
            what, base_reg)};
      if (!base.value.is_const())
        return Failure{fmt::format("variable ctx access R{} var_off={} disallowed", base_reg,
                                   to_string(base.value))};
      const std::int64_t off = static_cast<std::int64_t>(base.value.const_value()) + insn_off;
      const auto limit = static_cast<std::int64_t>(*ctx.options.context_size);
      if (off < 0 || off + size > limit)
        return Failure{
            fmt::format("invalid bpf_context access off={} size={} (context of {} "
                        "bytes)",
                        off, size, limit)};
      if (write && !ctx.options.context_writable)
        return Failure{fmt::format("write into read-only context off={} size={}", off, size)};
      return Target{RegKind::ctx, 0, off, off};
    }
    default: {
      if (is_socket_kind(base.kind)) {
        if (auto e = check_socket_access(base, base_reg, insn_off, size, write)) return Failure{*e};
        return Target{base.kind, 0, insn_off, insn_off};
      }
      // Map values, keys, ring buffer records (map_access.hpp); the rest by name.
      if (auto e = check_object_access(base, base_reg, insn_off, size, !write, write))
        return Failure{*e};
      return Target{base.kind, 0, insn_off, insn_off};
    }
  }
}

// Linux's check_reg_sane_offset: a pointer's offset, or the scalar added to it, known past
// 2^29 either way, or with an unbounded or too large minimum, is refused at the arithmetic.
std::optional<std::string> sane_offset(const ScalarValue& v, RegKind kind) {
  constexpr std::int64_t max_var_off = std::int64_t{1} << 29;
  if (v.is_const()) {
    const auto c = static_cast<std::int64_t>(v.const_value());
    if (c >= max_var_off || c <= -max_var_off)
      return fmt::format("math between {} pointer and {} is not allowed", kind_name(kind), c);
    return std::nullopt;
  }
  if (v.smin == std::numeric_limits<std::int64_t>::min())
    return fmt::format(
        "math between {} pointer and register with unbounded min value is not allowed",
        kind_name(kind));
  if (v.smin >= max_var_off || v.smin <= -max_var_off)
    return fmt::format("value {} makes {} pointer be out of bounds", v.smin, kind_name(kind));
  return std::nullopt;
}

std::optional<std::string> do_alu(const DecodedInsn& d, VerifierState& st) {
  Regs& regs = st.current().regs;
  const auto row = alu_row(d.row->op);
  const int dst = d.insn.dst;
  const Shape shape = d.row->shape;
  RegValue src_val = RegValue::scalar(immediate(d.insn.imm));
  if (shape == Shape::AluReg || shape == Shape::MovSx) {
    src_val = regs[d.insn.src];
    if (!src_val.is_init()) return fmt::format("R{} !read_ok", d.insn.src);
  }
  const bool is_mov = row->op == AluOp::mov || row->op == AluOp::movsx8 ||
                      row->op == AluOp::movsx16 || row->op == AluOp::movsx32;
  RegValue& dv = regs[static_cast<std::size_t>(dst)];
  if (!is_mov && !dv.is_init()) return fmt::format("R{} !read_ok", dst);

  if (is_mov) {
    if (src_val.is_pointer()) {
      if (row->op != AluOp::mov || row->bits != 64)
        return fmt::format("R{} partial copy of pointer", d.insn.src);
      dv = src_val;
      return std::nullopt;
    }
    if (row->op == AluOp::mov && row->bits == 64 && shape == Shape::AluReg) {
      // A whole copy: both registers share an id, so a branch on one refines the other.
      st.link(d.insn.src);
      dv = regs[d.insn.src];
      return std::nullopt;
    }
    dv = RegValue::scalar(alu(row->op, row->bits, ScalarValue::unknown(), src_val.value));
    return std::nullopt;
  }
  if (!dv.is_pointer() && !src_val.is_pointer()) {
    dv = RegValue::scalar(alu(row->op, row->bits, dv.value, src_val.value));
    return std::nullopt;
  }
  if (dv.is_packet() || src_val.is_packet())
    return packet_alu(row->op, row->bits, dst, shape == Shape::AluReg ? d.insn.src : -1, st,
                      src_val);
  // Pointer arithmetic (Linux: adjust_ptr_min_max_vals), the rules for stack and context
  // pointers: only 64-bit add and sub of a scalar, and the difference of two pointers into
  // the same region.
  if (dv.is_pointer())
    if (auto e = check_pointer_arithmetic(dv, dst)) return e;
  if (src_val.is_pointer())
    if (auto e = check_pointer_arithmetic(src_val, d.insn.src)) return e;
  // The difference of two pointers (Linux root: an unknown scalar, in 64 or 32 bits). Into
  // one stack frame or the context, the base cancels out: the difference of the offsets (in
  // 32 bits its low half, zero-extended). Map values, keys and records of the same kind may
  // still be different objects (two lookups, two maps), whose distance nothing bounds: an
  // unknown scalar.
  if (row->op == AluOp::sub && dv.is_pointer() && src_val.is_pointer() && dv.kind == src_val.kind &&
      dv.frame == src_val.frame) {
    const bool one_region = dv.kind == RegKind::stack || dv.kind == RegKind::ctx;
    dv = RegValue::scalar(
        one_region ? alu(AluOp::sub, row->bits, dv.value, src_val.value)
                   : alu(AluOp::mov, row->bits, ScalarValue::unknown(), ScalarValue::unknown()));
    return std::nullopt;
  }
  if (row->bits == 32) return fmt::format("R{} 32-bit pointer arithmetic prohibited", dst);
  // Linux's check_reg_sane_offset on the scalar and the pointer's offset before and after:
  // no offset past 2^29 either way, no unbounded minimum. Here for map values, keys and
  // records (packets: packet_alu); stack and context pointers keep bpfvm's later checks at
  // the access (a typed random mutant found a map value moved by an unbounded amount, never
  // used, that Linux refuses at the arithmetic).
  const RegValue& moved = dv.is_pointer() ? dv : src_val;
  if ((row->op == AluOp::add || row->op == AluOp::sub) &&
      !(dv.is_pointer() && src_val.is_pointer()) && moved.kind != RegKind::stack &&
      moved.kind != RegKind::ctx) {
    const RegValue& ptr = moved;
    const ScalarValue& amount = dv.is_pointer() ? src_val.value : dv.value;
    if (auto e = sane_offset(amount, ptr.kind)) return e;
    if (auto e = sane_offset(ptr.value, ptr.kind)) return e;
    if (auto e = sane_offset(alu(row->op, 64, ptr.value, amount), ptr.kind)) return e;
  }
  if (row->op == AluOp::add) {
    if (dv.is_pointer() && src_val.is_pointer())
      return fmt::format("R{} pointer += pointer prohibited", dst);
    if (dv.is_pointer()) {
      dv.value = alu(AluOp::add, 64, dv.value, src_val.value);
    } else {
      const ScalarValue offset = alu(AluOp::add, 64, src_val.value, dv.value);
      dv = src_val;
      dv.value = offset;
    }
    return std::nullopt;
  }
  if (row->op == AluOp::sub) {
    if (dv.is_pointer() && src_val.is_pointer())  // not of one kind (above)
      return fmt::format("R{} subtraction of pointers into different regions prohibited", dst);
    if (src_val.is_pointer()) return fmt::format("R{} tried to subtract pointer from scalar", dst);
    dv.value = alu(AluOp::sub, 64, dv.value, src_val.value);
    return std::nullopt;
  }
  return fmt::format("R{} pointer arithmetic with {} operator prohibited", dst, d.row->mnemonic);
}

// The value a store writes: a constant truncated to the access size stays a constant so a
// zero is recognised; a wider scalar stays whole for an 8-byte spill.
RegValue stored_value(const RegValue& v, int size) {
  if (!v.is_scalar() || size == 8 || !v.value.is_const()) return v;
  const std::uint64_t mask = (std::uint64_t{1} << (8 * size)) - 1;
  return RegValue::scalar(ScalarValue::constant(v.value.const_value() & mask));
}

std::optional<std::string> do_store(const StepContext& ctx, const DecodedInsn& d,
                                    VerifierState& st) {
  const int size = access_size(*d.row);
  RegValue value = RegValue::scalar(immediate(d.insn.imm));
  if (d.row->shape == Shape::StoreReg) {
    value = st.current().regs[d.insn.src];
    if (!value.is_init()) return fmt::format("R{} !read_ok", d.insn.src);
  }
  auto where = resolve(ctx, st, d.insn.dst, d.insn.offset, size, true);
  if (auto* f = std::get_if<Failure>(&where)) return f->reason;
  const Target t = std::get<Target>(where);
  if (t.kind == RegKind::ctx) {
    if (value.is_pointer()) return fmt::format("R{} leaks addr into ctx", d.insn.src);
    return std::nullopt;
  }
  if (t.kind == RegKind::packet || t.kind == RegKind::packet_meta) {
    if (value.is_pointer()) return fmt::format("R{} leaks addr into packet", d.insn.src);
    return std::nullopt;
  }
  if (t.kind != RegKind::stack)
    return check_object_store(st.current().regs[d.insn.dst], value, d.insn.src);
  if (value.kind == RegKind::stack && value.frame > t.frame)
    return std::string("cannot spill pointers to stack into stack frame of the caller");
  if (d.row->shape == Shape::StoreReg && size == 8 && value.is_scalar()) {
    // A whole-register spill links the slot to the register, as a mov does (Linux 6.8+:
    // assign_scalar_id_before_mov in check_stack_write_fixed_off).
    st.link(d.insn.src);
    value = st.current().regs[d.insn.src];
  }
  auto r = st.frames[static_cast<std::size_t>(t.frame)].stack.write(
      static_cast<int>(t.offset), size, stored_value(value, size));
  if (auto* e = std::get_if<std::string>(&r)) return *e;
  return std::nullopt;
}

std::optional<std::string> do_load(const StepContext& ctx, const DecodedInsn& d,
                                   VerifierState& st) {
  const int size = access_size(*d.row);
  const bool sign_extend = (d.row->opcode & 0xe0) == 0x80;  // BPF_MEMSX
  auto where = resolve(ctx, st, d.insn.src, d.insn.offset, size, false);
  if (auto* f = std::get_if<Failure>(&where)) return f->reason;
  const Target t = std::get<Target>(where);
  RegValue loaded = RegValue::scalar(ScalarValue::loaded(size, sign_extend));
  if (t.kind == RegKind::stack) {
    const StackState& stack = st.frames[static_cast<std::size_t>(t.frame)].stack;
    auto r = t.max_offset == t.offset
                 ? stack.read(static_cast<int>(t.offset), size, sign_extend)
                 : stack.read_variable(static_cast<int>(t.offset), static_cast<int>(t.max_offset),
                                       size, sign_extend);
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    loaded = std::get<RegValue>(r);
  }
  if (t.kind == RegKind::ctx && ctx.options.type != ProgramType::raw) {
    // The value the type's field gives: a scalar, or a packet pointer.
    auto r = typed_context_access(ctx.options, st.current().regs[d.insn.src], d.insn.src,
                                  d.insn.offset, size, false);
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    loaded = std::get<RegValue>(r);
    if (sign_extend && loaded.is_pointer())
      return fmt::format("R{} sign-extending load of a context pointer field", d.insn.src);
    if (sign_extend) loaded = RegValue::scalar(ScalarValue::loaded(size, true));
  }
  st.current().regs[d.insn.dst] = loaded;
  return std::nullopt;
}

std::optional<std::string> do_atomic(const StepContext& ctx, const DecodedInsn& d,
                                     VerifierState& st) {
  const int size = access_size(*d.row);
  auto& regs = st.current().regs;
  const RegValue src = regs[d.insn.src];
  if (!src.is_init()) return fmt::format("R{} !read_ok", d.insn.src);
  if (src.is_pointer()) return fmt::format("R{} leaks addr into mem", d.insn.src);
  const bool cmpxchg = d.insn.imm == 0xf1;
  if (cmpxchg) {
    if (!regs[0].is_init()) return std::string("R0 !read_ok");
    if (regs[0].is_pointer()) return std::string("R0 leaks addr into mem");
  }
  auto where = resolve(ctx, st, d.insn.dst, d.insn.offset, size, true);
  if (auto* f = std::get_if<Failure>(&where)) return f->reason;
  const Target t = std::get<Target>(where);
  // Linux: "BPF_ATOMIC stores into R1 pkt is not allowed" (check_atomic), typed ctx likewise.
  const bool packet =
      t.kind == RegKind::packet || t.kind == RegKind::packet_meta || t.kind == RegKind::packet_end;
  if (packet || (t.kind == RegKind::ctx && ctx.options.type != ProgramType::raw))
    return fmt::format("BPF_ATOMIC stores into R{} {} is not allowed", d.insn.dst,
                       t.kind == RegKind::ctx ? "ctx" : "pkt");
  if (t.kind != RegKind::stack && t.kind != RegKind::ctx) {
    // An atomic reads the old value too (Linux check_atomic: a read and a write access).
    if (auto e =
            check_object_access(regs[d.insn.dst], d.insn.dst, d.insn.offset, size, true, false))
      return e;
  } else if (t.offset % size != 0)
    return fmt::format("misaligned atomic access off={} size={}", t.offset, size);
  if (t.kind == RegKind::stack) {
    StackState& stack = st.frames[static_cast<std::size_t>(t.frame)].stack;
    // An atomic reads the old value: every byte must be written, and none may be part of a
    // spilled pointer.
    auto old = stack.read(static_cast<int>(t.offset), size, false);
    if (auto* e = std::get_if<std::string>(&old)) return *e;
    if (std::get<RegValue>(old).is_pointer())
      return fmt::format("atomic on a spilled pointer at off={}", t.offset);
    stack.clobber(static_cast<int>(t.offset), size);
  }
  const RegValue fetched = RegValue::scalar(ScalarValue::loaded(size, false));
  if (cmpxchg)
    regs[0] = fetched;
  else if ((d.insn.imm & 0x01) != 0)
    regs[d.insn.src] = fetched;
  return std::nullopt;
}

// Linux's save_aux_ptr_type (access_kinds.hpp): typed programs only.
std::optional<std::string> record_access_kind(const StepContext& ctx, std::size_t pc,
                                              const RegValue& base) {
  if (ctx.access_kinds == nullptr || ctx.options.type == ProgramType::raw) return std::nullopt;
  return ctx.access_kinds->record(pc, base);
}

}  // namespace

StepResult step(const StepContext& ctx, std::size_t& pc, VerifierState& st) {
  const DecodedInsn& d = ctx.program[pc];
  StepResult out;
  // The operands as they were, printed only when the instruction is rejected.
  const auto ops = operands(d);
  const int ra = ops.first;
  const int rb = ops.second;
  const RegValue va = ra >= 0 ? st.current().regs[static_cast<std::size_t>(ra)] : RegValue{};
  const RegValue vb = rb >= 0 ? st.current().regs[static_cast<std::size_t>(rb)] : RegValue{};
  auto fail = [&](std::string reason) {
    out.error = std::move(reason);
    out.registers = describe(ra, va);
    if (rb >= 0) out.registers += ' ' + describe(rb, vb);
    return out;
  };
  Regs& regs = st.current().regs;
  const Shape shape = d.row->shape;
  std::size_t next = pc + 1;
  switch (shape) {
    case Shape::AluImm:
    case Shape::AluReg:
    case Shape::AluUnary:
    case Shape::Endian:
    case Shape::MovSx:
      if (auto e = do_alu(d, st)) return fail(*e);
      break;
    case Shape::Lddw:
      if (d.insn.src != lddw_src::imm64) {
        auto p = lddw_pointer(ctx.options, d, pc);
        if (auto* e = std::get_if<std::string>(&p)) return fail(*e);
        regs[d.insn.dst] = std::get<RegValue>(p);
        next = pc + 2;
        break;
      }
      regs[d.insn.dst] = RegValue::scalar(ScalarValue::constant(d.imm64));
      next = pc + 2;
      break;
    case Shape::Load: {
      const RegValue base = regs[d.insn.src];  // the load may overwrite it
      if (auto e = do_load(ctx, d, st)) return fail(*e);
      if (auto e = record_access_kind(ctx, pc, base)) return fail(*e);
      break;
    }
    case Shape::StoreImm:
    case Shape::StoreReg: {
      const RegValue base = regs[d.insn.dst];
      if (auto e = do_store(ctx, d, st)) return fail(*e);
      if (auto e = record_access_kind(ctx, pc, base)) return fail(*e);
      break;
    }
    case Shape::Atomic:
      if (auto e = do_atomic(ctx, d, st)) return fail(*e);
      break;
    case Shape::LdAbs:
    case Shape::LdInd:
      if (ctx.options.type == ProgramType::raw)
        return fail("ld_abs/ld_ind need a socket buffer context: not supported for raw programs");
      if (auto e = check_ld_abs(ctx.options, d, st)) return fail(*e);
      break;
    case Shape::Ja:
    case Shape::Ja32: next = d.target; break;
    case Shape::JmpImm:
    case Shape::JmpReg: {
      const RegValue a = regs[d.insn.dst];
      if (!a.is_init()) return fail(fmt::format("R{} !read_ok", d.insn.dst));
      RegValue b = RegValue::scalar(immediate(d.insn.imm));
      if (shape == Shape::JmpReg) {
        b = regs[d.insn.src];
        if (!b.is_init()) return fail(fmt::format("R{} !read_ok", d.insn.src));
      }
      if (auto nc = null_check(d, a, b)) {
        // Linux's mark_ptr_or_null_regs: the pointer and every copy of it (same id) is
        // null on one edge and the object on the other.
        VerifierState taken_state = st;
        mark_ptr_or_null(taken_state, nc->id, nc->taken_is_null);
        out.fork.emplace(d.target, std::move(taken_state));
        mark_ptr_or_null(st, nc->id, !nc->taken_is_null);
        break;
      }
      bool can_take = true;
      bool can_fall = true;
      std::optional<Refined> on_taken, on_fall;  // refined operands (scalars only)
      if (a.is_scalar() && b.is_scalar()) {
        auto res = branch(d.row->op, a.value, b.value);
        can_take = res->taken.has_value() && res->verdict != Verdict::never;
        can_fall = res->fallthrough.has_value() && res->verdict != Verdict::always;
        if (can_take) on_taken = res->taken;
        if (can_fall) on_fall = res->fallthrough;
      } else {
        // A stack pointer at a constant offset inside its frame points into real memory, so
        // it is not null: compared with 0 for (in)equality the outcome is known. (Linux's
        // reg_not_null does not count stack pointers; this is sound and a little more
        // precise.) Any other pointer may have been moved anywhere, a raw context may be
        // empty: those comparisons, and all others with a pointer, tell nothing.
        const RegValue& p = a.is_pointer() ? a : b;
        const RegValue& other = a.is_pointer() ? b : a;
        const auto jr = jump_row(d.row->op);
        const bool in_frame = p.kind == RegKind::stack && p.value.is_const() &&
                              static_cast<std::int64_t>(p.value.const_value()) >=
                                  -static_cast<std::int64_t>(stack_frame_size) &&
                              static_cast<std::int64_t>(p.value.const_value()) <= 0;
        // A map value (not or_null: a lookup Linux proves cannot fail, or one null-checked
        // already) at a constant offset within the value is real memory too. Linux's
        // reg_not_null takes PTR_TO_MAP_VALUE at any offset; we keep to offsets inside the
        // value, where no arithmetic can have brought it to 0.
        const bool in_value = p.kind == RegKind::map_value && p.map != nullptr &&
                              p.value.is_const() && p.value.const_value() <= p.map->value_size;
        if ((in_frame || in_value) && other.is_scalar() && other.value.is_const() &&
            other.value.const_value() == 0 && jr && jr->bits == 64) {
          if (jr->op == CmpOp::eq) can_take = false;
          if (jr->op == CmpOp::ne) can_fall = false;
        }
        // A packet pointer known to be at or past the end decides its next comparison with
        // the end (Linux is_pkt_ptr_branch_taken).
        if (shape == Shape::JmpReg && jr && jr->bits == 64)
          if (auto taken = packet_branch_taken(jr->op, a, b)) {
            can_take = *taken;
            can_fall = !*taken;
          }
      }
      if (!can_take && !can_fall)
        return fail("both edges of the branch are impossible (contradictory state)");
      // The refined operands, and every copy of them (same id) in every frame and spill.
      auto apply = [&](VerifierState& s, const std::optional<Refined>& r) {
        if (!r) return;
        auto& rs = s.current().regs;
        rs[d.insn.dst].value = r->dst;
        s.sync_id(rs[d.insn.dst].id, r->dst);
        if (shape == Shape::JmpReg) {
          rs[d.insn.src].value = r->src;
          s.sync_id(rs[d.insn.src].id, r->src);
        }
      };
      const auto jr = jump_row(d.row->op);
      const bool packet_compare = shape == Shape::JmpReg && a.is_pointer() && b.is_pointer() &&
                                  (a.is_packet() || b.is_packet()) && jr && jr->bits == 64;
      if (can_take && can_fall) {
        // Only a two-way branch copies the state.
        VerifierState taken_state = st;
        if (packet_compare) refine_packet_branch(jr->op, d.insn.dst, d.insn.src, &taken_state, &st);
        apply(taken_state, on_taken);
        out.fork.emplace(d.target, std::move(taken_state));
        apply(st, on_fall);
      } else if (can_take) {
        if (packet_compare) refine_packet_branch(jr->op, d.insn.dst, d.insn.src, &st, nullptr);
        apply(st, on_taken);
        next = d.target;
      } else {
        if (packet_compare) refine_packet_branch(jr->op, d.insn.dst, d.insn.src, nullptr, &st);
        apply(st, on_fall);
      }
      break;
    }
    case Shape::CallHelper: {
      // A helper taking a callback forks: the callback entered once more (from the state
      // before the call), or not (callbacks.hpp).
      std::optional<VerifierState> before;
      if (calls_callback(ctx.options, d)) before = st;
      if (auto e = check_helper_call(ctx.options, d.insn.imm, st, pc)) return fail(*e);
      if (before) {
        std::size_t target = 0;
        if (auto e = enter_callback(ctx.options, d, pc, *before, target)) return fail(*e);
        out.fork.emplace(target, std::move(*before));
      }
      break;
    }
    case Shape::Callx:
    case Shape::CallBtf:
      return fail(fmt::format("callx and kfunc calls are not supported yet ({} {})",
                              d.row->mnemonic, d.insn.imm));
    case Shape::CallLocal: {
      if (st.frames.size() >= max_call_frames)
        return fail(fmt::format("the call stack of {} frames is too deep", st.frames.size() + 1));
      Frame callee;
      for (int r = 1; r <= 5; ++r)
        callee.regs[static_cast<std::size_t>(r)] = regs[static_cast<std::size_t>(r)];
      callee.regs[frame_pointer] =
          RegValue::stack_pointer(static_cast<std::uint8_t>(st.frames.size()), 0);
      callee.callsite = pc;
      st.frames.push_back(std::move(callee));
      next = d.target;
      break;
    }
    case Shape::Exit: {
      const RegValue r0 = regs[0];
      if (!r0.is_init()) return fail("R0 !read_ok");
      if (st.current().callback_of >= 0) {
        if (auto e = exit_callback(st, next)) return fail(*e);
        break;
      }
      if (st.frames.size() == 1) {
        if (auto e = check_reference_leak(st, false)) return fail(*e);
        if (r0.is_pointer()) return fail("R0 leaks addr as return value");
        if (auto e = check_return_code(ctx.options, r0)) return fail(*e);
        out.finished = true;
        return out;
      }
      if (r0.kind == RegKind::stack && r0.frame == st.depth())
        return fail("cannot return stack pointer to the caller");
      const std::size_t callsite = st.current().callsite;
      out.ended_frame_depth = st.current().stack.depth();
      st.frames.pop_back();
      Regs& caller = st.current().regs;
      caller[0] = r0;
      for (int r = 1; r <= 5; ++r) caller[static_cast<std::size_t>(r)] = RegValue::uninit();
      next = callsite + 1;
      break;
    }
  }
  pc = next;
  return out;
}

}  // namespace bpfvm::verifier
