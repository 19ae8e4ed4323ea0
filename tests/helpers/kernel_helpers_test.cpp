// The same instructions on Linux (BPF_PROG_LOAD + BPF_PROG_TEST_RUN, maps by fd) and on
// bpfvm (both engines, test-double maps): deterministic helpers must give the same r0 and
// leave the same map contents. Skips, saying why, where bpf(2) is refused.
#include "helpers/harness.hpp"
#include "helpers/test_maps.hpp"
#include "support/kernel_bpf.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <unistd.h>

#include <cstring>

namespace bpfvm::helper_test {
namespace {

namespace kernel = test::kernel;

std::optional<std::string> kernel_unavailable() {
  if (geteuid() != 0) return "not root: BPF_PROG_LOAD and BPF_PROG_TEST_RUN need root";
  auto probe = kernel::probe();
  if (!probe && probe.error().is_refusal())
    return "bpf() is refused here: " + probe.error().to_string();
  return std::nullopt;
}

// One map both sides create: an array (u32 keys) or a hash with `initial` in slot/key 0.
struct MapDef {
  MapType type = MapType::array;
  std::uint32_t key_size = 4;
  std::uint32_t value_size = 64;
  std::uint32_t max_entries = 1;
  std::uint32_t flags = 0;
  std::vector<std::uint8_t> initial = {};  // value of key 0 (padded with zeros)
};

struct SideResult {
  std::uint32_t r0 = 0;
  std::vector<std::vector<std::uint8_t>> key0_values;  // per map: the value at key 0, or {}
};

std::vector<std::uint8_t> padded(const MapDef& def) {
  std::vector<std::uint8_t> v(def.value_size, 0);
  std::memcpy(v.data(), def.initial.data(), std::min(v.size(), def.initial.size()));
  return v;
}

// Programs with callbacks need BTF for each function (Linux: "missing btf func_info"):
// main(void *ctx) at 0 and `long callback(long, void *)` at each of `callbacks`.
kernel::SysResult<kernel::Fd> load_with_func_info(const std::vector<Insn>& insns,
                                                  const std::vector<std::uint32_t>& callbacks) {
  std::unique_ptr<btf, void (*)(btf*)> types(btf__new_empty(), btf__free);
  int int_id = btf__add_int(types.get(), "int", 4, BTF_INT_SIGNED);
  int long_id = btf__add_int(types.get(), "long", 8, BTF_INT_SIGNED);
  int ptr_id = btf__add_ptr(types.get(), 0);
  int main_proto = btf__add_func_proto(types.get(), int_id);
  btf__add_func_param(types.get(), "ctx", ptr_id);
  int main_id = btf__add_func(types.get(), "main", BTF_FUNC_STATIC, main_proto);
  int cb_proto = btf__add_func_proto(types.get(), long_id);
  btf__add_func_param(types.get(), "index", long_id);
  btf__add_func_param(types.get(), "ctx", ptr_id);
  int cb_id = btf__add_func(types.get(), "callback", BTF_FUNC_STATIC, cb_proto);
  if (btf__load_into_kernel(types.get()) != 0) return kernel::SysError{"BPF_BTF_LOAD", errno, {}};
  std::vector<bpf_func_info> info{{0, static_cast<std::uint32_t>(main_id)}};
  for (std::uint32_t start : callbacks) info.push_back({start, static_cast<std::uint32_t>(cb_id)});
  std::vector<char> log(1 << 20, '\0');
  LIBBPF_OPTS(bpf_prog_load_opts, opts,
              .prog_btf_fd = static_cast<std::uint32_t>(btf__fd(types.get())),
              .func_info = info.data(), .func_info_cnt = static_cast<std::uint32_t>(info.size()),
              .func_info_rec_size = sizeof(bpf_func_info), .log_level = 1,
              .log_size = static_cast<std::uint32_t>(log.size()), .log_buf = log.data());
  int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "helpers", "GPL",
                         reinterpret_cast<const bpf_insn*>(insns.data()), insns.size(), &opts);
  if (fd < 0) return kernel::SysError{"BPF_PROG_LOAD", errno, log.data()};
  return kernel::Fd(fd);
}

// The slots `lddw` src 4 (BPF_PSEUDO_FUNC) names.
std::vector<std::uint32_t> callback_starts(const std::vector<Insn>& insns) {
  std::vector<std::uint32_t> starts;
  for (std::size_t i = 0; i < insns.size(); ++i) {
    if (insns[i].opcode != 0x18) continue;
    if (insns[i].src == lddw_src::func)
      starts.push_back(static_cast<std::uint32_t>(static_cast<std::int64_t>(i) + 1 + insns[i].imm));
    ++i;
  }
  return starts;
}

// Runs `insns` (lddw src 1/2 with imm = map index) on Linux.
std::optional<SideResult> run_kernel(std::vector<Insn> insns, const std::vector<MapDef>& defs) {
  std::vector<kernel::Fd> fds;
  for (const MapDef& def : defs) {
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = def.flags);
    int fd = bpf_map_create(static_cast<bpf_map_type>(def.type), nullptr, def.key_size,
                            def.value_size, def.max_entries, &opts);
    EXPECT_GE(fd, 0) << "BPF_MAP_CREATE: " << std::strerror(errno);
    if (fd < 0) return std::nullopt;
    fds.emplace_back(fd);
    std::uint32_t key = 0;
    if (!def.initial.empty()) {
      EXPECT_EQ(bpf_map_update_elem(fd, &key, padded(def).data(), 0), 0);
    }
    if (def.flags & map_flag::rdonly_prog) {
      EXPECT_EQ(bpf_map_freeze(fd), 0);
    }
  }
  for (std::size_t i = 0; i < insns.size(); ++i) {
    if (insns[i].opcode != 0x18) continue;
    if (insns[i].src == lddw_src::map_fd || insns[i].src == lddw_src::map_value)
      insns[i].imm = fds.at(static_cast<std::size_t>(insns[i].imm)).get();
    ++i;
  }
  auto callbacks = callback_starts(insns);
  auto program =
      callbacks.empty() ? kernel::load_program(insns) : load_with_func_info(insns, callbacks);
  EXPECT_TRUE(program.ok()) << program.error().to_string();
  if (!program.ok()) return std::nullopt;
  std::vector<std::uint8_t> packet(64, 0);
  auto run = kernel::test_run(*program, packet);
  EXPECT_TRUE(run.ok()) << run.error().to_string();
  if (!run.ok()) return std::nullopt;
  SideResult out{run->retval, {}};
  for (std::size_t m = 0; m < defs.size(); ++m) {
    std::vector<std::uint8_t> value(defs[m].value_size);
    std::uint32_t key = 0;
    if (bpf_map_lookup_elem(fds[m].get(), &key, value.data()) != 0) value.clear();
    out.key0_values.push_back(value);
  }
  return out;
}

