// Context-access rewriting (Linux's convert_ctx_accesses): every load and store through the
// context pointer is replaced by accesses to the internal context (kernel_context.hpp), and
// jumps are relocated when an access expands to more than one instruction.
#include "progtypes/context_dataflow.hpp"
#include "progtypes/context_layout.hpp"

#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>

#include <algorithm>

#include <limits>

namespace bpfvm {
namespace {

using progtypes::AccessPlan;
using progtypes::Value;
using Kind = Value::Kind;

// BPF_SIZE bits of a load or store opcode for `bytes`.
std::uint8_t size_bits(int bytes) {
  switch (bytes) {
    case 1: return 0x10;   // BPF_B
    case 2: return 0x08;   // BPF_H
    case 4: return 0x00;   // BPF_W
    default: return 0x18;  // BPF_DW
  }
}

std::string register_name(int reg) { return fmt::format("r{}", reg); }

Error access_error(std::size_t index, std::string message) {
  return insn_error(Error::Kind::invalid_program, index, std::move(message));
}

// Checks that `base` may be dereferenced, naming what is wrong when it may not. A base that
// is uninitialised on every path reaching the instruction is left alone: no path can run it
// with that register written, so it is dead code (the verifier proves such edges impossible,
// and Linux removes that code after verifying), or, unverified, a read of a register holding
// no address, which checked mode refuses at run time.
std::optional<Error> check_base(std::size_t index, int reg, const Value& base,
                                std::int16_t offset) {
  if (base.kind == Kind::mixed)
    return access_error(index, fmt::format("{} holds the context pointer on some paths and "
                                           "another value on others: the access at offset {} "
                                           "cannot be rewritten (ambiguous context access)",
                                           register_name(reg), offset));
  if (base.kind == Kind::ctx_modified)
    return access_error(index, fmt::format("dereference of a modified context pointer in {} "
                                           "(offset {}): access context fields as [{}+offset]",
                                           register_name(reg), offset, register_name(reg)));
  return std::nullopt;
}

Result<std::vector<Insn>> rewrite_access(ProgramType type, std::size_t index,
                                         const DecodedInsn& d) {
  const Insn& insn = d.insn;
  const Shape shape = d.row->shape;
  const int size = access_size(*d.row);
  const bool write = shape != Shape::Load;
  if (shape == Shape::Atomic)
    return access_error(index,
                        fmt::format("atomic operation on the context (offset {})", insn.offset));
  if (shape == Shape::Load && (insn.opcode & 0xe0) == 0x80)
    return access_error(index, fmt::format("sign-extending load from the context (offset {}) "
                                           "is not supported",
                                           insn.offset));
  auto planned = progtypes::plan_access(type, insn.offset, size, write);
  if (auto* why = std::get_if<std::string>(&planned)) return access_error(index, *why);
  const AccessPlan plan = std::get<AccessPlan>(planned);

  Insn out = insn;
  out.offset = plan.internal_offset;
  const std::uint8_t mode_class = insn.opcode & 0xe7;  // the opcode without its size bits
  switch (plan.kind) {
    case AccessPlan::Kind::load:
      out.opcode = static_cast<std::uint8_t>(mode_class | size_bits(plan.size));
      return std::vector<Insn>{out};
    case AccessPlan::Kind::load_zero:
      return std::vector<Insn>{
          Insn{.opcode = 0xb7, .dst = insn.dst, .src = 0, .offset = 0, .imm = 0}};
    case AccessPlan::Kind::store:
      out.opcode = static_cast<std::uint8_t>(mode_class | size_bits(plan.size));
      return std::vector<Insn>{out};
    case AccessPlan::Kind::store_queue_mapping: {
      // NO_QUEUE_MAPPING (0xffff) and above leave skb->queue_mapping alone
      // (bpf_convert_ctx_access, __sk_buff.queue_mapping).
      out.opcode = static_cast<std::uint8_t>(mode_class | size_bits(2));
      if (shape == Shape::StoreImm) {
        if (static_cast<std::uint32_t>(insn.imm) >= 0xffff)
          return std::vector<Insn>{Insn{.opcode = 0x05}};  // ja +0
        return std::vector<Insn>{out};
      }
      return std::vector<Insn>{
          Insn{.opcode = 0x35, .dst = insn.src, .src = 0, .offset = 1, .imm = 0xffff},  // jge
          out};
    }
  }
  return std::vector<Insn>{insn};
}

// A callback (bpf_loop, bpf_for_each_map_elem) gets a pointer into its caller's stack; were
// the context spilled there, the callback could load it through that pointer, which the
// dataflow does not follow, and read the internal context unrewritten. Linux's verifier
// follows it; bpfvm refuses such programs at the helper call rather than run them wrongly.
std::optional<Error> check_callback_reach(std::size_t index, const DecodedInsn& d,
                                          const progtypes::FlowState& state, bool has_callbacks) {
  if (!has_callbacks || d.row->shape != Shape::CallHelper) return std::nullopt;
  for (const auto& [offset, value] : state.slots)
    if (value.is_ctx_derived() || value.kind == Kind::mixed)
      return access_error(
          index, fmt::format("the context pointer is spilled at fp{} when a helper is called, "
                             "and a callback could reach it there; bpfvm cannot follow the "
                             "context into callbacks: keep it off the stack around bpf_loop "
                             "and bpf_for_each_map_elem",
                             offset));
  return std::nullopt;
}

// What one reached slot becomes.
Result<std::vector<Insn>> rewrite_slot(ProgramType type, std::size_t index, const DecodedInsn& d,
                                       const progtypes::FlowState& state) {
  const Insn& insn = d.insn;
  const Shape shape = d.row->shape;
  if (shape == Shape::LdAbs || shape == Shape::LdInd) {
    // Linux's check_ld_abs: only types with an skb, and r6 must hold the context.
    if (type != ProgramType::socket_filter && type != ProgramType::sched_cls)
      return access_error(
          index, fmt::format("{} programs may not use LD_ABS or LD_IND", program_type_name(type)));
    if (state.regs[6].kind != Kind::ctx)
      return access_error(index, "LD_ABS and LD_IND need the context pointer in r6");
    return std::vector<Insn>{insn};
  }
  const bool is_load = shape == Shape::Load;
  const bool is_store =
      shape == Shape::StoreImm || shape == Shape::StoreReg || shape == Shape::Atomic;
  if (!is_load && !is_store) return std::vector<Insn>{insn};
  const int base_reg = is_load ? insn.src : insn.dst;
  const Value base = state.regs[base_reg];
  if (auto error = check_base(index, base_reg, base, insn.offset)) return *error;
  if (is_store && shape != Shape::StoreImm) {
    const Value stored = state.regs[insn.src];
    if (stored.is_ctx_derived() || stored.kind == Kind::mixed) {
      // Elsewhere than the stack the pointer would be lost to the dataflow, and a load of it
      // would reach the internal context unrewritten.
      const char* maybe = stored.kind == Kind::mixed ? " on some paths" : "";
      if (base.kind != Kind::stack)
        return access_error(
            index, fmt::format("{} (the context pointer{}) may only be spilled to the stack",
                               register_name(insn.src), maybe));
      if (access_size(*d.row) != 8 || shape == Shape::Atomic)
        return access_error(index, fmt::format("partial spill of {} (the context pointer{})",
                                               register_name(insn.src), maybe));
    }
  }
  if (base.kind != Kind::ctx) return std::vector<Insn>{insn};
  return rewrite_access(type, index, d);
}

// Jump and call offsets in the rewritten program.
Status relocate(std::span<const DecodedInsn> decoded, const std::vector<std::size_t>& start,
                std::vector<Insn>& out) {
  auto new_index = [&](std::size_t old) { return static_cast<std::int64_t>(start[old]); };
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    const DecodedInsn& d = decoded[i];
    if (d.row == nullptr) continue;
    const Shape shape = d.row->shape;
    const std::int64_t at = new_index(i);
    Insn& insn = out[static_cast<std::size_t>(at)];
    if (is_jump(shape) || shape == Shape::CallLocal) {
      const std::int64_t delta = new_index(d.target) - at - 1;
      if (shape == Shape::Ja32 || shape == Shape::CallLocal) {
        insn.imm = static_cast<std::int32_t>(delta);
      } else {
        if (delta < std::numeric_limits<std::int16_t>::min() ||
            delta > std::numeric_limits<std::int16_t>::max())
          return access_error(i, "jump offset out of range after context-access rewriting");
        insn.offset = static_cast<std::int16_t>(delta);
      }
    } else if (shape == Shape::Lddw && d.insn.src == lddw_src::func) {
      const std::int64_t target = static_cast<std::int64_t>(i) + d.insn.imm + 1;
      if (target >= 0 && static_cast<std::size_t>(target) < decoded.size())
        insn.imm = static_cast<std::int32_t>(new_index(static_cast<std::size_t>(target)) - at - 1);
    }
  }
  return Ok{};
}

}  // namespace

