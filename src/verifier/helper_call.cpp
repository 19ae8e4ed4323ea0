#include "verifier/helper_call.hpp"

#include "verifier/helper_args.hpp"
#include "verifier/map_access.hpp"
#include "verifier/packet_access.hpp"
#include "verifier/socket_access.hpp"

#include <bpfvm/linux_prototypes.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>

#include <iterator>

namespace bpfvm::verifier {
namespace {

// bpfvm's name of a kind, with Linux's: "const_map_ptr (ARG_CONST_MAP_PTR)".
std::string arg_name(ArgKind k) {
  const auto n = static_cast<unsigned>(k);
  // clang-format off
  static constexpr const char* names[] = {
      "none", "anything", "const_map_ptr", "map_key", "map_value", "mem", "mem_or_null",
      "uninit_mem", "const_size", "const_size_or_zero", "ctx", "func", "stack_or_null",
      "long_ptr", "const_str", "ringbuf_record", "const_alloc_size", "map_value_or_null",
      "uninit_map_value", "writable_mem", "writable_mem_or_null", "int_ptr", "fixed_size_mem",
      "ctx_or_null", "spin_lock", "timer", "sock_common", "socket", "socket_or_null",
      "btf_id_sock_common", "release_sock_common", "btf_id", "btf_id_or_null",
      "release_btf_id_or_null", "percpu_btf_id", "kptr_xchg_dest", "dynptr", "uninit_dynptr",
      "release_dynptr", "unsafe_ptr", "const_sized_uninit_mem", "const_sized_mem",
      "exact_const_size"};
  // clang-format on
  static_assert(std::size(names) == static_cast<std::size_t>(ArgKind::exact_const_size) + 1);
  return fmt::format("{} ({})", n < std::size(names) ? names[n] : "?", linux_kind_name(k));
}

// The size of a built-in's const_sized_* pointers: its exact_const_size argument, a scalar
// known exactly (not a bounded range: the verifier would have to judge every length in it).
Result<std::uint64_t> exact_size_of(const HelperPrototype& proto,
                                    const std::array<RegValue, register_count>& regs,
                                    std::string_view helper_name) {
  for (int i = 0; i < 5; ++i) {
    if (proto.args[i] != ArgKind::exact_const_size) continue;
    const int reg = i + 1;
    const RegValue& size = regs[static_cast<std::size_t>(reg)];
    auto fail = [&](std::string what) { return make_error(Error::Kind::invalid_program, what); };
    if (!size.is_init()) return fail(fmt::format("R{} !read_ok", reg));
    if (!size.is_scalar()) return fail(fmt::format("R{} leaks addr into helper function", reg));
    if (!size.value.is_const())
      return fail(fmt::format("R{} {}'s size must be a known constant: {}", reg, helper_name,
                              to_string(size.value)));
    if (size.value.const_value() > (std::uint64_t{1} << 29) - 1)  // Linux's BPF_MAX_VAR_SIZ
      return fail(
          fmt::format("R{} {}'s size {} is too large", reg, helper_name, size.value.const_value()));
    return size.value.const_value();
  }
  return make_error(
      Error::Kind::invalid_program,
      fmt::format("helper {}: no exact_const_size argument sizes its memory", helper_name));
}

bool is_null(const RegValue& v) {
  return v.is_scalar() && v.value.is_const() && v.value.const_value() == 0;
}

// Whether the key `key` points at is an index the array `map` has, so that its lookup cannot
// fail (Linux 6.13+, get_constant_map_key and can_elide_value_nullness). Only what Linux
// proves, never more, so that we accept nothing it rejects: array and percpu_array maps; a
// stack key at a constant offset whose bytes lie in one 8-byte slot and were all stored as
// zero (STACK_ZERO: key 0). Linux also reads a constant from a spilled scalar of exactly the
// key's size, which this stack does not record for 4-byte stores: those keys stay unknown.
bool constant_array_key_in_range(const VerifierState& st, const RegValue& key, const MapSpec& map) {
  if (map.type != MapType::array && map.type != MapType::percpu_array) return false;
  if (key.kind != RegKind::stack || !key.value.is_const() || map.max_entries == 0) return false;
  const auto off = static_cast<std::int64_t>(key.value.const_value());
  const auto n = static_cast<std::int64_t>(map.key_size);
  if (n == 0 || off < -static_cast<std::int64_t>(stack_frame_size) || off + n > 0) return false;
  const std::int64_t base = static_cast<std::int64_t>(stack_frame_size);
  if ((off + base) / 8 != (off + n - 1 + base) / 8) return false;  // one slot
  const StackState& stack = st.frames[key.frame].stack;
  for (std::int64_t i = off; i < off + n; ++i)
    if (stack.byte(static_cast<int>(i)) != StackByte::zero) return false;
  return true;  // key 0, and the array has at least one entry
}

// How a helper uses the memory an argument points at.
enum class MemUse : std::uint8_t {
  read,        // ARG_PTR_TO_MEM | MEM_RDONLY: every byte initialised
  write,       // ARG_PTR_TO_UNINIT_MEM, ARG_PTR_TO_LONG/INT: filled, need not be initialised
  read_write,  // ARG_PTR_TO_MEM without MEM_RDONLY (bpf_fib_lookup's params): both
};

// `size` bytes at pointer `p` (stack or sized context, constant offset) used as `use` says:
// read bytes must be initialised; written stack bytes become misc (the helper wrote
// something: Linux's check_stack_range_initialized with clobber).
std::optional<std::string> access(const VerifyOptions& options, VerifierState& st, int reg,
                                  const RegValue& p, std::uint64_t size, MemUse use) {
  const bool write = use != MemUse::read;
  const bool read = use != MemUse::write;
  if (size == 0) return std::nullopt;
  if (p.kind == RegKind::packet || p.kind == RegKind::packet_meta)  // the proven range
    return check_packet_access(options, p, reg, 0, static_cast<std::int64_t>(size), write);
  if (p.is_pointer() && p.kind != RegKind::stack && p.kind != RegKind::ctx)
    return check_object_access(p, reg, 0, static_cast<std::int64_t>(size), read, write);
  if (!p.value.is_const())
    return fmt::format("R{} variable-offset pointer passed to a helper: not supported", reg);
  const auto off = static_cast<std::int64_t>(p.value.const_value());
  const auto n = static_cast<std::int64_t>(size);
  if (p.kind == RegKind::stack) {
    if (off < -static_cast<std::int64_t>(stack_frame_size) || off + n > 0)
      return fmt::format("invalid indirect access to stack R{} off={} size={}", reg, off, n);
    StackState& stack = st.frames[p.frame].stack;
    if (read)
      for (std::int64_t i = off; i < off + n; ++i)
        if (stack.byte(static_cast<int>(i)) == StackByte::invalid)
          return fmt::format(
              "invalid indirect read from stack R{} off={} size={} (byte fp{} "
              "never written)",
              reg, off, n, i);
    if (write) {
      // Linux: helpers may not overwrite spilled pointers with data.
      for (std::int64_t i = off; i < off + n; ++i)
        if (stack.byte(static_cast<int>(i)) == StackByte::spill &&
            stack.spilled(static_cast<int>(i)).is_pointer())
          return fmt::format("helper would overwrite spilled pointer at fp{}", i);
      stack.clobber(static_cast<int>(off), static_cast<int>(n));
    }
    return std::nullopt;
  }
  if (p.kind == RegKind::ctx) {
    // A typed context is no memory argument (Linux: only the raw bytes of a sized context
    // here; the kernel's own context layout differs from the uapi one).
    if (options.type != ProgramType::raw)
      return fmt::format("R{} type=ctx expected=fp, pkt, pkt_meta", reg);
    if (!options.context_size)
      return fmt::format("cannot bound the helper's access through R{}: raw context", reg);
    if (off < 0 || off + n > static_cast<std::int64_t>(*options.context_size))
      return fmt::format("invalid access to context through R{} off={} size={}", reg, off, n);
    if (write && !options.context_writable)
      return fmt::format("helper would write the read-only context through R{}", reg);
    return std::nullopt;
  }
  return fmt::format("R{} type={} expected=fp or ctx", reg, to_string(p));
}

// A pointer spilled in the `size` stack bytes at `p`, which a built-in would read as data.
std::optional<std::string> spilled_pointer_in(const VerifierState& st, int reg, const RegValue& p,
                                              std::uint64_t size, std::string_view helper_name) {
  if (p.kind != RegKind::stack || !p.value.is_const()) return std::nullopt;
  const auto off = static_cast<std::int64_t>(p.value.const_value());
  const StackState& stack = st.frames[p.frame].stack;
  for (std::int64_t i = off; i < off + static_cast<std::int64_t>(size); ++i)
    if (stack.byte(static_cast<int>(i)) == StackByte::spill &&
        stack.spilled(static_cast<int>(i)).is_pointer())
      return fmt::format("R{} {} would read the spilled pointer at fp{} as data", reg, helper_name,
                         i);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_helper_call(const VerifyOptions& options, std::int32_t id,
                                             VerifierState& st, std::size_t pc) {
  // The loader's poison (libbpf's id): a call to a function the object does not define, such
  // as a memset or memcpy clang left as a call. Linux refuses such objects at load; say so
  // rather than blame the program type.
  if (static_cast<std::uint32_t>(id) == poison_helper_id)
    return fmt::format(
        "call {:#x}: a call to a function the object does not define (poisoned by the loader)",
        poison_helper_id);
  // An id neither the registry nor Linux knows (Linux: get_helper_proto's "invalid func",
  // before the type's list is asked).
  const auto uid = static_cast<std::uint32_t>(id);
  if ((options.helpers == nullptr || options.helpers->find(uid) == nullptr) &&
      (id <= 0 || linux_helper_info(uid) == nullptr))
    return fmt::format("invalid func unknown#{}", id);
  // The helpers the program type may call (Linux: the type's get_func_proto).
  if (options.type != ProgramType::raw &&
      !helper_allowed(options.type, static_cast<std::uint32_t>(id)))
    return fmt::format("program of type {} cannot call helper {}", program_type_name(options.type),
                       id);
  const Helper* helper =
      options.helpers ? options.helpers->find(static_cast<std::uint32_t>(id)) : nullptr;
  // A helper the registry lacks is checked against Linux's prototype for the id when asked
  // (VerifyOptions::linux_prototypes): the program is meant for the kernel, or bpfvm cannot
  // run it yet.
  const LinuxHelperInfo* linux_info = helper == nullptr && options.linux_prototypes && id > 0
                                          ? linux_helper_info(static_cast<std::uint32_t>(id))
                                          : nullptr;
  if (helper == nullptr && linux_info == nullptr) return fmt::format("invalid func unknown#{}", id);
  if (helper != nullptr && !helper->prototype)
    return fmt::format("helper {} ({}) has no prototype: it cannot be verified", id, helper->name);
  const HelperPrototype& proto = helper != nullptr ? *helper->prototype : linux_info->prototype;
  const std::string_view helper_name = helper != nullptr ? helper->name : linux_info->name;
  if (!return_kind_supported(proto.returns))
    return fmt::format("helper {} ({}): its return kind is not supported yet ({})", id, helper_name,
                       linux_kind_name(proto.returns));
  auto& regs = st.current().regs;
  CallMeta meta;
  meta.ptr_cast = id == 95 /* sk_fullsock */ || id == 96 /* tcp_sock */;
  const MemCheck mem = [&](int r, const RegValue& p, std::uint64_t size, bool write) {
    if (!p.is_pointer())
      return std::optional<std::string>(fmt::format("R{} type={} expected=fp", r, to_string(p)));
    return access(options, st, r, p, size, write ? MemUse::write : MemUse::read);
  };
  // bpfvm's built-ins (memcpy): the destination is written after every source is read, so
  // that an overlapping source is judged by the bytes before the call.
  std::optional<std::pair<int, std::uint64_t>> sized_write;
  for (int i = 0; i < 5; ++i) {
    const int reg = i + 1;
    const ArgKind kind = proto.args[i];
    const RegValue v = regs[static_cast<std::size_t>(reg)];
    if (kind == ArgKind::none) continue;
    if (!v.is_init()) return fmt::format("R{} !read_ok", reg);
    switch (kind) {
      case ArgKind::anything:
      case ArgKind::const_size:
      case ArgKind::const_size_or_zero:
      case ArgKind::exact_const_size:  // checked with the pointers it sizes
        if (v.is_pointer()) return fmt::format("R{} leaks addr into helper function", reg);
        break;
      case ArgKind::const_sized_uninit_mem:
      case ArgKind::const_sized_mem: {
        auto size = exact_size_of(proto, regs, helper_name);
        if (!size) return size.error().message;
        if (!v.is_pointer())
          return fmt::format("R{} type={} expected=fp, pkt, map_value", reg, to_string(v));
        if (kind == ArgKind::const_sized_mem) {
          if (auto e = access(options, st, reg, v, *size, MemUse::read)) return e;
          // Copied or compared as bytes, a spilled pointer would become a scalar the
          // program could store anywhere (Linux: an unprivileged helper read of a spill).
          if (auto e = spilled_pointer_in(st, reg, v, *size, helper_name)) return e;
        } else if (sized_write) {
          return fmt::format("helper {} ({}): two destinations", id, helper_name);
        } else {
          sized_write = std::pair{reg, *size};
        }
        break;
      }
      case ArgKind::ctx:
        if (v.kind != RegKind::ctx || !v.value.is_const() || v.value.const_value() != 0)
          return fmt::format("R{} type={} expected=ctx", reg, to_string(v));
        break;
      case ArgKind::unsafe_ptr:  // any value: the helper probes the address (probe_read)
        break;
      case ArgKind::ctx_or_null:  // ARG_PTR_TO_CTX_OR_NULL: r1 unmoved, or the constant 0
        if (is_null(v)) break;
        if (v.kind != RegKind::ctx || !v.value.is_const() || v.value.const_value() != 0)
          return fmt::format("R{} type={} expected=ctx or null", reg, to_string(v));
        break;
      case ArgKind::stack_or_null:
        if (v.kind != RegKind::stack && !is_null(v))
          return fmt::format("R{} type={} expected=fp or null", reg, to_string(v));
        break;
      case ArgKind::long_ptr:
        if (v.kind != RegKind::stack)
          return fmt::format("R{} type={} expected=fp", reg, to_string(v));
        if (!v.value.is_const() || static_cast<std::int64_t>(v.value.const_value()) % 8 != 0)
          return fmt::format("R{} misaligned long pointer {}", reg, to_string(v));
        if (auto e = access(options, st, reg, v, 8, MemUse::write)) return e;
        break;
      case ArgKind::mem:
      case ArgKind::mem_or_null:
      case ArgKind::uninit_mem:
      case ArgKind::writable_mem:
      case ArgKind::writable_mem_or_null: {
        const ArgKind size_kind = i < 4 ? proto.args[i + 1] : ArgKind::none;
        if (size_kind != ArgKind::const_size && size_kind != ArgKind::const_size_or_zero)
          return fmt::format("helper {}: argument {} ({}) is not followed by a size", id, reg,
                             arg_name(kind));
        const RegValue size = regs[static_cast<std::size_t>(reg + 1)];
        if (!size.is_init()) return fmt::format("R{} !read_ok", reg + 1);
        if (!size.is_scalar()) return fmt::format("R{} leaks addr into helper function", reg + 1);
        if (size.value.umin == 0 && size_kind == ArgKind::const_size)
          return fmt::format("R{} invalid zero-sized read: {}", reg + 1, to_string(size.value));
        // Map values, keys and records are bounded by their own size (check_object_access),
        // up to Linux's BPF_MAX_VAR_SIZ.
        const bool object = v.is_pointer() && v.kind != RegKind::stack && v.kind != RegKind::ctx;
        if (size.value.umax > (object ? (std::uint64_t{1} << 29) - 1 : stack_frame_size) &&
            !(v.kind == RegKind::ctx && options.context_size &&
              size.value.umax <= *options.context_size) &&
            !(v.is_packet() && size.value.umax <= static_cast<std::uint64_t>(max_packet_offset)))
          return fmt::format(
              "R{} unbounded memory access, use 'var &= const' or 'if (var < "
              "const)': {}",
              reg + 1, to_string(size.value));
        const bool nullable = kind == ArgKind::mem_or_null || kind == ArgKind::writable_mem_or_null;
        if (nullable && is_null(v)) {
          if (size.value.umax != 0)
            return fmt::format("R{} is null but R{} may be nonzero", reg, reg + 1);
          break;
        }
        if (!v.is_pointer())
          return fmt::format("R{} type={} expected=fp or ctx", reg, to_string(v));
        const MemUse use = kind == ArgKind::uninit_mem ? MemUse::write
                           : kind == ArgKind::writable_mem || kind == ArgKind::writable_mem_or_null
                               ? MemUse::read_write
                               : MemUse::read;
        if (auto e = access(options, st, reg, v, size.value.umax, use)) return e;
        break;
      }
      case ArgKind::fixed_size_mem: {  // ARG_PTR_TO_FIXED_SIZE_MEM | MEM_RDONLY: arg_size bytes
        const std::uint16_t size = proto.arg_size[i];
        if (size == 0)
          return fmt::format("helper {}: argument {} (fixed_size_mem) has no size", id, reg);
        if (!v.is_pointer())
          return fmt::format("R{} type={} expected=fp, pkt, map_value", reg, to_string(v));
        if (auto e = access(options, st, reg, v, size, MemUse::read)) return e;
        break;
      }
      case ArgKind::int_ptr:  // ARG_PTR_TO_INT: as long_ptr, 4 aligned bytes
        if (v.kind != RegKind::stack)
          return fmt::format("R{} type={} expected=fp", reg, to_string(v));
        if (!v.value.is_const() || static_cast<std::int64_t>(v.value.const_value()) % 4 != 0)
          return fmt::format("R{} misaligned int pointer {}", reg, to_string(v));
        if (auto e = access(options, st, reg, v, 4, MemUse::write)) return e;
        break;
      default:
        if (is_socket_arg_kind(kind)) {
          if (auto e = check_socket_arg(kind, reg, v, meta)) return e;
          break;
        }
        if (is_map_arg_kind(kind)) {
          if (auto e =
                  check_map_arg(options, static_cast<std::uint32_t>(id), kind, reg, v, meta, mem))
            return e;
          if (kind == ArgKind::map_key && id == 1 /* map_lookup_elem */)
            meta.value_not_null = constant_array_key_in_range(st, v, *meta.map);
          break;
        }
        return fmt::format("helper {} ({}): argument kind {} is not supported yet", id, helper_name,
                           arg_name(kind));
    }
  }
  if (sized_write) {
    const auto [reg, size] = *sized_write;
    const RegValue v = regs[static_cast<std::size_t>(reg)];
    if (auto e = access(options, st, reg, v, size, MemUse::write)) return e;
  }
  // r0 = r1 (ReturnKind::first_argument), taken before the arguments are unset.
  meta.first_argument = regs[1];
  if (meta.map != nullptr)
    if (auto e =
            check_map_func_compatibility(static_cast<std::uint32_t>(id), helper_name, *meta.map))
      return e;
  for (int r = 1; r <= 5; ++r) regs[static_cast<std::size_t>(r)] = RegValue::uninit();
  // The packet may have moved: no packet pointer is valid any more (clear_all_pkt_pointers).
  if (proto.changes_packet) clear_packet_pointers(st);
  return finish_call(proto, meta, pc, st);
}

}  // namespace bpfvm::verifier