std::shared_ptr<Map> our_map(const MapDef& def) {
  std::uint32_t key = 0;
  if (def.type == MapType::hash) {
    auto map = std::make_shared<HashMap>(def.key_size, def.value_size, def.max_entries);
    if (!def.initial.empty()) map->update(&key, padded(def).data(), 0);
    return map;
  }
  auto map = std::make_shared<ArrayMap>(def.value_size, def.max_entries, def.flags);
  if (!def.initial.empty()) map->update(&key, padded(def).data(), 0);
  return map;
}

// Runs on each engine with fresh maps; both must agree with the kernel. With
// `verifier_rejects`, Linux's verifier refuses the program with that message (a constant
// format it checks at load) and bpfvm, which has no verifier in the way, must return
// `runtime_result` instead.
void expect_same_as_kernel(const std::vector<Insn>& insns, const std::vector<MapDef>& defs,
                           const char* verifier_rejects = nullptr, u64 runtime_result = 0) {
  std::optional<SideResult> linux_side;
  if (verifier_rejects != nullptr) {
    std::vector<Insn> patched = insns;
    std::vector<kernel::Fd> fds;
    for (const MapDef& def : defs) {
      LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = def.flags);
      int fd = bpf_map_create(static_cast<bpf_map_type>(def.type), nullptr, def.key_size,
                              def.value_size, def.max_entries, &opts);
      ASSERT_GE(fd, 0);
      fds.emplace_back(fd);
      std::uint32_t key = 0;
      bpf_map_update_elem(fd, &key, padded(def).data(), 0);
      if (def.flags & map_flag::rdonly_prog) bpf_map_freeze(fd);
    }
    for (std::size_t i = 0; i < patched.size(); ++i)
      if (patched[i].opcode == 0x18 && (patched[i].src == 1 || patched[i].src == 2))
        patched[i].imm = fds.at(static_cast<std::size_t>(patched[i].imm)).get(), ++i;
    auto program = kernel::load_program(patched);
    ASSERT_FALSE(program.ok());
    EXPECT_NE(program.error().verifier_log.find(verifier_rejects), std::string::npos)
        << program.error().to_string();
  } else {
    linux_side = run_kernel(insns, defs);
    ASSERT_TRUE(linux_side);
  }
  HelperRegistry helpers = linux_helpers();
  for (bool jit : {false, true}) {
    SCOPED_TRACE(jit ? "jit" : "interpreter");
    std::vector<std::shared_ptr<Map>> maps;
    for (const MapDef& def : defs) maps.push_back(our_map(def));
    auto program = Program::load(insns, {.helpers = &helpers, .maps = maps});
    ASSERT_TRUE(program) << program.error().to_string();
    std::vector<std::uint8_t> packet(64, 0);
    Result<u64> r0 = u64{0};
    if (jit) {
      auto compiled = JitProgram::compile(*program);
      ASSERT_TRUE(compiled) << compiled.error().to_string();
      r0 = compiled->run(RunInput::raw(packet));
    } else {
      r0 = interpret(*program, RunInput::raw(packet));
    }
    ASSERT_TRUE(r0) << r0.error().to_string();
    if (!linux_side) {
      EXPECT_EQ(*r0, runtime_result);
      continue;
    }
    EXPECT_EQ(static_cast<std::uint32_t>(*r0), linux_side->r0);
    for (std::size_t m = 0; m < defs.size(); ++m) {
      std::vector<std::uint8_t> value(defs[m].value_size);
      std::uint32_t key = 0;
      void* found = maps[m]->lookup(&key);
      if (found == nullptr)
        value.clear();
      else
        std::memcpy(value.data(), found, value.size());
      EXPECT_EQ(value, linux_side->key0_values[m]) << "map " << m;
    }
  }
}

