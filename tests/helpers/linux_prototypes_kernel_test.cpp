// The helper table and the per-type helper lists against the running kernel's verifier:
//  - every helper whose arguments a tiny program can build (scalars, the context, stack
//    memory and sizes, a map) is called with the arguments its prototype names, which the
//    kernel must accept, then with one argument of another kind at a time, which it must
//    reject exactly when the kinds differ for Linux;
//  - helper_allowed(type, id) for the tracing, cgroup, socket and lwt types is what the
//    kernel says when a program of that type calls the helper (but for the two helpers
//    helper_depends_on_kernel_config names, which this kernel may lack).
// Skipped where bpf(2) is refused. Loads go through libbpf's bpf_prog_load (for
// expected_attach_type and the verifier's log).
#include <bpfvm/insn.hpp>
#include <bpfvm/linux_prototypes.hpp>
#include <bpfvm/progtypes.hpp>

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

struct Loaded {
  bool ok = false;
  int error_number = 0;
  std::string log;
};

Loaded load(ProgramType type, const std::vector<Insn>& insns) {
  static char log[1 << 16];
  log[0] = '\0';
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  opts.log_level = 1;
  opts.log_size = sizeof log;
  opts.log_buf = log;
  if (type == ProgramType::cgroup_sock_addr) opts.expected_attach_type = BPF_CGROUP_INET4_CONNECT;
  const int fd =
      bpf_prog_load(static_cast<bpf_prog_type>(type), nullptr, "GPL",
                    reinterpret_cast<const bpf_insn*>(insns.data()), insns.size(), &opts);
  Loaded result;
  if (fd >= 0) {
    close(fd);
    result.ok = true;
    return result;
  }
  result.error_number = errno;
  result.log = log;
  return result;
}

// Why bpf(2) cannot be used here, or nullopt when it can.
std::optional<std::string> kernel_refusal() {
  static const std::optional<std::string> refusal = []() -> std::optional<std::string> {
    const std::vector<Insn> ok = {{.opcode = 0xb7}, {.opcode = 0x95}};
    const Loaded loaded = load(ProgramType::socket_filter, ok);
    if (loaded.ok) return std::nullopt;
    return fmt::format("BPF_PROG_LOAD failed with errno {}", loaded.error_number);
  }();
  return refusal;
}

#define SKIP_WITHOUT_KERNEL()                                                         \
  do {                                                                                \
    if (kernel_refusal()) GTEST_SKIP() << "bpf() unavailable: " << *kernel_refusal(); \
  } while (0)

// The types the lists cover, as the kernel numbers them (ProgramType is enum bpf_prog_type).
const ProgramType listed_types[] = {
    ProgramType::socket_filter, ProgramType::sched_cls,        ProgramType::sched_act,
    ProgramType::xdp,           ProgramType::kprobe,           ProgramType::tracepoint,
    ProgramType::perf_event,    ProgramType::raw_tracepoint,   ProgramType::cgroup_skb,
    ProgramType::cgroup_sock,   ProgramType::cgroup_sock_addr, ProgramType::sock_ops,
    ProgramType::sk_skb,        ProgramType::sk_msg,           ProgramType::lwt_in,
    ProgramType::lwt_out,       ProgramType::lwt_xmit};

// Where a helper has several protos by type, the table has the networking one (tc first).
const ProgramType prototype_types[] = {
    ProgramType::sched_cls,   ProgramType::xdp,        ProgramType::kprobe,
    ProgramType::perf_event,  ProgramType::cgroup_skb, ProgramType::sock_ops,
    ProgramType::sk_skb,      ProgramType::sk_msg,     ProgramType::cgroup_sock_addr,
    ProgramType::cgroup_sock, ProgramType::lwt_xmit,   ProgramType::socket_filter};

