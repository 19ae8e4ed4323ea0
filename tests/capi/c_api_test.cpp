// The C API (include/bpfvm/bpfvm.h) as a C program uses it: statuses, messages, maps, helpers,
// objects, packets; and that bad calls give errors rather than crashes.
#include <bpfvm/bpfvm.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Insn {
  std::uint8_t opcode;
  std::uint8_t registers;
  std::int16_t offset;
  std::int32_t imm;
};
constexpr Insn insn(std::uint8_t opcode, int dst, int src, std::int16_t offset, std::int32_t imm) {
  return {opcode, static_cast<std::uint8_t>(dst | src << 4), offset, imm};
}
constexpr Insn exit_insn = insn(0x95, 0, 0, 0, 0);

class CApi : public ::testing::Test {
 protected:
  void SetUp() override { vm_ = ebpf_vm_alloc(); }
  void TearDown() override { ebpf_vm_free(vm_); }
  int load(const std::vector<Insn>& program, std::uint32_t type = EBPF_PROG_TYPE_RAW) {
    return ebpf_load_prog(vm_, program.data(), program.size() * sizeof(Insn), type);
  }
  ebpf_vm* vm_ = nullptr;
};

TEST_F(CApi, LoadsAndRunsARawProgram) {
  ASSERT_NE(vm_, nullptr);
  // r0 = r2 (the memory's length) + the first byte.
  ASSERT_EQ(
      load({insn(0xbf, 0, 2, 0, 0), insn(0x71, 1, 1, 0, 0), insn(0x0f, 0, 1, 0, 0), exit_insn}), 0)
      << ebpf_vm_error(vm_);
  std::uint8_t memory[3] = {40, 0, 0};
  std::uint64_t r0 = 0;
  ASSERT_EQ(ebpf_vm_run(vm_, memory, sizeof memory, &r0), 0) << ebpf_vm_error(vm_);
  EXPECT_EQ(r0, 43u);
  EXPECT_STREQ(ebpf_vm_error(vm_), "");
}

TEST_F(CApi, EveryEngineGivesTheSameAnswer) {
  for (ebpf_engine engine : {EBPF_ENGINE_INTERPRETER, EBPF_ENGINE_JIT, EBPF_ENGINE_AUTO}) {
    if (ebpf_vm_set_engine(vm_, engine) != 0) continue;  // no JIT on this machine
    ASSERT_EQ(load({insn(0xb7, 0, 0, 0, 7), insn(0x27, 0, 0, 0, 6), exit_insn}), 0);
    std::uint64_t r0 = 0;
    ASSERT_EQ(ebpf_vm_run(vm_, nullptr, 0, &r0), 0) << ebpf_vm_error(vm_);
    EXPECT_EQ(r0, 42u);
  }
}

TEST_F(CApi, ABadProgramIsRefusedWithAMessageNamingTheInstruction) {
  EXPECT_EQ(load({insn(0xb7, 0, 0, 0, 1), insn(0xff, 0, 0, 0, 0), exit_insn}), -EACCES);
  EXPECT_NE(std::string(ebpf_vm_error(vm_)).find("instruction 1"), std::string::npos)
      << ebpf_vm_error(vm_);
  std::uint64_t r0;
  EXPECT_EQ(ebpf_vm_run(vm_, nullptr, 0, &r0), -ENOENT);
  EXPECT_EQ(ebpf_load_prog(vm_, "abc", 3, EBPF_PROG_TYPE_RAW), -EINVAL);
  EXPECT_EQ(ebpf_load_prog(vm_, nullptr, 8, EBPF_PROG_TYPE_RAW), -EINVAL);
  EXPECT_EQ(ebpf_load_prog(vm_, "", 0, 9999), -EINVAL);
}

TEST_F(CApi, RunsEndWithStatusesNotCrashes) {
  // Loads 8 bytes at r1 + 100: outside the 4-byte memory.
  ASSERT_EQ(load({insn(0x79, 0, 1, 100, 0), exit_insn}), 0);
  std::uint8_t memory[4] = {};
  std::uint64_t r0;
  EXPECT_EQ(ebpf_vm_run(vm_, memory, sizeof memory, &r0), -EFAULT);
  EXPECT_NE(std::string(ebpf_vm_error(vm_)).find("instruction 0"), std::string::npos);

  ASSERT_EQ(ebpf_vm_set_budget(vm_, 1000), 0);
  ASSERT_EQ(load({insn(0x05, 0, 0, -1, 0), exit_insn}), 0);  // ja -1: forever
  EXPECT_EQ(ebpf_vm_run(vm_, nullptr, 0, &r0), -ETIME);
}

std::uint64_t add_user_value(void* user, std::uint64_t r1, std::uint64_t, std::uint64_t,
                             std::uint64_t, std::uint64_t) {
  return r1 + *static_cast<std::uint64_t*>(user);
}

TEST_F(CApi, HostHelpersAreCalledWithTheirUserPointer) {
  std::uint64_t user = 1000;
  ASSERT_EQ(ebpf_register_helper(vm_, 7000, "add_user_value", add_user_value, &user), 0);
  EXPECT_EQ(ebpf_register_helper(vm_, 7000, "again", add_user_value, &user), -EEXIST);
  EXPECT_EQ(ebpf_register_helper(vm_, 7001, "null", nullptr, &user), -EINVAL);
  ASSERT_EQ(load({insn(0xb7, 1, 0, 0, 5), insn(0x85, 0, 0, 0, 7000), exit_insn}), 0)
      << ebpf_vm_error(vm_);
  std::uint64_t r0 = 0;
  ASSERT_EQ(ebpf_vm_run(vm_, nullptr, 0, &r0), 0) << ebpf_vm_error(vm_);
  EXPECT_EQ(r0, 1005u);
}

