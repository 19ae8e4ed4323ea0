// ObjectSpec::parse on BPF C programs built by clang -target bpf (tests/bpf), checked against
// libbpf's own view of the same object (bpf_object__open: programs, maps, their types and
// sizes, and the instructions before relocation) where libbpf reads the object.
#include <bpfvm/object.hpp>
#include <bpfvm/vm.hpp>

#include "loader/spec_checks.hpp"

#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <stdexcept>
#include <string>

namespace bpfvm {
namespace {

std::string object_path(const std::string& name) {
  return std::string(BPFVM_BPF_OBJECTS_DIR) + "/" + name + ".o";
}

ObjectSpec parse(const std::string& name) {
  auto spec = ObjectSpec::parse_file(object_path(name));
  EXPECT_TRUE(spec.ok()) << name << ": " << (spec ? "" : spec.error().to_string());
  if (!spec) return {};
  auto problem = testing::check_spec(*spec);
  EXPECT_FALSE(problem) << name << ": " << *problem;
  return std::move(*spec);
}

const ObjectMap& map_named(const ObjectSpec& spec, std::string_view name) {
  auto index = spec.map_index(name);
  if (!index) throw std::runtime_error("no map " + std::string(name));
  return spec.maps[*index];
}

struct LibbpfObject {
  explicit LibbpfObject(const std::string& path) {
    libbpf_set_print(nullptr);
    object = bpf_object__open_file(path.c_str(), nullptr);
    if (object == nullptr) error = errno;
  }
  ~LibbpfObject() { bpf_object__close(object); }
  bpf_object* object = nullptr;
  int error = 0;
};

// libbpf names internal maps "<object name prefix><section>", cut to 15 characters.
const ObjectMap* our_map_for(const ObjectSpec& spec, const bpf_map* map) {
  std::string name = bpf_map__name(map);
  if (!bpf_map__is_internal(map)) {
    auto index = spec.map_index(name);
    return index ? &spec.maps[*index] : nullptr;
  }
  const ObjectMap* best = nullptr;
  std::size_t dot = name.find('.');
  if (dot == std::string::npos) return nullptr;
  std::string suffix = name.substr(dot);
  for (const ObjectMap& ours : spec.maps)
    if (ours.origin == MapOrigin::global_data && ours.name.starts_with(suffix) &&
        (best == nullptr || ours.name.size() < best->name.size()))
      best = &ours;
  return best;
}

void expect_same_as_libbpf(const std::string& name) {
  SCOPED_TRACE(name);
  ObjectSpec spec = parse(name);
  LibbpfObject oracle(object_path(name));
  ASSERT_NE(oracle.object, nullptr) << "libbpf cannot open it: " << std::strerror(oracle.error);

  std::size_t programs = 0;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, oracle.object) {
    ++programs;
    const ObjectProgram* ours = spec.program(bpf_program__name(program));
    ASSERT_NE(ours, nullptr) << bpf_program__name(program);
    EXPECT_EQ(ours->section, bpf_program__section_name(program));
    EXPECT_EQ(static_cast<std::uint32_t>(ours->type),
              static_cast<std::uint32_t>(bpf_program__type(program)))
        << ours->name;
    // Before loading, libbpf holds the function's own instructions, unrelocated.
    ASSERT_EQ(ours->own_insns, bpf_program__insn_cnt(program)) << ours->name;
    const bpf_insn* raw = bpf_program__insns(program);
    for (std::size_t i = 0; i < ours->own_insns; ++i) {
      bool relocated = false;
      for (const ObjectRelocation& relocation : ours->relocations)
        relocated |= relocation.insn == i ||
                     (relocation.insn + 1 == i && relocation.kind != RelocationKind::call);
      if (relocated) continue;
      EXPECT_EQ(std::memcmp(&ours->insns[i], &raw[i], sizeof(Insn)), 0)
          << ours->name << " slot " << i;
    }
  }
  EXPECT_EQ(spec.programs.size(), programs);

  std::size_t maps = 0;
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, oracle.object) {
    ++maps;
    const ObjectMap* ours = our_map_for(spec, map);
    ASSERT_NE(ours, nullptr) << bpf_map__name(map);
    SCOPED_TRACE(ours->name);
    EXPECT_EQ(static_cast<std::uint32_t>(ours->spec.type), bpf_map__type(map));
    EXPECT_EQ(ours->spec.max_entries, bpf_map__max_entries(map));
    // libbpf adds BPF_F_MMAPABLE to global data, for its skeletons' mmap().
    std::uint32_t flags = bpf_map__map_flags(map);
    if (bpf_map__is_internal(map)) flags &= ~std::uint32_t{BPF_F_MMAPABLE};
    EXPECT_EQ(ours->spec.flags, flags);
    if (ours->spec.type != MapType::ringbuf) {  // libbpf keeps __type sizes until creation
      EXPECT_EQ(ours->spec.key_size, bpf_map__key_size(map));
      EXPECT_EQ(ours->spec.value_size, bpf_map__value_size(map));
    }
    if (bpf_map__is_internal(map)) {
      std::size_t size = 0;
      const void* data = bpf_map__initial_value(map, &size);
      ASSERT_EQ(ours->initial_value.size(), size);
      if (size) {
        EXPECT_EQ(std::memcmp(ours->initial_value.data(), data, size), 0);
      }
    }
  }
  EXPECT_EQ(spec.maps.size(), maps);
}

