// Our BPF C programs (tests/bpf/*.bpf.c, built with clang -target bpf) run in the kernel
// (libbpf + BPF_PROG_TEST_RUN) and in bpfvm (ObjectSpec + Object + run_packet) on the same
// packets, in the same order: every return value and output packet must agree, and so must
// every map afterwards. Skips, saying why, where the kernel refuses bpf().
#include "support/kernel_object.hpp"
#include "support/test_packets.hpp"

#include <bpfvm/data_file.hpp>
#include <bpfvm/jit.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/progtypes.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace bpfvm::test {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct ProgramCase {
  const char* object;
  const char* program;
  Engine engine;
};

// For test names in failure messages (gtest would print the struct's bytes).
void PrintTo(const ProgramCase& test, std::ostream* out) {
  *out << test.object << "." << test.program
       << (test.engine == Engine::jit ? " (JIT)" : " (interpreter)");
}

std::string object_path(const char* object) {
  return std::string(BPFVM_BPF_OBJECTS_DIR) + "/" + object + ".o";
}

bool is_per_cpu(MapType type) {
  return type == MapType::percpu_array || type == MapType::percpu_hash ||
         type == MapType::lru_percpu_hash;
}

// Per-CPU values as the sum over CPUs of each 8-byte slot: which CPU a run lands on is not
// part of the contract, the totals are.
Bytes fold_per_cpu(const Bytes& value, std::size_t value_size) {
  std::size_t stride = (value_size + 7) / 8 * 8;
  Bytes folded(stride, 0);
  for (std::size_t cpu = 0; cpu + stride <= value.size(); cpu += stride)
    for (std::size_t slot = 0; slot + 8 <= stride; slot += 8) {
      std::uint64_t total, part;
      std::memcpy(&total, &folded[slot], 8);
      std::memcpy(&part, &value[cpu + slot], 8);
      total += part;
      std::memcpy(&folded[slot], &total, 8);
    }
  return folded;
}

// Hex text of a key or value; maps of strings also keep GCC 12 from a false
// -Wstringop-overread on std::vector ordering.
std::string hex(const Bytes& bytes) { return format_hex_bytes(bytes); }

using Contents = std::map<std::string, std::string>;

// One "key: value" line per element, in key order: compared as text, a difference shows
// which element differs.
std::string describe(const Contents& contents) {
  std::string text;
  for (const auto& [key, value] : contents) text += key + ": " + value + "\n";
  return text;
}

Contents kernel_contents(const std::vector<kernel::MapEntry>& entries, MapType type,
                         std::size_t value_size) {
  Contents contents;
  for (const kernel::MapEntry& entry : entries)
    contents[hex(entry.key)] =
        hex(is_per_cpu(type) ? fold_per_cpu(entry.value, value_size) : entry.value);
  return contents;
}

Contents our_contents(Map& map) {
  Contents contents;
  Bytes key(map.spec().key_size), next(map.spec().key_size);
  Bytes value(map.host_value_size());
  const void* previous = nullptr;
  while (map.get_next_key(previous, next.data()) == 0) {
    if (map.host_lookup(next.data(), value.data()) == 0)
      contents[hex(next)] =
          hex(is_per_cpu(map.type()) ? fold_per_cpu(value, map.spec().value_size) : value);
    key = next;
    previous = key.data();
  }
  return contents;
}

std::vector<Bytes> our_ring_records(Map& map) {
  std::vector<Bytes> records;
  auto* ring = dynamic_cast<RingBufferMap*>(&map);
  if (ring == nullptr) return records;
  ring->consume([&](const void* data, std::size_t size) {
    auto* bytes = static_cast<const std::uint8_t*>(data);
    records.emplace_back(bytes, bytes + size);
    return 0;
  });
  return records;
}

// Our map for a kernel map name: the same name, or for global data ("objname.bss") the
// section name the loader uses (".bss").
std::shared_ptr<Map> our_map(const Object& object, const std::string& kernel_name) {
  if (auto map = object.map(kernel_name)) return map;
  auto dot = kernel_name.find('.');
  if (dot == std::string::npos) return nullptr;
  return object.map(kernel_name.substr(dot));
}

class ObjectDifferential : public ::testing::TestWithParam<ProgramCase> {};

