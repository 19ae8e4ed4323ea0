// One program clang built (tests/progtypes/bpf/*.bpf.c), loaded in the kernel (when bpf() is
// allowed) and in bpfvm, run on the same packet and context in both (BPF_PROG_TEST_RUN and the
// run harness) and on both of bpfvm's engines: what the packet-helper tests compare.
#pragma once

#include "progtypes/clang_programs.hpp"
#include "progtypes/typed_run.hpp"
#include "support/kernel_bpf.hpp"

#include <bpfvm/jit.hpp>

#include <linux/bpf.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::test {

// What a run shows: r0, the packet (data_out) and, for skb programs, the __sk_buff fields
// ctx_out returns.
struct SubjectOutcome {
  bool ran = false;
  std::string error;
  std::uint32_t retval = 0;
  std::vector<std::uint8_t> packet;
  SkbMetadata skb;                      // ctx_out (skb programs)
  std::optional<PacketRunOutput> full;  // bpfvm only

  // What the kernel shows too (not `full`).
  friend bool operator==(const SubjectOutcome& a, const SubjectOutcome& b) {
    return a.ran == b.ran && a.retval == b.retval && a.packet == b.packet && a.skb == b.skb;
  }
};

// ctx_in for BPF_PROG_TEST_RUN: an xdp_md, or the __sk_buff fields test_run accepts.
inline std::vector<std::uint8_t> test_run_ctx_in(ProgramType type, const SkbMetadata& skb,
                                                 const XdpMetadata& xdp, std::size_t size) {
  std::vector<std::uint8_t> bytes;
  if (type == ProgramType::xdp) {
    xdp_md md{};
    md.data = xdp.metadata_size;
    md.data_end = static_cast<std::uint32_t>(size);
    md.ingress_ifindex = xdp.ingress_ifindex;
    bytes.resize(sizeof md);
    std::memcpy(bytes.data(), &md, sizeof md);
    return bytes;
  }
  __sk_buff s{};
  s.mark = skb.mark;
  s.ifindex = skb.ifindex;
  for (int i = 0; i < 5; ++i) s.cb[i] = skb.cb[i];
  s.gso_segs = skb.gso_segs;
  s.gso_size = skb.gso_size;
  bytes.resize(sizeof s);
  std::memcpy(bytes.data(), &s, sizeof s);
  return bytes;
}

// The __sk_buff fields ctx_out returns.
inline SkbMetadata test_run_ctx_out(const std::vector<std::uint8_t>& bytes) {
  __sk_buff s{};
  std::memcpy(&s, bytes.data(), std::min(bytes.size(), sizeof s));
  SkbMetadata out;
  out.mark = s.mark, out.priority = s.priority, out.ingress_ifindex = s.ingress_ifindex;
  out.ifindex = s.ifindex;
  for (int i = 0; i < 5; ++i) out.cb[i] = s.cb[i];
  out.tstamp = s.tstamp, out.wire_len = s.wire_len, out.gso_segs = s.gso_segs;
  out.gso_size = s.gso_size, out.hwtstamp = s.hwtstamp;
  return out;
}

// How bpfvm runs a subject (PacketRunInput's defaults).
struct SubjectRunOptions {
  Engine engine = Engine::interpreter;
  std::uint64_t socket_cookie = 1;
  const Network* network = nullptr;
};

class KernelSubject {
 public:
  // `show` prints an outcome in failure messages (each test knows what its cb[] words mean).
  using Show = std::function<std::string(const SubjectOutcome&)>;