Insn mov(int dst, std::int32_t imm) {
  return {.opcode = 0xb7, .dst = static_cast<std::uint8_t>(dst), .imm = imm};
}
Insn mov_reg(int dst, int src) {
  return {
      .opcode = 0xbf, .dst = static_cast<std::uint8_t>(dst), .src = static_cast<std::uint8_t>(src)};
}
Insn add(int dst, std::int32_t imm) {
  return {.opcode = 0x07, .dst = static_cast<std::uint8_t>(dst), .imm = imm};
}
Insn call(std::uint32_t id) { return {.opcode = 0x85, .imm = static_cast<std::int32_t>(id)}; }
Insn exit_insn() { return {.opcode = 0x95}; }

TEST(KernelHelperLists, AllowedHelpersMatchTheKernel) {
  SKIP_WITHOUT_KERNEL();
  for (ProgramType type : listed_types) {
    EXPECT_FALSE(allowed_helpers(type).empty()) << program_type_name(type);
    for (std::uint32_t id = 1; id <= max_linux_helper_id; ++id) {
      const std::vector<Insn> insns = {mov(1, 0), mov(2, 0), mov(3, 0), mov(4, 0),
                                       mov(5, 0), call(id),  mov(0, 0), exit_insn()};
      const Loaded loaded = load(type, insns);
      const bool kernel_allows =
          loaded.ok || (loaded.log.find("unknown func") == std::string::npos &&
                        loaded.log.find("cannot use helper") == std::string::npos &&
                        loaded.log.find("invalid func") == std::string::npos);
      // probe_write_user and override_return: listed as a kernel that offers them sees
      // them; this one may be built or booted without them.
      if (helper_depends_on_kernel_config(type, id) && !kernel_allows) {
        EXPECT_TRUE(helper_allowed(type, id)) << program_type_name(type) << " " << id;
        continue;
      }
      EXPECT_EQ(kernel_allows, helper_allowed(type, id))
          << program_type_name(type) << " " << linux_helper_info(id)->name;
    }
  }
}

// ---- Prototypes.

// Owns a map fd.
struct MapFd {
  int fd = -1;
  ~MapFd() {
    if (fd >= 0) close(fd);
  }
};

// A map the helper accepts (Linux's check_map_func_compatibility ties some helpers to map
// types); nullopt for helpers whose map this test cannot make (attach-bound storage).
struct MapShape {
  bpf_map_type type;
  std::uint32_t key_size, value_size, max_entries;
};
std::optional<MapShape> map_for(std::uint32_t id) {
  switch (id) {
    case 12: return MapShape{BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1};
    case 22:
    case 25:
    case 55: return MapShape{BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1};
    case 27: return MapShape{BPF_MAP_TYPE_STACK_TRACE, 4, 64, 1};
    case 33:
    case 37: return MapShape{BPF_MAP_TYPE_CGROUP_ARRAY, 4, 4, 1};
    case 51: return MapShape{BPF_MAP_TYPE_DEVMAP, 4, 4, 1};
    case 52:
    case 53:
    case 60: return MapShape{BPF_MAP_TYPE_SOCKMAP, 4, 4, 1};
    case 70:
    case 71:
    case 72: return MapShape{BPF_MAP_TYPE_SOCKHASH, 4, 4, 1};
    case 87:
    case 88:
    case 89: return MapShape{BPF_MAP_TYPE_QUEUE, 0, 8, 1};
    case 130:
    case 134: return MapShape{BPF_MAP_TYPE_RINGBUF, 0, 0, 4096};
    case 195: return MapShape{BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1};
    case 1:
    case 2:
    case 3: return MapShape{BPF_MAP_TYPE_HASH, 4, 8, 1};
    default: return std::nullopt;
  }
}

