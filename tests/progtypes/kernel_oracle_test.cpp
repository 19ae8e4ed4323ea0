// bpfvm's program types against the Linux kernel: the same instructions loaded with
// BPF_PROG_LOAD as socket_filter, sched_cls or xdp and run with BPF_PROG_TEST_RUN on the same
// packets and contexts, then rewritten and run by bpfvm's harness (interpreter and JIT). Same
// verdict at load, same return value, same output packet, same ctx_out. Skips, saying why,
// where bpf() is refused.
#include "progtypes/clang_programs.hpp"
#include "progtypes/insn_builders.hpp"
#include "progtypes/packets.hpp"
#include "support/kernel_bpf.hpp"
#include "support/random_program.hpp"

#include <bpfvm/jit.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace bpfvm {
namespace {

using namespace test::build;
namespace kernel = test::kernel;
namespace pk = test::packets;

static_assert(offsetof(struct __sk_buff, hwtstamp) == 184 && sizeof(struct __sk_buff) == 192);
static_assert(offsetof(struct __sk_buff, tstamp) == 152 &&
              offsetof(struct __sk_buff, gso_size) == 176);
static_assert(offsetof(struct __sk_buff, data_meta) == 140 &&
              offsetof(struct __sk_buff, napi_id) == 84);
static_assert(sizeof(struct xdp_md) == 24 && offsetof(struct xdp_md, egress_ifindex) == 20);

const std::optional<std::string>& kernel_refusal() {
  static const std::optional<std::string> refusal = []() -> std::optional<std::string> {
    auto probe = kernel::probe();
    if (probe) return std::nullopt;
    return probe.error().to_string();
  }();
  return refusal;
}

#define SKIP_WITHOUT_KERNEL()                                                         \
  do {                                                                                \
    if (kernel_refusal()) GTEST_SKIP() << "bpf() unavailable: " << *kernel_refusal(); \
  } while (0)

kernel::ProgType kernel_type(ProgramType type) { return static_cast<kernel::ProgType>(type); }

// What ctx_in carries, in the kernel's struct and in bpfvm's.
struct Context {
  SkbMetadata skb;
  XdpMetadata xdp;
};

Context sample_context() {
  Context context;
  context.skb.mark = 0x11223344;
  context.skb.priority = 0x55667788;
  context.skb.ingress_ifindex = 1;
  context.skb.ifindex = 1;
  for (std::uint32_t i = 0; i < 5; ++i) context.skb.cb[i] = 0xa0b0c0d0u + i * 0x01010101u;
  context.skb.tstamp = 0x0102030405060708ull;
  context.skb.gso_segs = 0x0304;
  context.skb.gso_size = 0x0506;
  context.skb.hwtstamp = 0x1112131415161718ull;
  return context;
}

std::vector<std::uint8_t> kernel_ctx_in(ProgramType type, const Context& context,
                                        std::size_t packet_size) {
  if (type == ProgramType::xdp) {
    struct xdp_md md {};
    md.data = context.xdp.metadata_size;
    md.data_meta = 0;
    md.data_end = static_cast<std::uint32_t>(packet_size);
    md.ingress_ifindex = context.xdp.ingress_ifindex;
    md.rx_queue_index = context.xdp.rx_queue_index;
    std::vector<std::uint8_t> bytes(sizeof(md));
    std::memcpy(bytes.data(), &md, sizeof(md));
    return bytes;
  }
  struct __sk_buff skb {};
  skb.mark = context.skb.mark;
  skb.priority = context.skb.priority;
  skb.ingress_ifindex = context.skb.ingress_ifindex;
  skb.ifindex = context.skb.ifindex;
  for (int i = 0; i < 5; ++i) skb.cb[i] = context.skb.cb[i];
  skb.tstamp = context.skb.tstamp;
  skb.wire_len = context.skb.wire_len;
  skb.gso_segs = context.skb.gso_segs;
  skb.gso_size = context.skb.gso_size;
  skb.hwtstamp = context.skb.hwtstamp;
  std::vector<std::uint8_t> bytes(sizeof(skb));
  std::memcpy(bytes.data(), &skb, sizeof(skb));
  return bytes;
}

// ctx_out's fields as bpfvm reports them (tc_index, tc_classid and queue_mapping are not in
// ctx_out; the tests read them back inside the program).
SkbMetadata skb_from_kernel(const std::vector<std::uint8_t>& bytes) {
  struct __sk_buff skb {};
  std::memcpy(&skb, bytes.data(), std::min(bytes.size(), sizeof(skb)));
  SkbMetadata out;
  out.mark = skb.mark;
  out.priority = skb.priority;
  out.ingress_ifindex = skb.ingress_ifindex;
  out.ifindex = skb.ifindex;
  for (int i = 0; i < 5; ++i) out.cb[i] = skb.cb[i];
  out.tstamp = skb.tstamp;
  out.wire_len = skb.wire_len;
  out.gso_segs = skb.gso_segs;
  out.gso_size = skb.gso_size;
  out.hwtstamp = skb.hwtstamp;
  return out;
}

struct Outcome {
  bool loaded = false;
  std::string load_error;
  bool run_failed = false;  // BPF_PROG_TEST_RUN refused the input (or bpfvm's harness did)
  std::string run_error;
  std::uint32_t retval = 0;
  std::vector<std::uint8_t> packet;
  SkbMetadata skb;
};

Outcome run_kernel(ProgramType type, const std::vector<Insn>& insns,
                   const std::vector<std::uint8_t>& packet, const Context& context,
                   bool quiet = false) {
  Outcome outcome;
  kernel::ProgLoadOptions options{.type = kernel_type(type)};
  options.retry_with_log = !quiet;
  auto fd = kernel::load_program(insns, options);
  if (!fd) {
    outcome.load_error = fd.error().to_string();
    return outcome;
  }
  outcome.loaded = true;
  if (packet.empty()) return outcome;
  const auto ctx = kernel_ctx_in(type, context, packet.size());
  kernel::TestRunRequest request{
      .data_in = packet, .data_out_size = 4096, .ctx_in = ctx, .ctx_out_size = ctx.size()};
  auto run = kernel::test_run(*fd, request);
  if (!run) {
    outcome.run_failed = true;
    outcome.run_error = run.error().to_string();
    return outcome;
  }
  outcome.retval = run->retval;
  outcome.packet = run->data_out;
  if (type != ProgramType::xdp) outcome.skb = skb_from_kernel(run->ctx_out);
  return outcome;
}

HelperRegistry packet_registry(ProgramType type) {
  HelperRegistry registry;
  EXPECT_TRUE(add_packet_helpers(registry, type).ok());
  return registry;
}

// bpfvm's outcome with `engine`; the JIT's is compared with the interpreter's by callers.
Outcome run_bpfvm(ProgramType type, const std::vector<Insn>& insns,
                  const std::vector<std::uint8_t>& packet, const Context& context,
                  Engine engine = Engine::interpreter) {
  Outcome outcome;
  HelperRegistry registry = packet_registry(type);
  LoadOptions options;
  options.type = type;
  options.helpers = &registry;
  auto program = load_typed_program(insns, options);
  if (!program) {
    outcome.load_error = program.error().to_string();
    return outcome;
  }
  outcome.loaded = true;
  if (packet.empty()) return outcome;
  PacketRunInput input{.type = type, .packet = packet, .skb = context.skb, .xdp = context.xdp};
  auto run = run_packet(*program, input, engine);
  if (!run) {
    outcome.run_failed = true;
    outcome.run_error = run.error().to_string();
    return outcome;
  }
  outcome.retval = static_cast<std::uint32_t>(run->return_value);
  outcome.packet = run->packet;
  outcome.skb = run->skb;
  return outcome;
}

std::string describe(const std::vector<Insn>& insns) {
  std::string text;
  for (const Insn& insn : insns)
    text += fmt::format("{{{:#04x} {} {} {} {}}} ", insn.opcode, int{insn.dst}, int{insn.src},
                        insn.offset, insn.imm);
  return text;
}

// The whole comparison: load verdicts, then (when both load) r0, data_out and ctx_out, on
// the interpreter and the JIT. `loaded` says whether both loaded the program.
void expect_same_into(ProgramType type, const std::vector<Insn>& insns,
                      const std::vector<std::uint8_t>& packet, const Context& context,
                      bool compare_ctx_out, bool& loaded) {
  SCOPED_TRACE(fmt::format("{} program {}", program_type_name(type), describe(insns)));
  const Outcome linux_outcome = run_kernel(type, insns, packet, context);
  const Outcome ours = run_bpfvm(type, insns, packet, context);
  ASSERT_EQ(linux_outcome.loaded, ours.loaded)
      << "kernel: " << linux_outcome.load_error << "\nbpfvm: " << ours.load_error;
  loaded = ours.loaded;
  if (!ours.loaded || packet.empty()) return;
  ASSERT_EQ(linux_outcome.run_failed, ours.run_failed)
      << "kernel: " << linux_outcome.run_error << "\nbpfvm: " << ours.run_error;
  if (ours.run_failed) return;
  EXPECT_EQ(linux_outcome.retval, ours.retval);
  EXPECT_EQ(linux_outcome.packet, ours.packet);
  if (type != ProgramType::xdp && compare_ctx_out) {
    SkbMetadata comparable = ours.skb;  // ctx_out has no tc_index, tc_classid, queue_mapping
    comparable.tc_index = comparable.tc_classid = comparable.queue_mapping = 0;
    EXPECT_EQ(linux_outcome.skb, comparable);
  }
  if (jit_supported()) {
    const Outcome jit = run_bpfvm(type, insns, packet, context, Engine::jit);
    EXPECT_EQ(ours.retval, jit.retval) << "JIT";
    EXPECT_EQ(ours.packet, jit.packet) << "JIT";
  }
}

bool expect_same(ProgramType type, const std::vector<Insn>& insns,
                 const std::vector<std::uint8_t>& packet, const Context& context = {},
                 bool compare_ctx_out = true) {
  bool loaded = false;
  expect_same_into(type, insns, packet, context, compare_ctx_out, loaded);
  return loaded;
}

// For programs written to be accepted: both must load them, and agree.
void expect_loaded_same(ProgramType type, const std::vector<Insn>& insns,
                        const std::vector<std::uint8_t>& packet, const Context& context = {}) {
  EXPECT_TRUE(expect_same(type, insns, packet, context)) << "the kernel refused a test program";
}

const ProgramType packet_types[] = {ProgramType::socket_filter, ProgramType::sched_cls,
                                    ProgramType::xdp};

bool is_pointer_field(ProgramType type, std::uint16_t offset) {
  for (const ContextField& field : context_fields(type))
    if (offset >= field.offset && offset < field.offset + field.size)
      return field.name == "data" || field.name == "data_end" || field.name == "data_meta" ||
             field.name == "sk";
  return false;
}

// Intentional differences, each with its reason (docs/program-types.md).
bool known_difference(ProgramType type, std::uint16_t offset, int size, bool write) {
  // __sk_buff.sk: a socket pointer the kernel's test_run provides; bpfvm has no sockets.
  return type != ProgramType::xdp && offset == 168 && size == 8 && !write;
}

TEST(KernelOracle, EveryContextReadAtEverySize) {
  SKIP_WITHOUT_KERNEL();
  const Context context = sample_context();
  const auto packet = pk::ipv4(6, 16, 0xff);  // broadcast: pkt_type 1
  for (ProgramType type : packet_types) {
    const auto size_of_ctx = static_cast<std::int16_t>(uapi_context_size(type));
    for (int size : {1, 2, 4, 8}) {
      for (std::int16_t offset = 0; offset < size_of_ctx;
           offset = static_cast<std::int16_t>(offset + size)) {
        SCOPED_TRACE(
            fmt::format("{} read of {} bytes at {}", program_type_name(type), size, offset));
        const std::vector<Insn> load = {ldx(size, 0, 1, offset), exit_insn()};
        const bool linux_loads = run_kernel(type, load, {}, context, true).loaded;
        const bool we_load = run_bpfvm(type, load, {}, context).loaded;
        if (known_difference(type, static_cast<std::uint16_t>(offset), size, false)) {
          EXPECT_TRUE(linux_loads && !we_load);
          continue;
        }
        ASSERT_EQ(linux_loads, we_load);
        if (!we_load || is_pointer_field(type, static_cast<std::uint16_t>(offset))) continue;
        expect_same(type, load, packet, context);
        if (size == 8)
          expect_same(type, {ldx(8, 0, 1, offset), rsh(0, 32), exit_insn()}, packet, context);
      }
    }
  }
}

TEST(KernelOracle, FieldValuesFromThePacketAndWithoutCtxIn) {
  SKIP_WITHOUT_KERNEL();
  // pkt_type from the destination address, protocol from the EtherType, len per layer.
  for (std::uint8_t first : {0x00, 0x01, 0x02, 0x03, 0xff}) {
    auto packet = pk::ipv4(17, 10, first);
    if (first == 0x00 || first == 0xff) std::fill(packet.begin(), packet.begin() + 6, first);
    for (ProgramType type : {ProgramType::socket_filter, ProgramType::sched_cls}) {
      for (std::int16_t offset : {0, 4, 16, 36, 40, 68, 84}) {
        expect_loaded_same(type, {ldx(4, 0, 1, offset), exit_insn()}, packet);
        expect_loaded_same(type, {ldx(2, 0, 1, static_cast<std::int16_t>(offset + 2)), exit_insn()},
                           packet);
      }
      expect_loaded_same(ProgramType::sched_cls, {ldx(4, 0, 1, 160), exit_insn()}, packet);
    }
  }
  auto llc = pk::ipv4(6);
  llc[12] = 0x00;
  llc[13] = 0x40;  // an 802.3 length field
  expect_loaded_same(ProgramType::sched_cls, {ldx(4, 0, 1, 16), exit_insn()}, llc);
}

TEST(KernelOracle, EveryContextWriteAtEverySize) {
  SKIP_WITHOUT_KERNEL();
  const Context context = sample_context();
  const auto packet = pk::ipv4(6);
  for (ProgramType type : packet_types) {
    const auto size_of_ctx = static_cast<std::int16_t>(uapi_context_size(type));
    for (int size : {1, 2, 4, 8}) {
      for (std::int16_t offset = 0; offset < size_of_ctx;
           offset = static_cast<std::int16_t>(offset + size)) {
        for (std::uint64_t value : {0x1234567890abcdefull, 0x77ull}) {
          SCOPED_TRACE(
              fmt::format("{} write of {} bytes at {}", program_type_name(type), size, offset));
          std::vector<Insn> store;
          lddw(store, 2, value);
          store.push_back(stx(size, 1, 2, offset));
          // Read the field back when a 4-byte read of its word is allowed.
          const auto word = static_cast<std::int16_t>(offset & ~3);
          store.push_back(mov(0, 0));
          const std::vector<Insn> probe_read = {ldx(4, 0, 1, word), exit_insn()};
          if (run_bpfvm(type, probe_read, {}, context).loaded &&
              !is_pointer_field(type, static_cast<std::uint16_t>(word)))
            store.push_back(ldx(4, 0, 1, word));
          store.push_back(exit_insn());
          const bool linux_loads = run_kernel(type, store, {}, context, true).loaded;
          const bool we_load = run_bpfvm(type, store, {}, context).loaded;
          ASSERT_EQ(linux_loads, we_load);
          if (we_load) expect_same(type, store, packet, context);
          // The same with BPF_ST (an immediate).
          const std::vector<Insn> store_imm = {
              st(size, 1, offset, static_cast<std::int32_t>(value)), mov(0, 0), exit_insn()};
          ASSERT_EQ(run_kernel(type, store_imm, {}, context, true).loaded,
                    run_bpfvm(type, store_imm, {}, context).loaded);
        }
      }
    }
  }
}

TEST(KernelOracle, QueueMappingStoresBelowNoQueueMappingOnly) {
  SKIP_WITHOUT_KERNEL();
  const auto packet = pk::ipv4(6);
  for (std::int32_t value : {0x1234, 0xfffe, 0xffff, 0x12345}) {
    // stx through a register (an expansion with a jump) and st of an immediate.
    expect_loaded_same(ProgramType::sched_cls,
                       {mov(2, 7), stx(4, 1, 2, 12), mov(2, value), stx(4, 1, 2, 12),
                        ldx(4, 0, 1, 12), exit_insn()},
                       packet);
    expect_loaded_same(ProgramType::sched_cls,
                       {st(4, 1, 12, 7), st(4, 1, 12, value), ldx(4, 0, 1, 12), exit_insn()},
                       packet);
  }
  // A jump over the expanded store is relocated.
  expect_loaded_same(ProgramType::sched_cls,
                     {mov(2, 5), mov(0, 1), jeq(0, 1, 1), stx(4, 1, 2, 12), stx(4, 1, 2, 12),
                      ldx(4, 0, 1, 12), exit_insn()},
                     packet);
}

TEST(KernelOracle, DirectPacketAccess) {
  SKIP_WITHOUT_KERNEL();
  for (ProgramType type : {ProgramType::sched_cls, ProgramType::xdp}) {
    const std::int16_t data = type == ProgramType::xdp ? 0 : 76;
    const std::int16_t data_end = type == ProgramType::xdp ? 4 : 80;
    // Bounds checked: a byte of the IP header read and another written; 99 when too short.
    const std::vector<Insn> insns = {
        ldx(4, 2, 1, data), ldx(4, 3, 1, data_end), mov_reg(4, 2), add(4, 24),  jgt_reg(4, 3, 4),
        ldx(1, 0, 2, 23),   st(1, 2, 22, 0x21),     add(0, 1000),  exit_insn(), mov(0, 99),
        exit_insn()};
    for (std::size_t length : {14u, 24u, 60u, 200u}) {
      auto packet = pk::ipv4(6, 200);
      packet.resize(length);
      expect_loaded_same(type, insns, packet);
    }
  }
}

TEST(KernelOracle, LegacyPacketLoads) {
  SKIP_WITHOUT_KERNEL();
  const auto packet = pk::ipv4(17, 8);
  for (ProgramType type : {ProgramType::socket_filter, ProgramType::sched_cls}) {
    for (std::int32_t offset : {0, 9, 12, 23, 40, 1000}) {
      for (std::uint8_t size_bits : {0x00, 0x08, 0x10}) {
        const Insn ld_abs{.opcode = static_cast<std::uint8_t>(0x20 | size_bits), .imm = offset};
        expect_loaded_same(type, {mov_reg(6, 1), ld_abs, exit_insn()}, packet);
        const Insn ld_ind{
            .opcode = static_cast<std::uint8_t>(0x40 | size_bits), .src = 7, .imm = offset};
        expect_loaded_same(type, {mov_reg(6, 1), mov(7, 2), ld_ind, exit_insn()}, packet);
        // Without the context in r6, and in an xdp program, both refuse the load.
        expect_same(type, {mov(6, 0), ld_abs, exit_insn()}, packet);
        expect_same(ProgramType::xdp, {mov_reg(6, 1), ld_abs, exit_insn()}, packet);
      }
    }
  }
}

TEST(KernelOracle, ContextThroughSpillsAndLocalCalls) {
  SKIP_WITHOUT_KERNEL();
  const Context context = sample_context();
  const auto packet = pk::ipv4(6);
  for (ProgramType type : {ProgramType::socket_filter, ProgramType::sched_cls}) {
    // Spill r1, clobber it, reload it, read mark.
    expect_loaded_same(
        type, {stx(8, 10, 1, -16), mov(1, 0), ldx(8, 6, 10, -16), ldx(4, 0, 6, 8), exit_insn()},
        packet, context);
    // A local function reading priority from the ctx passed in r1; the caller adds mark.
    expect_loaded_same(type,
                       {mov_reg(6, 1), call_local(3), ldx(4, 1, 6, 8), alu_reg(0x00, 0, 1),
                        exit_insn(), ldx(4, 0, 1, 32), exit_insn()},
                       packet, context);
  }
}

TEST(KernelOracle, XdpAdjustHeadAndTail) {
  SKIP_WITHOUT_KERNEL();
  const auto packet = pk::ipv4(17, 30);
  for (std::int32_t delta : {-300, -216, -215, -100, -4, 0, 4, 20, 57, 58, 200}) {
    for (std::int32_t helper : {44, 65}) {
      // r0 = helper(ctx, delta) << 16 | (data_end - data); a byte written at data.
      expect_loaded_same(ProgramType::xdp,
                         {mov_reg(6, 1), mov(2, delta), call(helper), mov_reg(7, 0),
                          ldx(4, 2, 6, 0), ldx(4, 3, 6, 4), mov_reg(4, 2), add(4, 1),
                          jgt_reg(4, 3, 1), st(1, 2, 0, 0x5a), alu_imm(0x60, 7, 16), mov_reg(0, 3),
                          alu_reg(0x10, 0, 2), alu_reg(0x40, 0, 7), exit_insn()},
                         packet);
    }
  }
  // Grow to the largest the frame allows, and one byte more.
  for (std::int32_t delta : {3520 - 72, 3521 - 72}) {
    expect_loaded_same(ProgramType::xdp, {mov(2, delta), call(65), exit_insn()}, packet);
  }
  // Metadata before the packet moves with adjust_head.
  Context meta;
  meta.xdp.metadata_size = 8;
  auto with_meta = packet;
  with_meta.insert(with_meta.begin(), {1, 2, 3, 4, 5, 6, 7, 8});
  for (std::int32_t delta : {-16, -8, 8, 30})
    expect_loaded_same(ProgramType::xdp, {mov(2, delta), call(44), exit_insn()}, with_meta, meta);
}

TEST(KernelOracle, SkbLoadAndStoreBytes) {
  SKIP_WITHOUT_KERNEL();
  const auto packet = pk::ipv4(6, 40);
  for (ProgramType type : {ProgramType::socket_filter, ProgramType::sched_cls}) {
    for (std::int32_t offset : {0, 10, 66, 67, 70, 0x10000, -1}) {
      for (std::int32_t len : {1, 4, 8}) {
        // skb_load_bytes(ctx, offset, fp-16, len); r0 = ret ^ first 4 bytes loaded.
        expect_loaded_same(type,
                           {st(8, 10, -16, 0x7777), mov_reg(6, 1), mov(2, offset), mov_reg(3, 10),
                            add(3, -16), mov(4, len), call(26), mov_reg(7, 0), ldx(4, 0, 10, -16),
                            alu_reg(0xa0, 0, 7), exit_insn()},
                           packet);
        if (type != ProgramType::sched_cls) continue;
        for (std::int32_t flags : {0, 1, 2, 3, 4}) {
          expect_loaded_same(type,
                             {st(8, 10, -8, 0x61626364), mov(2, offset), mov_reg(3, 10), add(3, -8),
                              mov(4, len), mov(5, flags), call(9), exit_insn()},
                             packet);
        }
      }
    }
  }
  // store_bytes invalidating the hash, then hash read.
  expect_loaded_same(ProgramType::sched_cls,
                     {mov_reg(6, 1), st(8, 10, -8, 1), mov(2, 0), mov_reg(3, 10), add(3, -8),
                      mov(4, 2), mov(5, 2), call(9), ldx(4, 0, 6, 68), exit_insn()},
                     packet);
}

std::vector<Insn> replace_program(std::int32_t helper, std::int32_t offset, std::uint32_t from,
                                  std::uint32_t to, std::int32_t flags) {
  std::vector<Insn> insns;
  insns.push_back(mov(2, offset));
  lddw(insns, 3, from);
  lddw(insns, 4, to);
  insns.push_back(mov(5, flags));
  insns.push_back(call(helper));
  insns.push_back(exit_insn());
  return insns;
}

std::uint32_t load_le32(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  std::uint32_t value;
  std::memcpy(&value, bytes.data() + at, 4);
  return value;
}
std::uint16_t load_le16(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  std::uint16_t value;
  std::memcpy(&value, bytes.data() + at, 2);
  return value;
}

TEST(KernelOracle, ChecksumReplaceOnRealPackets) {
  SKIP_WITHOUT_KERNEL();
  for (std::uint8_t protocol : {6, 17}) {
    auto packet = pk::ipv4(protocol, 21);
    const std::size_t l4_csum = protocol == 6 ? pk::tcp_csum_at : pk::udp_csum_at;
    const std::uint32_t old_saddr = load_le32(packet, pk::ip_saddr_at);
    const std::uint32_t new_saddr = 0x0a0b0c0d;
    const std::uint16_t old_port = load_le16(packet, pk::l4_at);
    const std::uint16_t new_port = 0x3412;
    for (std::int32_t flags : {0, 2, 4, 3, 0x10 | 4, 0x20 | 4, 0x40 | 0x20 | 4, 0x80 | 4, 0x100}) {
      expect_loaded_same(ProgramType::sched_cls,
                         replace_program(10, pk::ip_csum_at, old_saddr, new_saddr, flags), packet);
      expect_loaded_same(
          ProgramType::sched_cls,
          replace_program(11, static_cast<std::int32_t>(l4_csum), old_port, new_port, flags),
          packet);
    }
    for (std::int32_t offset : {1, 25, 0x10000, static_cast<std::int32_t>(packet.size() - 1)})
      expect_loaded_same(ProgramType::sched_cls, replace_program(10, offset, 1, 2, 2), packet);
    // The whole NAT: store the new address, fix both checksums; the result must also be a
    // valid packet.
    std::vector<Insn> nat = {mov_reg(6, 1)};
    lddw(nat, 2, new_saddr);
    nat.push_back(stx(4, 10, 2, -8));
    for (Insn insn : {mov_reg(1, 6), mov(2, pk::ip_saddr_at), mov_reg(3, 10), add(3, -8), mov(4, 4),
                      mov(5, 0), call(9)})
      nat.push_back(insn);
    for (auto [helper, at, flags] :
         {std::tuple{10, pk::ip_csum_at, 4}, std::tuple{11, l4_csum, 0x10 | 0x20 | 4}}) {
      nat.push_back(mov_reg(1, 6));
      nat.push_back(mov(2, static_cast<std::int32_t>(at)));
      lddw(nat, 3, old_saddr);
      lddw(nat, 4, new_saddr);
      nat.push_back(mov(5, flags));
      nat.push_back(call(helper));
    }
    nat.push_back(exit_insn());
    expect_loaded_same(ProgramType::sched_cls, nat, packet);
    const Outcome ours = run_bpfvm(ProgramType::sched_cls, nat, packet, {});
    EXPECT_EQ(pk::read_be16(ours.packet, pk::ip_csum_at), pk::ip_checksum(ours.packet));
    EXPECT_EQ(pk::read_be16(ours.packet, l4_csum), pk::l4_checksum(ours.packet, l4_csum));
  }
  // A UDP checksum of 0 means "none": BPF_F_MARK_MANGLED_0 leaves it alone.
  auto udp = pk::ipv4(17);
  udp[pk::udp_csum_at] = udp[pk::udp_csum_at + 1] = 0;
  expect_loaded_same(ProgramType::sched_cls, replace_program(11, pk::udp_csum_at, 1, 2, 0x20 | 2),
                     udp);
  expect_loaded_same(ProgramType::sched_cls,
                     replace_program(11, pk::udp_csum_at, 1, 2, 0x40 | 0x20 | 2), udp);
  // A change that folds the checksum to zero gives CSUM_MANGLED_0 (0xffff).
  udp[pk::udp_csum_at] = 0xff;
  udp[pk::udp_csum_at + 1] = 0xfe;
  for (std::int32_t flags : {4, 0x20 | 4, 0x40 | 0x20 | 4})
    expect_loaded_same(ProgramType::sched_cls,
                       replace_program(11, pk::udp_csum_at, 0, 0xfeff, flags), udp);
}

TEST(KernelOracle, TruncatedNetworkHeaders) {
  SKIP_WITHOUT_KERNEL();
  for (std::uint16_t ethertype : {0x0800, 0x86dd, 0x0806, 0x8100}) {
    for (std::size_t size : {14u, 33u, 34u, 53u, 54u, 60u}) {
      std::vector<std::uint8_t> packet(size, 0x45);
      packet[12] = static_cast<std::uint8_t>(ethertype >> 8);
      packet[13] = static_cast<std::uint8_t>(ethertype);
      for (ProgramType type : packet_types)
        expect_loaded_same(type, {ldx(4, 0, 1, type == ProgramType::xdp ? 12 : 16), exit_insn()},
                           packet);
    }
  }
}

TEST(KernelOracle, ChecksumDiff) {
  SKIP_WITHOUT_KERNEL();
  const auto packet = pk::ipv4(6);
  for (std::int32_t from_size : {0, 4, 8, 3}) {
    for (std::int32_t to_size : {0, 4, 12}) {
      for (std::int32_t seed : {0, 0x1234, -1}) {
        for (ProgramType type : {ProgramType::sched_cls, ProgramType::xdp}) {
          std::vector<Insn> insns = {st(8, 10, -16, 0x01020304),
                                     st(8, 10, -8, static_cast<std::int32_t>(0xfedcba98)),
                                     st(8, 10, -24, 0x7f00ff00), st(8, 10, -32, 0x11111111)};
          insns.push_back(mov_reg(1, 10));
          insns.push_back(add(1, -16));
          if (from_size == 0) insns.push_back(mov(1, 0));
          insns.push_back(mov(2, from_size));
          insns.push_back(mov_reg(3, 10));
          insns.push_back(add(3, -32));
          if (to_size == 0) insns.push_back(mov(3, 0));
          insns.push_back(mov(4, to_size));
          insns.push_back(mov(5, seed));
          insns.push_back(call(28));
          insns.push_back(exit_insn());
          expect_loaded_same(type, insns, packet);
        }
      }
    }
  }
}

// bpf_redirect_map against the kernel's devmap.
TEST(KernelOracle, RedirectMap) {
  SKIP_WITHOUT_KERNEL();
  auto devmap = kernel::create_map(BPF_MAP_TYPE_DEVMAP, 4, 4, 4);
  ASSERT_TRUE(devmap) << devmap.error().to_string();
  const std::uint32_t loopback = 1;
  ASSERT_TRUE(
      kernel::map_update(*devmap, 2, {reinterpret_cast<const std::uint8_t*>(&loopback), 4}));
  // bpfvm's devmap (src/maps/device_maps.cpp): keys exist once the host sets them.
  MapSpec devmap_spec;
  devmap_spec.type = MapType::devmap;
  devmap_spec.key_size = 4;
  devmap_spec.value_size = 4;
  devmap_spec.max_entries = 4;
  auto created = Map::create(devmap_spec);
  ASSERT_TRUE(created) << created.error().to_string();
  std::shared_ptr<Map> ours = *created;
  const std::uint32_t key = 2;
  ASSERT_EQ(ours->host_update(&key, &loopback, 0), 0);
  HelperRegistry registry = packet_registry(ProgramType::xdp);
  LoadOptions options;
  options.type = ProgramType::xdp;
  options.helpers = &registry;
  options.maps = {ours};
  const auto packet = pk::ipv4(6);
  for (std::int32_t index : {0, 2, 3, 9}) {
    for (std::int32_t flags : {0, 1, 2, 3, 4, 8, 8 | 16, 8 | 2, 32}) {
      SCOPED_TRACE(fmt::format("key {} flags {:#x}", index, flags));
      auto program = [&](std::uint64_t map, int src) {
        std::vector<Insn> insns;
        lddw(insns, 1, map, src);
        insns.push_back(mov(2, index));
        insns.push_back(mov(3, flags));
        insns.push_back(call(51));
        insns.push_back(exit_insn());
        return insns;
      };
      const Outcome linux_outcome = run_kernel(
          ProgramType::xdp, program(static_cast<std::uint32_t>(devmap->get()), 1), packet, {});
      ASSERT_TRUE(linux_outcome.loaded) << linux_outcome.load_error;
      // lddw src 1 (BPF_PSEUDO_MAP_FD) of LoadOptions::maps[0].
      auto loaded = load_typed_program(program(0, 1), options);
      ASSERT_TRUE(loaded) << loaded.error().to_string();
      PacketRunInput input;
      input.type = ProgramType::xdp;
      input.packet = packet;
      auto run = run_packet(*loaded, input);
      ASSERT_TRUE(run) << run.error().to_string();
      EXPECT_EQ(linux_outcome.retval, static_cast<std::uint32_t>(run->return_value));
      EXPECT_EQ(run->redirect.has_value(), run->return_value == 4);
      if (run->redirect) {
        EXPECT_EQ(run->redirect->map, ours.get());
        EXPECT_EQ(run->redirect->key, static_cast<std::uint32_t>(index));
      }
    }
  }
}

// Random programs mixing context reads (every readable field, random sizes), writes of the
// writable fields, copies of the context pointer, stack spills and forward branches.
std::vector<Insn> random_context_program(ProgramType type, std::uint64_t seed) {
  test::Rng rng(seed);
  std::vector<Insn> accesses;  // single accesses bpfvm accepts for this type
  const auto size_of_ctx = static_cast<std::int16_t>(uapi_context_size(type));
  for (int size : {1, 2, 4, 8}) {
    for (std::int16_t offset = 0; offset < size_of_ctx;
         offset = static_cast<std::int16_t>(offset + size)) {
      if (is_pointer_field(type, static_cast<std::uint16_t>(offset))) continue;
      for (bool write : {false, true}) {
        const Insn access = write ? stx(size, 1, 2, offset) : ldx(size, 3, 1, offset);
        const std::vector<Insn> probe = {mov(2, 0), access, mov(0, 0), exit_insn()};
        if (rewrite_context_access(type, probe)) accesses.push_back(access);
      }
    }
  }
  std::vector<Insn> insns = {mov(0, 1), mov_reg(6, 1), stx(8, 10, 1, -8)};
  const int steps = static_cast<int>(rng.between(4, 24));
  for (int step = 0; step < steps; ++step) {
    // The base: r1, r6, or r7 reloaded from the spill slot.
    int base = rng.chance(50) ? 1 : 6;
    if (rng.chance(30)) {
      insns.push_back(ldx(8, 7, 10, -8));
      base = 7;
    }
    Insn access = accesses[rng.below(accesses.size())];
    const bool is_store = (access.opcode & 0x07) == 0x03;
    if (is_store) {
      insns.push_back(mov(2, static_cast<std::int32_t>(rng.next())));
      access.dst = static_cast<std::uint8_t>(base);
    } else {
      access.src = static_cast<std::uint8_t>(base);
    }
    // Sometimes skip the access on a condition on r0 (a forward branch over it).
    const bool guarded = rng.chance(30);
    if (guarded) insns.push_back(jeq(0, static_cast<std::int32_t>(rng.below(4)), is_store ? 1 : 3));
    insns.push_back(access);
    if (!is_store) {
      insns.push_back(alu_imm(0x20, 0, 31));  // r0 *= 31
      insns.push_back(alu_reg(0x00, 0, 3));   // r0 += r3
    }
  }
  insns.push_back(exit_insn());
  return insns;
}

TEST(KernelOracle, RandomContextPrograms) {
  SKIP_WITHOUT_KERNEL();
  const Context context = sample_context();
  const auto packet = pk::ipv4(6, 24);
  for (ProgramType type : packet_types) {
    int loaded = 0;
    for (std::uint64_t seed = 1; seed <= 150; ++seed) {
      SCOPED_TRACE(fmt::format("seed {}", seed));
      loaded += expect_same(type, random_context_program(type, seed), packet, context) ? 1 : 0;
      if (::testing::Test::HasFatalFailure()) return;
    }
    // The generator only makes programs Linux accepts: all of them ran on both sides.
    EXPECT_EQ(loaded, 150) << program_type_name(type);
  }
}

// The helper lists: each id is callable by a type in bpfvm exactly when the kernel lets a
// program of that type call it (the verifier names unknown or forbidden helpers in its log).
TEST(KernelOracle, AllowedHelpersMatchTheKernel) {
  SKIP_WITHOUT_KERNEL();
  for (ProgramType type : packet_types) {
    for (std::uint32_t id = 1; id <= 211; ++id) {
      const std::vector<Insn> insns = {mov(1, 0), mov(2, 0),  mov(3, 0),
                                       mov(4, 0), mov(5, 0),  call(static_cast<std::int32_t>(id)),
                                       mov(0, 0), exit_insn()};
      auto fd = kernel::load_program(insns, {.type = kernel_type(type)});
      bool kernel_allows = true;
      if (!fd) {
        const std::string& log = fd.error().verifier_log;
        kernel_allows = log.find("unknown func") == std::string::npos &&
                        log.find("cannot use helper") == std::string::npos;
      }
      EXPECT_EQ(kernel_allows, helper_allowed(type, id))
          << program_type_name(type) << " helper " << id;
    }
  }
}

}  // namespace
}  // namespace bpfvm