TEST_P(ObjectDifferential, SameResultsPacketsAndMapsAsTheKernel) {
  const ProgramCase& test = GetParam();
  if (test.engine == Engine::jit && !jit_supported()) GTEST_SKIP() << "no JIT on this host";
  auto kernel_object = kernel::KernelObject::load(object_path(test.object));
  if (!kernel_object) {
    if (kernel_object.error().is_refusal())
      GTEST_SKIP() << "the kernel refuses bpf(): " << kernel_object.error().to_string();
    FAIL() << "the kernel rejects our test object: " << kernel_object.error().to_string();
  }

  auto spec = ObjectSpec::parse_file(object_path(test.object));
  ASSERT_TRUE(spec.ok()) << spec.error().to_string();
  const ObjectProgram* described = spec->program(test.program);
  ASSERT_NE(described, nullptr) << test.program;
  HelperRegistry helpers = linux_helpers();
  ASSERT_TRUE(add_packet_helpers(helpers, described->type).ok());
  auto object = Object::load(*spec, ObjectLoadOptions{.helpers = &helpers});
  ASSERT_TRUE(object.ok()) << object.error().to_string();
  const Program* program = object->program(test.program);
  ASSERT_NE(program, nullptr);

  for (const TestPacket& packet : standard_test_packets()) {
    auto expected = kernel_object->run(test.program, packet.bytes);
    PacketRunInput input;
    input.type = described->type;
    input.packet = packet.bytes;
    auto actual = run_packet(*program, input, test.engine);
    if (!expected.ok()) {
      // test_run refuses some frames for skb types (an IPv4 EtherType with no IPv4 header):
      // the harness must refuse them too.
      EXPECT_FALSE(actual.ok()) << packet.name << ": the kernel refuses it ("
                                << expected.error().to_string() << "), bpfvm runs it";
      continue;
    }
    ASSERT_TRUE(actual.ok()) << packet.name << ": " << actual.error().to_string();
    EXPECT_EQ(static_cast<std::uint32_t>(actual->return_value), expected->retval) << packet.name;
    EXPECT_EQ(hex(actual->packet), hex(expected->data_out)) << packet.name;
  }

  for (const std::string& name : kernel_object->map_names()) {
    std::shared_ptr<Map> map = our_map(*object, name);
    ASSERT_NE(map, nullptr) << "no map of ours for the kernel's " << name;
    if (map->type() == MapType::prog_array) continue;  // values are program fds there
    if (map->type() == MapType::ringbuf) {
      auto records = kernel_object->ring_records(name);
      ASSERT_TRUE(records.ok()) << records.error().to_string();
      std::string ours, theirs;
      for (const Bytes& record : our_ring_records(*map)) ours += hex(record) + "\n";
      for (const Bytes& record : *records) theirs += hex(record) + "\n";
      EXPECT_EQ(ours, theirs) << "ring buffer " << name;
      continue;
    }
    auto entries = kernel_object->entries(name);
    ASSERT_TRUE(entries.ok()) << entries.error().to_string();
    EXPECT_EQ(describe(our_contents(*map)),
              describe(kernel_contents(*entries, map->type(), map->spec().value_size)))
        << "map " << name;
  }
}

const ProgramCase programs[] = {
    {"xdp_counter", "count_protocols", Engine::interpreter},
    {"xdp_parser", "parse_flows", Engine::interpreter},
    {"lpm_router", "route_by_prefix", Engine::interpreter},
    {"ringbuf_producer", "sample_packets", Engine::interpreter},
    {"tail_calls", "stage0", Engine::interpreter},
    {"subprog_tail_calls", "from_subprogram", Engine::interpreter},
    {"global_data", "use_globals", Engine::interpreter},
    {"call_chains", "call_chain", Engine::interpreter},
    {"call_chains", "call_shared", Engine::interpreter},
    {"packet_loop", "loop_over_packet", Engine::interpreter},
    {"percpu_counter", "count_per_cpu", Engine::interpreter},
    {"socket_filter", "keep_web", Engine::interpreter},
    {"tc_rewrite", "rewrite_destination", Engine::interpreter},
    {"tc_tunnel", "encapsulate", Engine::interpreter},
    {"tc_tunnel", "push_outer", Engine::interpreter},
    {"xdp_meta", "tag_and_redirect", Engine::interpreter},
};

std::vector<ProgramCase> on_both_engines() {
  std::vector<ProgramCase> cases;
  for (ProgramCase test : programs) {
    cases.push_back(test);
    test.engine = Engine::jit;
    cases.push_back(test);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Programs, ObjectDifferential, ::testing::ValuesIn(on_both_engines()),
                         [](const auto& info) {
                           return std::string(info.param.program) +
                                  (info.param.engine == Engine::jit ? "_jit" : "_interpreter");
                         });

}  // namespace
}  // namespace bpfvm::test