bool buildable(ArgKind kind) {
  switch (kind) {
    case ArgKind::none:
    case ArgKind::anything:
    case ArgKind::unsafe_ptr:
    case ArgKind::ctx:
    case ArgKind::mem:
    case ArgKind::mem_or_null:
    case ArgKind::uninit_mem:
    case ArgKind::writable_mem:
    case ArgKind::const_size:
    case ArgKind::const_size_or_zero:
    case ArgKind::long_ptr:
    case ArgKind::int_ptr:
    case ArgKind::fixed_size_mem:
    case ArgKind::const_map_ptr:
    case ArgKind::map_key:
    case ArgKind::map_value:
    case ArgKind::ctx_or_null: return true;
    default: return false;
  }
}

// What one argument register gets in a variant of the program.
enum class Value {
  right,          // what the prototype asks for
  scalar_one,     // the scalar 1 (a non-null number)
  null,           // 0
  frame_pointer,  // r10 itself (a pointer where a number is expected)
  uninit_stack,   // a pointer to stack bytes never written
  zero,           // size 0
};

constexpr std::int16_t buffer = -256;  // 64 initialised bytes at fp-256
constexpr std::int32_t size = 16;

std::vector<Insn> program(const HelperPrototype& proto, std::uint32_t id, int map_fd, int arg,
                          Value value) {
  std::vector<Insn> insns = {mov_reg(6, 1)};
  for (int off = buffer; off < buffer + 64; off += 8)  // *(u64 *)(r10 + off) = 0
    insns.push_back({.opcode = 0x7a, .dst = 10, .offset = static_cast<std::int16_t>(off)});
  for (int i = 0; i < 5; ++i) {
    const int reg = i + 1;
    const ArgKind kind = proto.args[i];
    const Value v = i == arg ? value : Value::right;
    switch (v) {
      case Value::scalar_one: insns.push_back(mov(reg, 1)); continue;
      case Value::null:
      case Value::zero: insns.push_back(mov(reg, 0)); continue;
      case Value::frame_pointer: insns.push_back(mov_reg(reg, 10)); continue;
      case Value::uninit_stack:
        insns.push_back(mov_reg(reg, 10));
        insns.push_back(add(reg, -512));
        continue;
      case Value::right: break;
    }
    switch (kind) {
      case ArgKind::none: break;
      case ArgKind::anything:
      case ArgKind::unsafe_ptr: insns.push_back(mov(reg, 0)); break;
      case ArgKind::ctx:
      case ArgKind::ctx_or_null: insns.push_back(mov_reg(reg, 6)); break;
      case ArgKind::const_size:
      case ArgKind::const_size_or_zero: insns.push_back(mov(reg, size)); break;
      case ArgKind::long_ptr:
        insns.push_back(mov_reg(reg, 10));
        insns.push_back(add(reg, -8));
        break;
      case ArgKind::int_ptr:
        insns.push_back(mov_reg(reg, 10));
        insns.push_back(add(reg, -16));
        break;
      case ArgKind::const_map_ptr:
        insns.push_back(
            {.opcode = 0x18, .dst = static_cast<std::uint8_t>(reg), .src = 1, .imm = map_fd});
        insns.push_back({});
        break;
      default:  // memory, map keys and values: the initialised buffer
        insns.push_back(mov_reg(reg, 10));
        insns.push_back(add(reg, buffer));
        break;
    }
  }
  insns.push_back(call(id));
  insns.push_back(mov(0, 0));
  insns.push_back(exit_insn());
  return insns;
}