// Stores `text` (NUL-padded to 16 bytes) at [r10-16].
std::string store_string(const std::string& text) {
  std::string out;
  char bytes[16] = {};
  std::memcpy(bytes, text.data(), std::min<std::size_t>(text.size(), 15));
  for (int k = 0; k < 16; k += 4) {
    std::int32_t word;
    std::memcpy(&word, bytes + k, 4);
    out += "stw [%r10" + std::to_string(k - 16) + "], " + std::to_string(word) + "\n";
  }
  return out;
}

TEST(KernelHelpers, StrncmpAgrees) {
  if (auto why = kernel_unavailable()) GTEST_SKIP() << *why;
  struct Case {
    const char *s1, *s2;
    int n;
  };
  for (const Case& c :
       {Case{"abc", "abc", 4}, Case{"abd", "abc", 4}, Case{"abb", "abc", 4}, Case{"abX", "abc", 2},
        Case{"ab", "abc", 8}, Case{"", "x", 1}, Case{"hello", "help", 16}}) {
    SCOPED_TRACE(std::string(c.s1) + " / " + c.s2);
    auto insns = assemble_or_fail(store_string(c.s1) + R"(
      mov %r1, %r10
      add %r1, -16
      mov %r2, )" + std::to_string(c.n) +
                                  R"(
      lddw %r3, 0
      call 182
      exit
    )");
    set_pseudo(insns, 0, lddw_src::map_value, 0, 0);
    MapDef rodata{.flags = map_flag::rdonly_prog,
                  .initial = std::vector<std::uint8_t>(c.s2, c.s2 + std::strlen(c.s2) + 1)};
    expect_same_as_kernel(insns, {rodata});
  }
}