Result<std::vector<Insn>> rewrite_context_access(ProgramType type, std::span<const Insn> insns) {
  if (!program_type_supported(type))
    return make_error(Error::Kind::usage,
                      fmt::format("program type {} ({}) is not supported", program_type_name(type),
                                  static_cast<std::uint32_t>(type)));
  if (type == ProgramType::raw) return std::vector<Insn>(insns.begin(), insns.end());
  auto decoded = decode(insns);
  if (!decoded) return decoded.error();
  const auto states = progtypes::context_dataflow(*decoded);
  const bool has_callbacks =
      std::any_of(decoded->begin(), decoded->end(), [](const DecodedInsn& d) {
        return d.row != nullptr && d.row->shape == Shape::Lddw && d.insn.src == lddw_src::func;
      });

  std::vector<std::vector<Insn>> pieces(insns.size());
  bool expanded = false;
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const DecodedInsn& d = (*decoded)[i];
    if (d.row == nullptr || !states[i]) {
      pieces[i] = {insns[i]};
      continue;
    }
    if (auto error = check_callback_reach(i, d, *states[i], has_callbacks)) return *error;
    auto piece = rewrite_slot(type, i, d, *states[i]);
    if (!piece) return piece.error();
    expanded = expanded || piece->size() != 1;
    pieces[i] = std::move(*piece);
  }
  std::vector<std::size_t> start(insns.size() + 1, 0);
  for (std::size_t i = 0; i < insns.size(); ++i) start[i + 1] = start[i] + pieces[i].size();
  std::vector<Insn> out;
  out.reserve(start.back());
  for (auto& piece : pieces) out.insert(out.end(), piece.begin(), piece.end());
  if (expanded) {
    if (auto ok = relocate(*decoded, start, out); !ok) return ok.error();
  }
  return out;
}

Result<Program> load_typed_program(std::span<const Insn> insns, const LoadOptions& options) {
  auto rewritten = rewrite_context_access(options.type, insns);
  if (!rewritten) return rewritten.error();
  // Only the helpers the type may call are bound. A call to another is left to fail if made,
  // as a call to an unknown id is (Program::load): Linux refuses it only where its verifier
  // reaches it ("program of this type cannot use helper", check_helper_call), and so does
  // bpfvm's. callx cannot reach the others either.
  HelperRegistry allowed;
  if (options.helpers != nullptr)
    for (const auto& [id, helper] : options.helpers->all())
      if (helper_allowed(options.type, id))
        if (Status added = allowed.add(helper); !added) return added.error();
  LoadOptions typed = options;
  typed.helpers = &allowed;
  return Program::load(*rewritten, typed);
}

}  // namespace bpfvm