  KernelSubject(const char* name, ProgramType type, Show show)
      : type_(type), show_(std::move(show)) {
    auto insns = clang_program(name);
    if (!insns) {
      skip_ = fmt::format("{}.bin was not built (no clang)", name);
      return;
    }
    auto program = load_typed(type, *insns);
    if (!program) {
      ADD_FAILURE() << name << ": " << program.error().to_string();
      skip_ = "bpfvm refused it";
      return;
    }
    program_ = std::move(*program);
    if (auto probe = kernel::probe(); !probe) {
      kernel_skip_ = "bpf() unavailable: " + probe.error().to_string();
      return;
    }
    auto fd = kernel::load_program(*insns, {.type = static_cast<kernel::ProgType>(type)});
    if (!fd) {
      ADD_FAILURE() << name << ": the kernel refused it: " << fd.error().to_string();
      kernel_skip_ = "the kernel refused it";
      return;
    }
    fd_ = std::move(*fd);
  }

  // Why comparisons with the kernel cannot run, or why nothing can.
  const std::optional<std::string>& skip() const { return skip_ ? skip_ : kernel_skip_; }
  const std::optional<std::string>& skip_bpfvm() const { return skip_; }

  SubjectOutcome kernel(const std::vector<std::uint8_t>& packet, const SkbMetadata& skb = {},
                        const XdpMetadata& xdp = {}) const {
    SubjectOutcome o;
    const std::vector<std::uint8_t> ctx = test_run_ctx_in(type_, skb, xdp, packet.size());
    kernel::TestRunRequest request{
        .data_in = packet, .data_out_size = 1 << 18, .ctx_in = ctx, .ctx_out_size = ctx.size()};
    auto run = kernel::test_run(fd_, request);
    if (!run) {
      o.error = run.error().to_string();
      return o;
    }
    o.ran = true;
    o.retval = run->retval;
    o.packet = run->data_out;
    if (type_ != ProgramType::xdp) o.skb = test_run_ctx_out(run->ctx_out);
    return o;
  }

  SubjectOutcome bpfvm(const std::vector<std::uint8_t>& packet, const SkbMetadata& skb = {},
                       const XdpMetadata& xdp = {}, const SubjectRunOptions& options = {}) const {
    SubjectOutcome o;
    PacketRunInput input{.type = type_, .packet = packet, .skb = skb, .xdp = xdp};
    input.socket_cookie = options.socket_cookie;
    input.network = options.network;
    auto run = run_packet(*program_, input, options.engine);
    if (!run) {
      o.error = run.error().to_string();
      return o;
    }
    o.ran = true;
    o.retval = static_cast<std::uint32_t>(run->return_value);
    o.packet = run->packet;
    if (type_ != ProgramType::xdp) {
      o.skb = run->skb;
      o.skb.tc_index = o.skb.tc_classid = o.skb.queue_mapping = 0;  // not in ctx_out
      o.skb.gso_size = skb.gso_size;  // ctx_out returns ctx_in's (the programs read it)
    }
    o.full = std::move(*run);
    return o;
  }

  // Runs in the kernel and on both engines; fails the test where they differ. Returns
  // bpfvm's interpreter outcome.
  SubjectOutcome compare(const std::string& what, const std::vector<std::uint8_t>& packet,
                         const SkbMetadata& skb = {}, const XdpMetadata& xdp = {}) {
    const SubjectOutcome linux_run = kernel(packet, skb, xdp);
    SubjectOutcome ours = bpfvm(packet, skb, xdp);
    EXPECT_TRUE(linux_run == ours)
        << what << "\n  kernel: " << show_(linux_run) << "\n  bpfvm:  " << show_(ours);
    if (jit_supported()) {
      const SubjectOutcome jit = bpfvm(packet, skb, xdp, {.engine = Engine::jit});
      EXPECT_TRUE(jit == ours) << what << " (JIT)\n  jit:    " << show_(jit)
                               << "\n  interp: " << show_(ours);
    }
    ++compared;
    return ours;
  }

  std::size_t compared = 0;

 private:
  ProgramType type_;
  Show show_;
  std::optional<std::string> skip_, kernel_skip_;
  std::optional<Program> program_;
  kernel::Fd fd_;
};

}  // namespace bpfvm::test

#define SKIP_UNLESS_READY(subject) \
  if ((subject).skip()) GTEST_SKIP() << *(subject).skip()
