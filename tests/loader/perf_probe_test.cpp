// perf_probe.bpf.c on both engines with Linux's maps and helpers: the record a program writes
// with bpf_perf_event_output(BPF_F_CURRENT_CPU) reaches the host reader on the slot of the
// run's CPU, with what bpf_probe_read_kernel_str / _user / _kernel and bpf_get_current_task
// gave it.
#include <bpfvm/jit.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

namespace bpfvm {
namespace {

struct Event {
  std::int64_t str_len;
  char name[8];
  std::uint64_t word;
  std::int64_t bad_read;
  std::uint64_t task;
};

void check_record(PerfEventArrayMap& events, const std::uint8_t* memory) {
  long seen = events.consume([&](std::uint32_t slot, const void* data, std::size_t size) {
    EXPECT_LT(slot, possible_cpus());
    EXPECT_EQ(size, sizeof(Event));
    Event event;
    std::memcpy(&event, data, sizeof event);
    EXPECT_EQ(event.str_len, 8);  // truncated: 7 bytes and the NUL
    EXPECT_STREQ(event.name, "perf_pr");
    std::uint64_t word;
    std::memcpy(&word, memory, 8);
    EXPECT_EQ(event.word, word);
    EXPECT_EQ(event.bad_read, -EFAULT);
    EXPECT_EQ(event.task, 0x7a5cu);
    return 0;
  });
  EXPECT_EQ(seen, 1);
}

TEST(PerfProbeObject, RecordsReachTheHostReader) {
  auto spec = ObjectSpec::parse_file(std::string(BPFVM_BPF_OBJECTS_DIR) + "/perf_probe.o");
  ASSERT_TRUE(spec.ok()) << spec.error().to_string();
  HelperRegistry helpers = linux_helpers({.current_task = 0x7a5c});
  auto object = Object::load(*spec, {.helpers = &helpers});
  ASSERT_TRUE(object.ok()) << object.error().to_string();
  auto* events = dynamic_cast<PerfEventArrayMap*>(object->map("events").get());
  ASSERT_NE(events, nullptr);
  EXPECT_EQ(events->spec().max_entries, possible_cpus());  // libbpf's default
  const Program& program = *object->program("emit");

  std::uint8_t memory[32] = "perf_probe string";
  auto interpreted = interpret(program, RunInput::raw(memory));
  ASSERT_TRUE(interpreted.ok()) << interpreted.error().to_string();
  EXPECT_EQ(*interpreted, 0u);
  check_record(*events, memory);

  if (jit_supported()) {
    auto jit = JitProgram::compile(program);
    ASSERT_TRUE(jit.ok()) << jit.error().to_string();
    auto jitted = jit->run(RunInput::raw(memory));
    ASSERT_TRUE(jitted.ok()) << jitted.error().to_string();
    EXPECT_EQ(*jitted, 0u);
    check_record(*events, memory);
  }

  // A closed slot refuses records (-ENOENT), and the program sees it.
  for (std::uint32_t cpu = 0; cpu < possible_cpus(); ++cpu) ASSERT_EQ(events->host_erase(&cpu), 0);
  auto closed = interpret(program, RunInput::raw(memory));
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(*closed, 1u);
  EXPECT_EQ(events->consume([](std::uint32_t, const void*, std::size_t) { return 0; }), 0);
}

}  // namespace
}  // namespace bpfvm