namespace bpfvm {
namespace {

using test::clang_program;

#define CLANG_PROGRAM_OR_SKIP(variable, name)                                       \
  auto variable##_loaded = clang_program(name);                                     \
  if (!variable##_loaded) GTEST_SKIP() << "no clang -target bpf build of " << name; \
  const std::vector<Insn>& variable = *variable##_loaded

TEST(KernelOracleClang, TcNat) {
  SKIP_WITHOUT_KERNEL();
  CLANG_PROGRAM_OR_SKIP(insns, "tc_nat");
  const Context context = sample_context();
  auto arp = pk::ipv4(6);
  arp[12] = 0x08;
  arp[13] = 0x06;
  auto options = pk::ipv4(17);
  options[pk::eth_len] = 0x46;  // IHL 6: left alone
  for (const auto& packet : {pk::ipv4(6, 40), pk::ipv4(17, 3), arp, options}) {
    expect_loaded_same(ProgramType::sched_cls, insns, packet, context);
    expect_loaded_same(ProgramType::sched_cls, insns, packet);
  }
  const Outcome ours = run_bpfvm(ProgramType::sched_cls, insns, pk::ipv4(6, 40), context);
  EXPECT_EQ(ours.retval, 0u);  // TC_ACT_OK: the rewrite went through
  EXPECT_EQ(ours.skb.mark, context.skb.mark * 3 + 1 + 1);
  EXPECT_EQ(ours.skb.tc_index, 3u);
  EXPECT_EQ(ours.packet[pk::ip_saddr_at], 10);
  EXPECT_EQ(pk::read_be16(ours.packet, pk::ip_csum_at), pk::ip_checksum(ours.packet));
  EXPECT_EQ(pk::read_be16(ours.packet, pk::tcp_csum_at),
            pk::l4_checksum(ours.packet, pk::tcp_csum_at));
}

TEST(KernelOracleClang, XdpReflect) {
  SKIP_WITHOUT_KERNEL();
  CLANG_PROGRAM_OR_SKIP(insns, "xdp_reflect");
  auto padded = pk::ipv4(17, 6);
  padded.resize(padded.size() + 18, 0xee);  // Ethernet padding after the IP datagram
  auto short_frame = pk::ipv4(17);
  short_frame.resize(30);
  for (const auto& packet : {pk::ipv4(17, 30), padded, pk::ipv4(6, 10), short_frame})
    expect_loaded_same(ProgramType::xdp, insns, packet);
  const Outcome reflected = run_bpfvm(ProgramType::xdp, insns, padded, {});
  EXPECT_EQ(reflected.retval, static_cast<std::uint32_t>(XdpAction::tx));
  EXPECT_EQ(reflected.packet.size(), padded.size() - 18);  // the padding trimmed
  EXPECT_EQ(pk::read_be16(reflected.packet, pk::l4_at), 53);
  const Outcome pushed = run_bpfvm(ProgramType::xdp, insns, pk::ipv4(6, 10), {});
  EXPECT_EQ(pushed.packet.size(), pk::ipv4(6, 10).size() + 4);
}

TEST(KernelOracleClang, SocketFilter) {
  SKIP_WITHOUT_KERNEL();
  CLANG_PROGRAM_OR_SKIP(insns, "socket_count");
  auto ipv6 = pk::ipv4(17);
  ipv6[12] = 0x86;
  ipv6[13] = 0xdd;
  ipv6[pk::eth_len] = 0x60;
  auto other_port = pk::ipv4(17);
  pk::write_be16(other_port, pk::l4_at + 2, 54);
  for (const auto& packet : {pk::ipv4(17, 20), pk::ipv4(6), ipv6, other_port})
    expect_loaded_same(ProgramType::socket_filter, insns, packet);
  const auto dns = pk::ipv4(17, 20);
  EXPECT_EQ(run_bpfvm(ProgramType::socket_filter, insns, dns, {}).retval,
            (dns.size() - 14) + 3 * 1000 + 64);  // len, PACKET_OTHERHOST, TTL
}

}  // namespace
}  // namespace bpfvm

namespace bpfvm {
namespace {

// The differential corpus's random programs (no context access: they overwrite r1) as
// sched_cls and xdp programs: rewriting leaves them alone, and they agree with the kernel.
TEST(KernelOracle, RandomProgramsWithoutContextAccess) {
  SKIP_WITHOUT_KERNEL();
  const test::RandomProgramGenerator generator;
  const auto packet = pk::ipv4(6);
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const test::RandomProgram program = generator.generate(seed);
    for (ProgramType type : {ProgramType::sched_cls, ProgramType::xdp}) {
      auto rewritten = rewrite_context_access(type, program.insns);
      ASSERT_TRUE(rewritten) << seed << ": " << rewritten.error().to_string();
      EXPECT_EQ(*rewritten, program.insns) << seed;
      SCOPED_TRACE(fmt::format("seed {}", seed));
      expect_loaded_same(type, program.insns, packet);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace bpfvm
