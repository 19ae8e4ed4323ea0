// Calls to helpers a program may not make (an id no kernel has, a helper outside the type's
// list) behind a branch the verifier proves never taken, against the kernel: Linux checks a
// helper call only where do_check reaches it (check_helper_call) and accepts the program
// otherwise. bpfvm must judge each program as the kernel does (verdict and reason), load the
// ones it accepts, and run them to the kernel's BPF_PROG_TEST_RUN result; a reachable such
// call loads too but fails the run at the call, never calling anything. Skips the kernel
// half, saying why, where bpf(2) is refused.
#include "support/kernel_bpf.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/progtypes.hpp>
#include <bpfvm/verifier.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bpfvm::verifier::testing {
namespace {

struct DeadCallCase {
  const char* name;
  ProgramType type;
  const char* source;
  bool accept;           // Linux's verdict, and so ours
  const char* kernel;    // a part of the kernel's log when it rejects
  const char* ours;      // a part of our reason when we reject
  std::uint32_t retval;  // r0 when accepted
};

// socket_filter may not call bpf_xdp_adjust_head (44); no kernel has helper 99999.
const DeadCallCase cases[] = {
    {"unknown id behind a constant branch", ProgramType::socket_filter,
     "mov %r0, 0\n"
     "jeq %r0, 0, +1\n"
     "call 99999\n"
     "exit\n",
     true, "", "", 0},
    {"unknown id reached", ProgramType::socket_filter,
     "mov %r0, 0\n"
     "jeq %r0, 1, +1\n"
     "call 99999\n"
     "exit\n",
     false, "invalid func unknown#99999", "invalid func unknown#99999", 0},
    {"helper of another type behind a constant branch", ProgramType::socket_filter,
     "mov %r0, 3\n"
     "jne %r0, 3, +1\n"
     "exit\n"
     "call 44\n"
     "exit\n",
     true, "", "", 3},
    {"helper of another type reached", ProgramType::socket_filter,
     "mov %r0, 3\n"
     "jeq %r0, 3, +1\n"
     "exit\n"
     "call 44\n"
     "exit\n",
     false, "program of this type cannot use helper bpf_xdp_adjust_head#44",
     "program of type socket_filter cannot call helper 44", 0},
    // Only the low 32 bits decide: the verifier must know them from a 64-bit constant.
    {"unknown id behind a 32-bit test of a 64-bit constant", ProgramType::xdp,
     "lddw %r1, 0x100000005\n"
     "mov %r0, 2\n"
     "jeq32 %r1, 5, +1\n"
     "call 99999\n"
     "exit\n",
     true, "", "", 2},
    // The branch depends on the packet's length (__sk_buff.len): both ways are possible, so
    // the call is checked.
    {"unknown id behind a branch on the packet's length", ProgramType::socket_filter,
     "ldxw %r2, [%r1+0]\n"
     "mov %r0, 0\n"
     "jeq %r2, 1000, +1\n"
     "call 99999\n"
     "exit\n",
     false, "invalid func unknown#99999", "invalid func unknown#99999", 0},
};

bpfvm::test::kernel::ProgType to_kernel(ProgramType type) {
  return type == ProgramType::xdp ? bpfvm::test::kernel::ProgType::xdp
                                  : bpfvm::test::kernel::ProgType::socket_filter;
}

std::vector<std::uint8_t> packet() {
  std::vector<std::uint8_t> bytes(64, 0);
  bytes[12] = 0x08;  // IPv4
  for (std::size_t i = 14; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i);
  return bytes;
}

VerifyResult verify_as_loaded(const std::vector<Insn>& insns, ProgramType type,
                              const HelperRegistry& helpers) {
  VerifyOptions options;
  options.type = type;
  options.helpers = &helpers;
  options.linux_prototypes = true;
  return verify(insns, options);
}

TEST(DeadHelperCalls, JudgedLoadedAndRunAsTheKernel) {
  auto probe = bpfvm::test::kernel::probe();
  const std::vector<std::uint8_t> frame = packet();
  for (const DeadCallCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto insns = assemble(c.source);
    ASSERT_TRUE(insns) << insns.error().to_string();
    auto helpers = program_helpers(c.type);
    ASSERT_TRUE(helpers);
    ASSERT_EQ(helpers->find(99999), nullptr);
    VerifyResult verdict = verify_as_loaded(*insns, c.type, *helpers);
    EXPECT_EQ(verdict.ok(), c.accept) << (verdict.error ? verdict.error->to_string() : "");
    if (!c.accept && verdict.error) {
      EXPECT_NE(verdict.error->reason.find(c.ours), std::string::npos) << verdict.error->reason;
    }

    // Loads either way: the verifier is what refuses a reachable call.
    LoadOptions load{.helpers = &*helpers, .type = c.type};
    auto program = load_typed_program(*insns, load);
    ASSERT_TRUE(program) << program.error().to_string();
    PacketRunInput input;
    input.type = c.type;
    input.packet = frame;
    for (Engine engine : {Engine::interpreter, Engine::jit}) {
      auto ran = run_packet(*program, input, engine);
      if (c.accept) {
        ASSERT_TRUE(ran) << ran.error().to_string();
        EXPECT_EQ(ran->return_value, c.retval);
      } else {
        ASSERT_FALSE(ran) << "returned " << ran->return_value;
        EXPECT_EQ(ran.error().kind, Error::Kind::helper) << ran.error().to_string();
        EXPECT_NE(ran.error().to_string().find("no helper with id"), std::string::npos)
            << ran.error().to_string();
      }
    }

    if (!probe) continue;
    bpfvm::test::kernel::ProgLoadOptions kernel_options;
    kernel_options.type = to_kernel(c.type);
    auto loaded = bpfvm::test::kernel::load_program(*insns, kernel_options);
    ASSERT_EQ(loaded.ok(), c.accept) << (loaded ? "" : loaded.error().to_string());
    if (!c.accept) {
      EXPECT_NE(loaded.error().verifier_log.find(c.kernel), std::string::npos)
          << loaded.error().verifier_log;
      continue;
    }
    auto kernel_run = bpfvm::test::kernel::test_run(*loaded, frame);
    ASSERT_TRUE(kernel_run) << kernel_run.error().to_string();
    EXPECT_EQ(kernel_run->retval, c.retval);
  }
  if (!probe)
    GTEST_SKIP() << "bpfvm's half ran; the kernel's is not available: "
                 << probe.error().to_string();
}

}  // namespace
}  // namespace bpfvm::verifier::testing