TEST(ObjectSpecTest, MatchesLibbpfOnSubprograms) { expect_same_as_libbpf("subprograms"); }
TEST(ObjectSpecTest, MatchesLibbpfOnBtfMaps) { expect_same_as_libbpf("btf_maps"); }
TEST(ObjectSpecTest, MatchesLibbpfOnGlobals) { expect_same_as_libbpf("globals"); }
TEST(ObjectSpecTest, MatchesLibbpfOnCallbacks) { expect_same_as_libbpf("callbacks"); }

TEST(ObjectSpecTest, SplitsSectionsIntoProgramsAndTypesThem) {
  ObjectSpec spec = parse("subprograms");
  ASSERT_EQ(spec.programs.size(), 9u);
  EXPECT_EQ(spec.license, "GPL");
  std::vector<std::string> xdp;
  for (const auto& program : spec.programs)
    if (program.section == "xdp") xdp.push_back(program.name);
  EXPECT_EQ(xdp, (std::vector<std::string>{"xdp_pass", "xdp_drop"}));
  EXPECT_EQ(spec.program("tc_two")->type, ProgramType::sched_cls);
  EXPECT_EQ(spec.program("probe")->type, ProgramType::kprobe);
  EXPECT_EQ(spec.program("tracepoint")->type, ProgramType::tracepoint);
  EXPECT_EQ(spec.program("connect4")->type, ProgramType::cgroup_sock_addr);
  EXPECT_EQ(spec.program("compute")->type, ProgramType::raw);
  // Subprograms are no programs of their own.
  EXPECT_EQ(spec.program("square"), nullptr);
  EXPECT_EQ(spec.program("sum_of_squares"), nullptr);
}

// The calls are right when the programs compute what the C says: 3*3 + 4*4 + 3*2 and
// 3 * (2*2), through global, static and nested subprograms.
TEST(ObjectSpecTest, AppendedSubprogramsRunWithFixedUpCalls) {
  ObjectSpec spec = parse("subprograms");
  for (auto [name, expected] : {std::pair{"compute", 31}, std::pair{"compute_again", 12}}) {
    const ObjectProgram* program = spec.program(name);
    ASSERT_NE(program, nullptr);
    // sum_of_squares, square and triple each appear once, after the program's own code.
    EXPECT_GT(program->insns.size(), program->own_insns);
    auto loaded = Program::load(program->insns);
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    std::uint8_t memory[8] = {};
    auto result = interpret(*loaded, RunInput::raw(memory));
    ASSERT_TRUE(result.ok()) << result.error().to_string();
    EXPECT_EQ(*result, static_cast<std::uint64_t>(expected)) << name;
  }
  // Each subprogram is appended once per program, however often it is called.
  const ObjectProgram* compute = spec.program("compute");
  std::size_t square_calls = 0;
  std::set<std::size_t> targets;
  for (const auto& relocation : compute->relocations) {
    if (relocation.kind != RelocationKind::call) continue;
    targets.insert(relocation.target);
    square_calls += relocation.symbol == "square";
  }
  EXPECT_EQ(square_calls, 2u);
  EXPECT_EQ(targets.size(), 3u);
}