TEST(KernelHelpers, SnprintfAgrees) {
  if (auto why = kernel_unavailable()) GTEST_SKIP() << *why;
  struct Case {
    const char* format;
    std::int64_t a, b, c;
    int size;
  };
  for (const Case& c : {Case{"%d|%u|%x", -7, -7, 255, 64}, Case{"%lld %llx %5d", -7, -1, 42, 64},
                        Case{"%-4d|%04u|%+d", 1, 2, 3, 64}, Case{"%c%c%c!", 'a', 'b', 'c', 64},
                        Case{"%d%d%d", 111, 222, 333, 5}, Case{"%lu %li %X", -1, -2, 0xabc, 64},
                        Case{"100%% %d", 5, 0, 0, 64}, Case{"no args", 0, 0, 0, 3},
                        Case{"%s|%5s|%-3s|", 0, 0, 0, 64}, Case{"%pI4 %pi6", 0, 0, 0, 64}}) {
    SCOPED_TRACE(c.format);
    // data on the stack: [r10-24] a, [r10-16] b, [r10-8] c; output into map 1's value.
    auto insns = assemble_or_fail(R"(
      lddw %r1, )" + std::to_string(c.a) +
                                  R"(
      stxdw [%r10-24], %r1
      lddw %r1, )" + std::to_string(c.b) +
                                  R"(
      stxdw [%r10-16], %r1
      lddw %r1, )" + std::to_string(c.c) +
                                  R"(
      stxdw [%r10-8], %r1
      lddw %r1, 0
      mov %r2, )" + std::to_string(c.size) +
                                  R"(
      lddw %r3, 0
      mov %r4, %r10
      add %r4, -24
      mov %r5, 24
      call 165
      exit
    )");
    set_pseudo(insns, 3, lddw_src::map_value, 1, 0);
    set_pseudo(insns, 4, lddw_src::map_value, 0, 0);
    MapDef rodata{
        .flags = map_flag::rdonly_prog,
        .initial = std::vector<std::uint8_t>(c.format, c.format + std::strlen(c.format) + 1)};
    MapDef output{.initial = std::vector<std::uint8_t>(64, '#')};
    expect_same_as_kernel(insns, {rodata, output});
  }
  for (const char* format : {"%d %d %d %d", "%5.1d", "%q", "%sx"}) {
    SCOPED_TRACE(format);
    auto insns = assemble_or_fail(R"(
      lddw %r1, 0
      mov %r2, 64
      lddw %r3, 0
      mov %r4, %r10
      add %r4, -24
      mov %r5, 24
      call 165
      exit
    )");
    set_pseudo(insns, 0, lddw_src::map_value, 1, 0);
    set_pseudo(insns, 1, lddw_src::map_value, 0, 0);
    MapDef rodata{.flags = map_flag::rdonly_prog,
                  .initial = std::vector<std::uint8_t>(format, format + std::strlen(format) + 1)};
    MapDef output{.initial = std::vector<std::uint8_t>(64, '#')};
    expect_same_as_kernel(insns, {rodata, output}, "Invalid format string", neg(EINVAL));
  }
}

TEST(KernelHelpers, LoopSumsAgree) {
  if (auto why = kernel_unavailable()) GTEST_SKIP() << *why;
  for (auto [n, stop] : {std::pair{10, 1000}, std::pair{10, 3}, std::pair{0, 5},
                         std::pair{20000, 15000}, std::pair{(1 << 23) + 1, 0}}) {
    SCOPED_TRACE(n);
    // sum of i * i over the iterations, and the loop's result, folded into 32 bits.
    auto insns = assemble_or_fail(R"(
      stdw [%r10-8], 0
      stdw [%r10-16], )" + std::to_string(stop) +
                                  R"(
      mov %r1, )" + std::to_string(n) +
                                  R"(
      lddw %r2, 0
      mov %r3, %r10
      add %r3, -16
      mov %r4, 0
      call 181
      ldxdw %r1, [%r10-8]
      mul %r0, 1000003
      xor %r0, %r1
      exit
    cb:
      mov %r3, %r1
      mul %r3, %r1
      ldxdw %r4, [%r2+8]
      add %r4, %r3
      stxdw [%r2+8], %r4
      ldxdw %r4, [%r2]
      mov %r0, 0
      jne %r1, %r4, out
      mov %r0, 1
    out:
      exit
    )");
    set_pseudo(insns, 0, lddw_src::func, 13 - 3 - 1);
    expect_same_as_kernel(insns, {});
  }
}