// Whether Linux accepts `value` for an argument of `kind` where the prototype says so.
// nullopt: the variant says nothing about the kind (root may pass pointers as numbers).
std::optional<bool> expected(ArgKind kind, Value value) {
  switch (value) {
    case Value::right: return true;
    case Value::scalar_one:
      if (kind == ArgKind::anything || kind == ArgKind::unsafe_ptr || kind == ArgKind::const_size ||
          kind == ArgKind::const_size_or_zero)
        return std::nullopt;
      return false;
    case Value::null:
      if (kind == ArgKind::ctx_or_null) return true;
      if (kind == ArgKind::ctx || kind == ArgKind::long_ptr || kind == ArgKind::int_ptr ||
          kind == ArgKind::const_map_ptr || kind == ArgKind::fixed_size_mem)
        return false;
      return std::nullopt;
    case Value::frame_pointer:
      // A size must be a number whatever the privilege; ARG_ANYTHING takes a pointer from
      // root (allow_ptr_leaks).
      if (kind == ArgKind::const_size || kind == ArgKind::const_size_or_zero) return false;
      return std::nullopt;
    case Value::uninit_stack:
      // Accepted for every memory kind: root may read uninitialised stack
      // (bpf_allow_uninit_stack), so only pointer kinds outside the stack reject it.
      if (kind == ArgKind::ctx || kind == ArgKind::ctx_or_null || kind == ArgKind::const_map_ptr)
        return false;
      return std::nullopt;
    case Value::zero:
      if (kind == ArgKind::const_size_or_zero) return true;
      if (kind == ArgKind::const_size) return false;
      return std::nullopt;
  }
  return std::nullopt;
}

TEST(KernelPrototypes, ArgumentKindsMatchTheKernel) {
  SKIP_WITHOUT_KERNEL();
  int helpers_checked = 0, programs = 0;
  std::vector<std::string> not_checked;
  for (const LinuxHelperInfo& info : linux_helper_table()) {
    const HelperPrototype& proto = info.prototype;
    bool can_build = proto.returns == ReturnKind::integer || proto.returns == ReturnKind::void_ ||
                     proto.returns == ReturnKind::no_return ||
                     proto.returns == ReturnKind::map_value_or_null;
    bool needs_map = false;
    for (ArgKind kind : proto.args) {
      can_build = can_build && buildable(kind);
      needs_map = needs_map || kind == ArgKind::const_map_ptr;
    }
    std::optional<ProgramType> type;
    for (ProgramType t : prototype_types)
      if (helper_allowed(t, info.id) && !helper_depends_on_kernel_config(t, info.id)) {
        type = t;
        break;
      }
    MapFd map;
    if (can_build && needs_map) {
      const auto shape = map_for(info.id);
      if (shape)
        map.fd = bpf_map_create(shape->type, nullptr, shape->key_size, shape->value_size,
                                shape->max_entries, nullptr);
      can_build = map.fd >= 0;
    }
    if (!can_build || !type) {
      not_checked.emplace_back(info.name);
      continue;
    }
    SCOPED_TRACE(fmt::format("{} ({}) as {}", info.name, info.id, program_type_name(*type)));
    const Loaded right = load(*type, program(proto, info.id, map.fd, -1, Value::right));
    ++programs;
    if (!right.ok && right.log.find("might sleep in a non-sleepable prog") != std::string::npos) {
      not_checked.emplace_back(std::string(info.name) + "(sleepable)");
      continue;
    }
    EXPECT_TRUE(right.ok) << "the prototype's own arguments were rejected:\n" << right.log;
    if (!right.ok) continue;
    for (int arg = 0; arg < argument_count(proto); ++arg) {
      const ArgKind kind = proto.args[arg];
      for (Value value : {Value::scalar_one, Value::null, Value::frame_pointer, Value::uninit_stack,
                          Value::zero}) {
        const auto expect = expected(kind, value);
        if (!expect) continue;
        const Loaded loaded = load(*type, program(proto, info.id, map.fd, arg, value));
        ++programs;
        EXPECT_EQ(loaded.ok, *expect) << "argument " << arg + 1 << " (" << linux_kind_name(kind)
                                      << ") given value " << static_cast<int>(value) << "\n"
                                      << loaded.log;
      }
    }
    ++helpers_checked;
  }
  std::string skipped;
  for (const auto& name : not_checked) skipped += " " + name;
  std::printf(
      "prototypes checked against the kernel: %d helpers, %d programs; not buildable "
      "here (%zu):%s\n",
      helpers_checked, programs, not_checked.size(), skipped.c_str());
  EXPECT_GT(helpers_checked, 100);
}

}  // namespace
}  // namespace bpfvm
