// bpf_ringbuf_output, reserve, submit, discard, query: records granted while open, only
// records of this run accepted, records left open discarded when the run ends.
#include "helpers/harness.hpp"
#include "helpers/test_maps.hpp"

#include <cerrno>
#include <cstring>

namespace bpfvm::helper_test {
namespace {

HelperRegistry registry = linux_helpers();

Program load(std::string_view source, std::shared_ptr<Map> map, int lddws) {
  auto insns = assemble_or_fail(source);
  for (int i = 0; i < lddws; ++i) set_pseudo(insns, i, lddw_src::map_fd, 0);
  auto program = Program::load(insns, {.helpers = &registry, .maps = {map}});
  EXPECT_TRUE(program) << program.error().to_string();
  return *program;
}

std::vector<std::string> drain(RingBuf& ring) {
  std::vector<std::string> out;
  ring.consume([&](const void* data, std::size_t size) {
    out.emplace_back(static_cast<const char*>(data), size);
    return 0;
  });
  return out;
}

TEST(Ringbuf, ReserveWriteSubmitDiscardOutputQuery) {
  auto ring = std::make_shared<RingBuf>(4096);
  Program program = load(R"(
    lddw %r1, 0
    mov %r2, 4
    mov %r3, 0
    call 131
    jeq %r0, 0, fail
    stw [%r0], 0x64636261
    mov %r1, %r0
    mov %r2, 0
    call 132
    lddw %r1, 0
    mov %r2, 8
    mov %r3, 0
    call 131
    jeq %r0, 0, fail
    mov %r1, %r0
    mov %r2, 0
    call 133
    stdw [%r10-8], 0x7a7978
    lddw %r1, 0
    mov %r2, %r10
    add %r2, -8
    mov %r3, 3
    mov %r4, 0
    call 130
    jne %r0, 0, fail
    lddw %r1, 0
    mov %r2, 0
    call 134
    exit
  fail:
    mov %r0, 1000
    exit
  )",
                         ring, 4);
  Outcomes outcomes = run_both(program, {});
  // Available data before consuming: 3 records with 8-byte headers (4 + 8 + 3 bytes), per run.
  EXPECT_TRUE(outcomes.interpreter && *outcomes.interpreter == 12 + 16 + 11)
      << show(outcomes.interpreter);
  EXPECT_TRUE(outcomes.jit && *outcomes.jit == 2 * (12 + 16 + 11)) << show(outcomes.jit);
  EXPECT_EQ(drain(*ring), (std::vector<std::string>{"abcd", "xyz", "abcd", "xyz"}));
}

TEST(Ringbuf, RecordIsWritableOnlyWhileOpen) {
  auto ring = std::make_shared<RingBuf>(4096);
  Program program = load(R"(
    lddw %r1, 0
    mov %r2, 4
    mov %r3, 0
    call 131
    jeq %r0, 0, out
    mov %r6, %r0
    mov %r1, %r0
    mov %r2, 0
    call 132
    stw [%r6], 1
  out:
    exit
  )",
                         ring, 1);
  EXPECT_BOTH_FAIL(run_both(program, {}), Error::Kind::out_of_bounds, "instruction 10");
}

TEST(Ringbuf, SubmittingWhatWasNotReservedFails) {
  auto ring = std::make_shared<RingBuf>(4096);
  Program program = load(R"(
    mov %r1, %r10
    add %r1, -8
    mov %r2, 0
    call 132
    exit
  )",
                         ring, 0);
  EXPECT_BOTH_FAIL(run_both(program, {}), Error::Kind::helper, "ringbuf_submit: 0x");
}

TEST(Ringbuf, RecordsLeftOpenAreDiscardedWhenTheRunEnds) {
  auto ring = std::make_shared<RingBuf>(4096);
  Program program = load(R"(
    lddw %r1, 0
    mov %r2, 16
    mov %r3, 0
    call 131
    mov %r0, 0
    exit
  )",
                         ring, 1);
  EXPECT_BOTH_EQ(run_both(program, {}), 0);
  EXPECT_EQ(ring->busy(), 0u);
  EXPECT_EQ(ring->discarded(), 2u);
  EXPECT_TRUE(drain(*ring).empty());
}

TEST(Ringbuf, OtherMapsAreRefused) {
  auto hash = std::make_shared<HashMap>(4, 4, 4);
  Program program = load("lddw %r1, 0\nmov %r2, 0\ncall 134\nexit\n", hash, 1);
  EXPECT_BOTH_FAIL(run_both(program, {}), Error::Kind::helper, "not a ringbuf");
}

}  // namespace
}  // namespace bpfvm::helper_test