TEST(ObjectSpecTest, BtfMapsWithInnerMapsAndInitialSlots) {
  ObjectSpec spec = parse("btf_maps");
  const ObjectMap& flows = map_named(spec, "flows");
  EXPECT_EQ(flows.spec.key_size, 4u);
  EXPECT_EQ(flows.spec.value_size, 16u);
  EXPECT_EQ(flows.spec.flags, map_flag::no_prealloc);
  EXPECT_EQ(map_named(spec, "counters").pinning, MapPinning::by_name);
  EXPECT_EQ(map_named(spec, "flows").pinning, MapPinning::none);
  const ObjectMap& outer = map_named(spec, "outer");
  ASSERT_TRUE(outer.spec.inner);
  EXPECT_EQ(outer.spec.inner->type, MapType::array);
  EXPECT_EQ(outer.spec.inner->value_size, 8u);
  EXPECT_EQ(outer.spec.inner->max_entries, 8u);
  EXPECT_EQ(outer.spec.value_size, 4u);
  EXPECT_EQ(outer.initial_slots,
            (std::map<std::uint32_t, std::string>{{0, "inner_a"}, {2, "inner_b"}}));
  EXPECT_EQ(map_named(spec, "jumps").initial_slots,
            (std::map<std::uint32_t, std::string>{{1, "tail"}}));
  const ObjectMap& events = map_named(spec, "events");
  EXPECT_EQ(events.spec.type, MapType::ringbuf);

  // Each map reference is lddw src 1 whose imm indexes spec.maps.
  const ObjectProgram* program = spec.program("use_maps");
  ASSERT_NE(program, nullptr);
  std::vector<std::string> referenced;
  for (const auto& relocation : program->relocations) {
    ASSERT_EQ(relocation.kind, RelocationKind::map);
    const Insn& insn = program->insns[relocation.insn];
    EXPECT_EQ(insn.src, lddw_src::map_fd);
    referenced.push_back(spec.maps[static_cast<std::size_t>(insn.imm)].name);
  }
  EXPECT_EQ(referenced,
            (std::vector<std::string>{"flows", "counters", "outer", "events", "jumps"}));
}

// libbpf 1.x no longer reads the legacy "maps" section: the expectations come from the
// definitions in tests/bpf/legacy_maps.bpf.c.
TEST(ObjectSpecTest, LegacyMapsSection) {
  ObjectSpec spec = parse("legacy_maps");
  ASSERT_EQ(spec.maps.size(), 3u);
  const ObjectMap& packets = map_named(spec, "packets");
  EXPECT_EQ(packets.origin, MapOrigin::legacy);
  EXPECT_EQ(packets.spec.type, MapType::array);
  EXPECT_EQ(packets.spec.key_size, 4u);
  EXPECT_EQ(packets.spec.value_size, 8u);
  EXPECT_EQ(packets.spec.max_entries, 256u);
  const ObjectMap& sockets = map_named(spec, "sockets");
  EXPECT_EQ(sockets.spec.type, MapType::lru_hash);
  EXPECT_EQ(sockets.spec.key_size, 8u);
  EXPECT_EQ(sockets.spec.value_size, 12u);
  EXPECT_EQ(sockets.spec.flags, map_flag::no_common_lru);
  const ObjectMap& of_packets = map_named(spec, "of_packets");
  EXPECT_EQ(of_packets.spec.type, MapType::hash_of_maps);
  EXPECT_EQ(of_packets.spec.value_size, 4u);
  ASSERT_TRUE(of_packets.spec.inner);
  EXPECT_EQ(of_packets.spec.inner->type, MapType::array);
  EXPECT_EQ(of_packets.spec.inner->max_entries, 256u);
  const ObjectProgram* count = spec.program("count");
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->type, ProgramType::socket_filter);
  EXPECT_EQ(count->relocations.size(), 3u);
}

TEST(ObjectSpecTest, GlobalDataAsOneElementArrays) {
  ObjectSpec spec = parse("globals");
  const ObjectMap& data = map_named(spec, ".data");
  EXPECT_EQ(data.spec.type, MapType::array);
  EXPECT_EQ(data.spec.max_entries, 1u);
  EXPECT_EQ(data.spec.key_size, 4u);
  EXPECT_EQ(data.initial_value, (std::vector<std::uint8_t>{5, 0, 0, 0}));
  EXPECT_EQ(data.spec.flags, 0u);
  const ObjectMap& rodata = map_named(spec, ".rodata");
  EXPECT_EQ(rodata.spec.flags, map_flag::rdonly_prog);
  EXPECT_EQ(map_named(spec, ".rodata.str1.1").spec.flags, map_flag::rdonly_prog);
  const ObjectMap& bss = map_named(spec, ".bss");
  EXPECT_EQ(bss.spec.value_size, 40u);  // total + scratch[4]
  EXPECT_EQ(bss.initial_value, std::vector<std::uint8_t>(40, 0));
  EXPECT_EQ(map_named(spec, ".data.custom").initial_value, (std::vector<std::uint8_t>{7, 0, 0, 0}));

  // scratch[2] is .bss + 8 + 16: the offset sits in the second slot's imm.
  const ObjectProgram* program = spec.program("globals");
  ASSERT_NE(program, nullptr);
  bool saw_scratch = false;
  for (const auto& relocation : program->relocations) {
    EXPECT_EQ(relocation.kind, RelocationKind::map_value);
    const Insn& insn = program->insns[relocation.insn];
    EXPECT_EQ(insn.src, lddw_src::map_value);
    EXPECT_EQ(program->insns[relocation.insn + 1].imm,
              static_cast<std::int32_t>(relocation.offset));
    saw_scratch |= spec.maps[relocation.map_index].name == ".bss" && relocation.offset == 8;
  }
  EXPECT_TRUE(saw_scratch);
  // The string literal is found where the relocation points.
  const ObjectMap& strings = map_named(spec, ".rodata.str1.1");
  std::string text(strings.initial_value.begin(), strings.initial_value.end());
  EXPECT_NE(text.find("a literal in .rodata.str1.1"), std::string::npos);
}