TEST(KernelHelpers, HashMapOperationsAgree) {
  if (auto why = kernel_unavailable()) GTEST_SKIP() << *why;
  // update(k0, NOEXIST) update(k0, NOEXIST) update(k1, ANY) update(k2, ANY) (full)
  // update(k3, EXIST) delete(k1) delete(k1) lookup(k0) += 5: the codes folded into r0.
  std::string source = "mov %r9, 0\nstdw [%r10-16], 7\n";
  auto op = [&](int helper, int key, int flags) {
    source += "stw [%r10-4], " + std::to_string(key) + "\n";
    source += "lddw %r1, 0\nmov %r2, %r10\nadd %r2, -4\n";
    if (helper == 2)
      source += "mov %r3, %r10\nadd %r3, -16\nmov %r4, " + std::to_string(flags) + "\n";
    source += "call " + std::to_string(helper) + "\n";
    source += "mul %r9, 31\nadd %r9, %r0\n";
  };
  op(2, 0, 1);
  op(2, 0, 1);
  op(2, 1, 0);
  op(2, 2, 0);
  op(2, 3, 2);
  op(3, 1, 0);
  op(3, 1, 0);
  source += R"(
    stw [%r10-4], 0
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, out
    ldxdw %r1, [%r0]
    add %r1, 5
    stxdw [%r0], %r1
    add %r9, %r1
  out:
    mov %r0, %r9
    exit
  )";
  auto insns = assemble_or_fail(source);
  for (int i = 0; i < 8; ++i) set_pseudo(insns, i, lddw_src::map_fd, 0);
  MapDef hash{.type = MapType::hash, .value_size = 8, .max_entries = 2};
  expect_same_as_kernel(insns, {hash});
}

TEST(KernelHelpers, TailCallChainLengthAgrees) {
  if (auto why = kernel_unavailable()) GTEST_SKIP() << *why;
  // Each run adds 1 to counter[0] and tail-calls prog_array[0], itself: Linux allows 33
  // tail calls (MAX_TAIL_CALL_CNT), so the counter ends at 34 on both sides.
  auto insns = assemble_or_fail(R"(
    mov %r6, %r1
    stw [%r10-4], 0
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, out
    ldxdw %r1, [%r0]
    add %r1, 1
    stxdw [%r0], %r1
    mov %r1, %r6
    lddw %r2, 0
    mov %r3, 0
    call 12
  out:
    mov %r0, 0
    exit
  )");
  set_pseudo(insns, 0, lddw_src::map_fd, 1);
  set_pseudo(insns, 1, lddw_src::map_fd, 0);

  // Linux.
  kernel::Fd prog_array(bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, nullptr, 4, 4, 1, nullptr));
  kernel::Fd counter(bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 8, 1, nullptr));
  ASSERT_TRUE(prog_array.valid() && counter.valid()) << std::strerror(errno);
  std::vector<Insn> patched = insns;
  for (std::size_t i = 0; i < patched.size(); ++i) {
    if (patched[i].opcode != 0x18) continue;
    if (patched[i].src == lddw_src::map_fd)
      patched[i].imm = patched[i].imm == 0 ? prog_array.get() : counter.get();
    ++i;
  }
  auto kernel_program = kernel::load_program(patched);
  ASSERT_TRUE(kernel_program.ok()) << kernel_program.error().to_string();
  std::uint32_t zero = 0;
  int program_fd = kernel_program->get();
  ASSERT_EQ(bpf_map_update_elem(prog_array.get(), &zero, &program_fd, 0), 0);
  std::vector<std::uint8_t> packet(64, 0);
  ASSERT_TRUE(kernel::test_run(*kernel_program, packet).ok());
  std::uint64_t linux_count = 0;
  ASSERT_EQ(bpf_map_lookup_elem(counter.get(), &zero, &linux_count), 0);
  ASSERT_EQ(bpf_map_delete_elem(prog_array.get(), &zero), 0);
  EXPECT_EQ(linux_count, 34u);

  // bpfvm, both engines.
  HelperRegistry helpers = linux_helpers();
  auto ours_array = std::make_shared<ProgArray>(1);
  auto ours_counter = std::make_shared<ArrayMap>(8, 1);
  auto program = Program::load(insns, {.helpers = &helpers, .maps = {ours_array, ours_counter}});
  ASSERT_TRUE(program) << program.error().to_string();
  ours_array->set(0, std::make_shared<Program>(*program));
  auto outcomes = run_both(*program, RunInput::raw(packet), {},
                           [&] { std::memset(ours_counter->data(), 0, 8); });
  EXPECT_BOTH_EQ(outcomes, 0);
  std::uint64_t our_count = 0;
  std::memcpy(&our_count, ours_counter->data(), 8);
  EXPECT_EQ(our_count, linux_count);
  ours_array->set(0, nullptr);
}

}  // namespace
}  // namespace bpfvm::helper_test