TEST_F(CApi, ProgramsAndTheHostShareAMap) {
  ebpf_map* map = nullptr;
  ASSERT_EQ(ebpf_map_create(1 /* hash */, 4, 8, 4, 0, &map), 0);
  std::uint32_t index = 99;
  ASSERT_EQ(ebpf_vm_add_map(vm_, map, &index), 0);
  EXPECT_EQ(index, 0u);
  // *(u32 *)(r10 - 4) = 7; *(u64 *)(r10 - 16) = 42; map_update_elem(map, &key, &value, 0)
  ASSERT_EQ(load({insn(0x62, 10, 0, -4, 7), insn(0x7a, 10, 0, -16, 42), insn(0x18, 1, 1, 0, 0),
                  insn(0, 0, 0, 0, 0), insn(0xbf, 2, 10, 0, 0), insn(0x07, 2, 0, 0, -4),
                  insn(0xbf, 3, 10, 0, 0), insn(0x07, 3, 0, 0, -16), insn(0xb7, 4, 0, 0, 0),
                  insn(0x85, 0, 0, 0, 2), exit_insn}),
            0)
      << ebpf_vm_error(vm_);
  std::uint64_t r0 = 1;
  ASSERT_EQ(ebpf_vm_run(vm_, nullptr, 0, &r0), 0) << ebpf_vm_error(vm_);
  EXPECT_EQ(r0, 0u);

  std::uint32_t key = 7;
  std::uint64_t value = 0;
  ASSERT_EQ(ebpf_map_lookup(map, &key, &value), 0);
  EXPECT_EQ(value, 42u);
  std::uint32_t missing = 8;
  EXPECT_EQ(ebpf_map_lookup(map, &missing, &value), -ENOENT);
  EXPECT_EQ(ebpf_map_update(map, &key, &value, EBPF_NOEXIST), -EEXIST);
  std::uint32_t next = 0;
  ASSERT_EQ(ebpf_map_next_key(map, nullptr, &next), 0);
  EXPECT_EQ(next, 7u);
  EXPECT_EQ(ebpf_map_next_key(map, &next, &next), -ENOENT);
  std::uint32_t type, key_size, value_size, entries;
  ASSERT_EQ(ebpf_map_info(map, &type, &key_size, &value_size, &entries), 0);
  EXPECT_EQ(type, 1u);
  EXPECT_EQ(entries, 4u);
  EXPECT_EQ(ebpf_map_value_size(map), 8u);

  ASSERT_EQ(ebpf_map_pin(map, "c-api-test/counts"), 0);
  ebpf_map* again = nullptr;
  ASSERT_EQ(ebpf_map_get_pinned("c-api-test/counts", &again), 0);
  ASSERT_EQ(ebpf_map_lookup(again, &key, &value), 0);
  EXPECT_EQ(value, 42u);
  ebpf_map_free(again);
  EXPECT_EQ(ebpf_map_unpin("c-api-test/counts"), 0);
  EXPECT_EQ(ebpf_map_get_pinned("c-api-test/counts", &again), -ENOENT);
  EXPECT_EQ(ebpf_map_delete(map, &key), 0);
  EXPECT_EQ(ebpf_map_delete(map, &key), -ENOENT);
  ebpf_map_free(map);
}

TEST_F(CApi, MapCallsRefuseBadArguments) {
  ebpf_map* map = nullptr;
  EXPECT_EQ(ebpf_map_create(2, 4, 0, 1, 0, &map), -EINVAL);  // value_size 0
  EXPECT_EQ(ebpf_map_create(2, 4, 8, 1, 0, nullptr), -EINVAL);
  EXPECT_EQ(ebpf_map_lookup(nullptr, nullptr, nullptr), -EINVAL);
  EXPECT_EQ(ebpf_vm_find_map(vm_, "nothing", &map), -ENOENT);
}

TEST_F(CApi, LoadsAnObjectAndRunsItsProgramOnAPacket) {
  std::string path = std::string(BPFVM_BPF_OBJECTS_DIR) + "/xdp_counter.o";
  ASSERT_EQ(ebpf_load_object(vm_, path.c_str(), "count_protocols"), 0) << ebpf_vm_error(vm_);
  // An IPv4 UDP frame to port 9: counted under protocol 17, then dropped.
  std::vector<std::uint8_t> packet(64, 0);
  packet[12] = 0x08;
  packet[14] = 0x45;
  packet[23] = 17;
  packet[36] = 0;
  packet[37] = 9;
  std::size_t size = packet.size();
  std::uint64_t r0 = 0;
  ASSERT_EQ(ebpf_vm_run_packet(vm_, packet.data(), &size, packet.size(), &r0), 0)
      << ebpf_vm_error(vm_);
  EXPECT_EQ(r0, 1u);  // XDP_DROP
  EXPECT_EQ(size, 64u);

  ebpf_map* counters = nullptr;
  ASSERT_EQ(ebpf_vm_find_map(vm_, "per_protocol", &counters), 0);
  std::uint32_t key = 17;
  std::uint64_t counter[2] = {};
  ASSERT_EQ(ebpf_map_lookup(counters, &key, counter), 0);
  EXPECT_EQ(counter[0], 1u);
  EXPECT_EQ(counter[1], 64u);
  EXPECT_EQ(ebpf_load_object(vm_, path.c_str(), "no_such_program"), -ENOENT);
  EXPECT_EQ(ebpf_load_object(vm_, "/nonexistent.o", nullptr), -EIO);
}

}  // namespace