TEST(ObjectSpecTest, CallbackAddressesArePseudoFunc) {
  ObjectSpec spec = parse("callbacks");
  const ObjectProgram* program = spec.program("loops");
  ASSERT_NE(program, nullptr);
  std::vector<std::string> callbacks;
  for (const auto& relocation : program->relocations) {
    if (relocation.kind != RelocationKind::func) continue;
    const Insn& insn = program->insns[relocation.insn];
    EXPECT_EQ(insn.src, lddw_src::func);
    EXPECT_GE(relocation.target, program->own_insns);  // appended after the program
    callbacks.push_back(relocation.symbol);
  }
  EXPECT_EQ(callbacks, (std::vector<std::string>{"add_index", "add_value"}));
}

TEST(ObjectSpecTest, SectionNamesGiveLibbpfTypes) {
  EXPECT_EQ(program_type_from_section("xdp"), ProgramType::xdp);
  EXPECT_EQ(program_type_from_section("xdp.frags"), ProgramType::xdp);
  EXPECT_EQ(program_type_from_section("socket"), ProgramType::socket_filter);
  EXPECT_EQ(program_type_from_section("socket1"), ProgramType::socket_filter);  // old prefix
  EXPECT_EQ(program_type_from_section("kprobe/sys_open"), ProgramType::kprobe);
  EXPECT_EQ(program_type_from_section("uretprobe/bash:readline"), ProgramType::kprobe);
  EXPECT_EQ(program_type_from_section("classifier"), ProgramType::sched_cls);
  EXPECT_EQ(program_type_from_section("tc/ingress"), ProgramType::sched_cls);
  EXPECT_EQ(program_type_from_section("raw_tp/sys_enter"), ProgramType::raw_tracepoint);
  EXPECT_EQ(program_type_from_section("raw_tracepoint.w/foo"),
            ProgramType::raw_tracepoint_writable);
  EXPECT_EQ(program_type_from_section("fentry/tcp_connect"), ProgramType::tracing);
  EXPECT_EQ(program_type_from_section("lsm/file_open"), ProgramType::lsm);
  EXPECT_EQ(program_type_from_section("cgroup_skb/egress"), ProgramType::cgroup_skb);
  EXPECT_EQ(program_type_from_section("cgroup/sock_create"), ProgramType::cgroup_sock);
  EXPECT_EQ(program_type_from_section("cgroup/getsockopt"), ProgramType::cgroup_sockopt);
  EXPECT_EQ(program_type_from_section("sk_skb/stream_verdict"), ProgramType::sk_skb);
  EXPECT_EQ(program_type_from_section("sockops"), ProgramType::sock_ops);
  EXPECT_EQ(program_type_from_section("perf_event"), ProgramType::perf_event);
  EXPECT_EQ(program_type_from_section("syscall"), ProgramType::syscall);
  EXPECT_EQ(program_type_from_section("2/1"), std::nullopt);
  EXPECT_EQ(program_type_from_section("from-netdev"), std::nullopt);
}

// libbpf itself is the oracle: for each hook whose attach type matters to the verifier, the
// expected_attach_type libbpf_prog_type_by_name gives the name.
TEST(ObjectSpecTest, SectionNamesGiveLibbpfAttachTypes) {
  for (const char* name : {"cgroup_skb/ingress",  "cgroup_skb/egress",   "sockops",
                           "cgroup/sock_create",  "cgroup/sock_release", "cgroup/sock",
                           "cgroup/post_bind4",   "cgroup/post_bind6",   "cgroup/bind4",
                           "cgroup/bind6",        "cgroup/connect4",     "cgroup/connect6",
                           "cgroup/sendmsg4",     "cgroup/sendmsg6",     "cgroup/recvmsg4",
                           "cgroup/recvmsg6",     "cgroup/getpeername4", "cgroup/getpeername6",
                           "cgroup/getsockname4", "cgroup/getsockname6", "cgroup/sysctl",
                           "cgroup/getsockopt",   "cgroup/setsockopt",   "cgroup/dev"}) {
    bpf_prog_type type{};
    bpf_attach_type attach{};
    ASSERT_EQ(libbpf_prog_type_by_name(name, &type, &attach), 0) << name;
    EXPECT_EQ(attach_type_from_section(name), static_cast<std::uint32_t>(attach)) << name;
  }
  EXPECT_EQ(attach_type_from_section("xdp"), 0u);
  EXPECT_EQ(attach_type_from_section("cgroup/post_bind4/extra"), 0u);
}

}  // namespace
}  // namespace bpfvm
