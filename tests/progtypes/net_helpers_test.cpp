// bpf_fib_lookup, bpf_get_hash_recalc and bpf_clone_redirect: programs clang built
// (tests/progtypes/bpf/{fib_tc,fib_xdp,hash_tc,clone_tc}.bpf.c) run on bpfvm with a Network
// and in the kernel (BPF_PROG_TEST_RUN) inside a new network namespace that `ip` sets up the
// same way. fib_lookup: return codes and every byte of struct bpf_fib_lookup must match.
// get_hash_recalc: Linux keys its hash with a random per-boot secret, so the values differ;
// what must match is which packets hash alike (the flow, in both directions) and which do not.
#include "progtypes/clang_programs.hpp"
#include "progtypes/insn_builders.hpp"
#include "progtypes/typed_run.hpp"
#include "support/kernel_bpf.hpp"

#include <bpfvm/network.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

namespace k = test::kernel;
using Bytes = std::vector<std::uint8_t>;

using test::clang_program;

// ---- The network, described twice: `ip` commands for the kernel, lines for bpfvm.
const char* const kernel_setup = R"(set -e
ip link set lo up
ip link add a0 index 10 address 02:00:00:00:00:0a mtu 1400 type veth peer name b0 index 11 address 02:00:00:00:00:0b
ip link set a0 up
ip link set b0 up
ip addr add 10.0.1.1/24 dev a0
ip addr add 10.0.2.1/24 dev b0
ip -6 addr add 2001:db8:1::1/64 dev a0 nodad
sysctl -qw net.ipv4.conf.a0.forwarding=1
sysctl -qw net.ipv6.conf.a0.forwarding=1
ip neigh add 10.0.1.254 lladdr 02:00:00:00:00:fe dev a0 nud permanent
ip neigh add 10.0.1.7 lladdr 02:00:00:00:00:07 dev a0 nud permanent
ip -6 neigh add 2001:db8:1::fe lladdr 02:00:00:00:00:fe dev a0 nud permanent
ip route add 192.0.2.0/24 via 10.0.1.254 dev a0
ip route add 192.0.2.128/25 via 10.0.1.7 dev a0 metric 5
ip route add 203.0.113.0/24 via 10.0.1.99 dev a0
ip route add blackhole 198.51.100.0/24
ip route add unreachable 198.51.101.0/24
ip route add prohibit 198.51.102.0/24
ip route add 172.16.0.0/16 dev a0 mtu lock 1000
ip route add default via 10.0.1.254 dev a0 table 100
ip -6 route add 2001:db8:2::/64 via 2001:db8:1::fe dev a0 metric 1024
)";

const char* const bpfvm_setup = R"(
link 10 a0 mac 02:00:00:00:00:0a mtu 1400
link 11 b0 mac 02:00:00:00:00:0b noforward
addr 10 10.0.1.1/24
addr 11 10.0.2.1/24
addr 10 2001:db8:1::1/64
neigh 10 10.0.1.254 02:00:00:00:00:fe
neigh 10 10.0.1.7 02:00:00:00:00:07
neigh 10 2001:db8:1::fe 02:00:00:00:00:fe
route 192.0.2.0/24 via 10.0.1.254 dev 10
route 192.0.2.128/25 via 10.0.1.7 dev 10 metric 5
route 203.0.113.0/24 via 10.0.1.99 dev 10
route 198.51.100.0/24 blackhole
route 198.51.101.0/24 unreachable
route 198.51.102.0/24 prohibit
route 172.16.0.0/16 dev 10 mtu 1000
route 0.0.0.0/0 via 10.0.1.254 dev 10 table 100
route 2001:db8:2::/64 via 2001:db8:1::fe dev 10 metric 1024
)";

Network test_network() {
  Network net = Network::loopback();
  auto ok = net.add_lines(bpfvm_setup);
  EXPECT_TRUE(ok) << ok.error().to_string();
  return net;
}

// ---- fib_lookup cases: the probe packet is an Ethernet header (type 0x88b5), flags, padding
// and struct bpf_fib_lookup.
struct FibCase {
  const char* name;
  std::uint8_t family;  // 2 AF_INET, 10 AF_INET6
  const char* dst;
  std::uint32_t ifindex = 10;
  std::uint32_t flags = 0;
  std::uint16_t tot_len = 0;
  std::uint32_t tbid = 0;
};

constexpr std::uint32_t f_direct = 1, f_output = 2, f_skip_neigh = 4, f_tbid = 8, f_src = 16;

const FibCase fib_cases[] = {
    {"via gateway", 2, "192.0.2.5"},
    {"longest prefix", 2, "192.0.2.200"},
    {"connected with neighbour", 2, "10.0.1.7"},
    {"connected without neighbour", 2, "10.0.1.8"},
    {"skip neigh", 2, "10.0.1.8", 10, f_skip_neigh},
    {"gateway without neighbour", 2, "203.0.113.9"},
    {"blackhole", 2, "198.51.100.1"},
    {"unreachable", 2, "198.51.101.1"},
    {"prohibit", 2, "198.51.102.1"},
    {"no route", 2, "8.8.8.8"},
    {"local address", 2, "10.0.1.1"},
    {"subnet broadcast", 2, "10.0.1.255"},
    {"forwarding off", 2, "192.0.2.5", 11},
    {"loopback forwarding off", 2, "192.0.2.5", 1},
    {"no such interface", 2, "192.0.2.5", 99},
    {"bad family", 7, "192.0.2.5"},
    {"bad flags", 2, "192.0.2.5", 10, 0x40},
    {"frag needed", 2, "192.0.2.5", 10, 0, 1401},
    {"fits the mtu", 2, "192.0.2.5", 10, 0, 1400},
    {"route mtu lock", 2, "172.16.1.1", 10, 0, 1200},
    {"route mtu lock fits", 2, "172.16.1.1", 10, 0, 900},
    {"table 100", 2, "8.8.8.8", 10, f_direct | f_tbid, 0, 100},
    {"missing table", 2, "8.8.8.8", 10, f_direct | f_tbid, 0, 101},
    {"direct main", 2, "8.8.8.8", 10, f_direct},
    {"direct local address", 2, "10.0.1.1", 10, f_direct},
    {"output", 2, "192.0.2.5", 10, f_output},
    {"src", 2, "192.0.2.5", 10, f_src},
    {"v6 via gateway", 10, "2001:db8:2::5"},
    {"v6 connected", 10, "2001:db8:1::fe"},
    {"v6 link local", 10, "fe80::1"},
    {"v6 no route", 10, "2001:db8:3::1"},
    {"v6 local address", 10, "2001:db8:1::1"},
    {"v6 frag needed", 10, "2001:db8:2::5", 10, 0, 1401},
    {"v6 src", 10, "2001:db8:2::5", 10, f_src},
};

Bytes fib_packet(const FibCase& c) {
  Bytes packet(14 + 8 + 64, 0);
  packet[12] = 0x88;
  packet[13] = 0xb5;
  std::memcpy(packet.data() + 14, &c.flags, 4);
  std::uint8_t* params = packet.data() + 22;
  params[0] = c.family;
  std::memcpy(params + 6, &c.tot_len, 2);
  std::memcpy(params + 8, &c.ifindex, 4);
  auto dst = IpAddress::parse(c.dst);
  if (dst) std::memcpy(params + 32, dst->bytes.data(), dst->size());
  std::memcpy(params + 48, &c.tbid, 4);
  return packet;
}

// ---- get_hash_recalc packets.
Bytes tcp4(const char* src, const char* dst, std::uint16_t sport, std::uint16_t dport,
           std::uint8_t proto = 6, std::uint16_t frag = 0x4000, std::uint8_t fill = 0) {
  Bytes frame(14 + 20 + 20 + 8, fill);
  std::memset(frame.data(), 0, 14 + 20);
  frame[0] = 2, frame[6] = 2, frame[12] = 0x08;
  std::uint8_t* ip = frame.data() + 14;
  ip[0] = 0x45;
  const auto total = static_cast<std::uint16_t>(frame.size() - 14);
  ip[2] = static_cast<std::uint8_t>(total >> 8), ip[3] = static_cast<std::uint8_t>(total);
  ip[6] = static_cast<std::uint8_t>(frag >> 8), ip[7] = static_cast<std::uint8_t>(frag);
  ip[8] = 64, ip[9] = proto;
  std::memcpy(ip + 12, IpAddress::parse(src)->bytes.data(), 4);
  std::memcpy(ip + 16, IpAddress::parse(dst)->bytes.data(), 4);
  std::uint8_t* l4 = ip + 20;
  l4[0] = static_cast<std::uint8_t>(sport >> 8), l4[1] = static_cast<std::uint8_t>(sport);
  l4[2] = static_cast<std::uint8_t>(dport >> 8), l4[3] = static_cast<std::uint8_t>(dport);
  return frame;
}

Bytes with_vlan(Bytes frame, std::uint16_t vid) {
  const std::uint8_t tag[4] = {0x81, 0x00, static_cast<std::uint8_t>(vid >> 8),
                               static_cast<std::uint8_t>(vid)};
  frame.insert(frame.begin() + 12, tag, tag + 4);
  return frame;
}

Bytes tcp6(std::uint32_t label, std::uint16_t sport, std::uint16_t dport, bool reverse = false) {
  Bytes frame(14 + 40 + 20, 0);
  frame[0] = 2, frame[6] = 2, frame[12] = 0x86, frame[13] = 0xdd;
  std::uint8_t* ip = frame.data() + 14;
  ip[0] = 0x60;
  ip[1] = static_cast<std::uint8_t>((label >> 16) & 0xf);
  ip[2] = static_cast<std::uint8_t>(label >> 8), ip[3] = static_cast<std::uint8_t>(label);
  ip[5] = 20, ip[6] = 6, ip[7] = 64;
  auto a = IpAddress::parse("2001:db8:1::1")->bytes, b = IpAddress::parse("2001:db8:2::2")->bytes;
  std::memcpy(ip + 8, (reverse ? b : a).data(), 16);
  std::memcpy(ip + 24, (reverse ? a : b).data(), 16);
  std::uint8_t* l4 = ip + 40;
  l4[0] = static_cast<std::uint8_t>(sport >> 8), l4[1] = static_cast<std::uint8_t>(sport);
  l4[2] = static_cast<std::uint8_t>(dport >> 8), l4[3] = static_cast<std::uint8_t>(dport);
  return frame;
}

Bytes arp(std::uint8_t last) {
  Bytes frame(14 + 28, 0);
  frame[0] = 0xff, frame[12] = 0x08, frame[13] = 0x06;
  frame[14 + 27] = last;
  return frame;
}

std::vector<Bytes> hash_packets() {
  return {
      tcp4("192.168.1.10", "10.0.0.1", 43210, 80),                // 0: a flow
      tcp4("10.0.0.1", "192.168.1.10", 80, 43210),                // 1: its reply
      tcp4("192.168.1.10", "10.0.0.1", 43210, 80, 6, 0x4000, 7),  // 2: other payload
      tcp4("192.168.1.10", "10.0.0.1", 43210, 81),                // 3: other port
      tcp4("192.168.1.10", "10.0.0.1", 43210, 80, 17),            // 4: UDP
      tcp4("192.168.1.10", "10.0.0.2", 43210, 80),                // 5: other address
      tcp4("192.168.1.10", "10.0.0.1", 1, 2, 6, 0x0010),          // 6: a later fragment
      tcp4("192.168.1.10", "10.0.0.1", 3, 4, 6, 0x0010),          // 7: another (no ports)
      tcp4("192.168.1.10", "10.0.0.1", 5, 6, 6, 0x2000),          // 8: a first fragment
      tcp6(0, 1, 2),                                              // 9: IPv6 flow
      tcp6(0, 2, 1, true),                                        // 10: its reply
      tcp6(0, 1, 3),                                              // 11: other port
      tcp6(0x12345, 1, 2),                                        // 12: a flow label
      tcp6(0x12345, 7, 9),                                        // 13: same label, no ports
      tcp6(0x54321, 1, 2),                                        // 14: other label
      arp(1),                                                     // 15: not IP
      arp(2),                                                     // 16
      with_vlan(tcp4("192.168.1.10", "10.0.0.1", 43210, 80), 5),  // 17: VLAN 5
      with_vlan(tcp4("10.0.0.1", "192.168.1.10", 80, 43210), 5),  // 18: its reply
      with_vlan(tcp4("192.168.1.10", "10.0.0.1", 43210, 80), 6),  // 19: VLAN 6
  };
}

// ---- clone_redirect cases: ifindex and flags.
struct CloneCase {
  std::uint32_t ifindex, flags;
};
const CloneCase clone_cases[] = {{1, 0}, {1, 1}, {10, 0}, {10, 1}, {99, 0}, {1, 2}, {12, 0}};

Bytes clone_packet(const CloneCase& c) {
  Bytes packet = tcp4("192.168.1.10", "10.0.0.1", 43210, 80);
  std::memcpy(packet.data() + 14, &c.ifindex, 4);
  std::memcpy(packet.data() + 18, &c.flags, 4);
  return packet;
}

// ---- bpfvm's results.
struct Outcome {
  std::uint32_t retval = 0;
  Bytes data;
};

Outcome run_bpfvm(ProgramType type, const std::vector<Insn>& insns, const Bytes& packet,
                  const Network& net, std::vector<ClonedPacket>* clones = nullptr) {
  auto program = test::load_typed(type, insns);
  EXPECT_TRUE(program) << program.error().to_string();
  if (!program) return {};
  PacketRunInput input;
  input.type = type;
  input.packet = packet;
  input.network = &net;
  auto out = run_packet(*program, input);
  EXPECT_TRUE(out) << out.error().to_string();
  if (!out) return {};
  if (clones != nullptr) *clones = out->clones;
  return {static_cast<std::uint32_t>(out->return_value), out->packet};
}

// ---- The kernel's, from a child process in its own network namespace. The child writes
// every outcome (retval, length, data) to a pipe; "skip: why" when it cannot set up.
struct KernelRuns {
  std::string skip;
  std::vector<Outcome> fib_tc, fib_xdp, hash, clone;
};

void write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n <= 0) return;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

bool read_all(int fd, void* data, std::size_t size) {
  auto* p = static_cast<std::uint8_t*>(data);
  while (size > 0) {
    ssize_t n = read(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void child_runs(int fd, const std::vector<Insn>& fib_tc, const std::vector<Insn>& fib_xdp,
                const std::vector<Insn>& hash_tc, const std::vector<Insn>& clone_tc) {
  auto skip = [&](const std::string& why) {
    const std::uint32_t marker = 0xffffffff;
    write_all(fd, &marker, 4);
    const auto size = static_cast<std::uint32_t>(why.size());
    write_all(fd, &size, 4);
    write_all(fd, why.data(), why.size());
  };
  if (unshare(CLONE_NEWNET) != 0)
    return skip(fmt::format("unshare(CLONE_NEWNET): {}", strerror(errno)));
  std::string script = std::string(kernel_setup);
  if (std::system(("sh -c '" + script + "' >/dev/null 2>&1").c_str()) != 0)
    return skip("the ip/sysctl commands setting up the namespace failed");
  const std::uint32_t go = 0;
  write_all(fd, &go, 4);
  auto run_all = [&](const std::vector<Insn>& insns, k::ProgType type,
                     const std::vector<Bytes>& packets) {
    auto program = k::load_program(insns, {.type = type});
    for (const Bytes& packet : packets) {
      Outcome outcome;
      outcome.retval = 0xdeadbeef;
      if (program) {
        auto run = k::test_run(*program, packet);
        if (run) outcome = {run->retval, run->data_out};
      }
      write_all(fd, &outcome.retval, 4);
      const auto size = static_cast<std::uint32_t>(outcome.data.size());
      write_all(fd, &size, 4);
      write_all(fd, outcome.data.data(), outcome.data.size());
    }
  };
  std::vector<Bytes> fib_packets, clone_packets;
  for (const FibCase& c : fib_cases) fib_packets.push_back(fib_packet(c));
  for (const CloneCase& c : clone_cases) clone_packets.push_back(clone_packet(c));
  run_all(fib_tc, k::ProgType::sched_cls, fib_packets);
  run_all(fib_xdp, k::ProgType::xdp, fib_packets);
  run_all(hash_tc, k::ProgType::sched_cls, hash_packets());
  run_all(clone_tc, k::ProgType::sched_cls, clone_packets);
}

KernelRuns kernel_runs(const std::vector<Insn>& fib_tc, const std::vector<Insn>& fib_xdp,
                       const std::vector<Insn>& hash_tc, const std::vector<Insn>& clone_tc) {
  KernelRuns runs;
  if (auto probe = k::probe(); !probe) {
    runs.skip = probe.error().to_string();
    return runs;
  }
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    runs.skip = "pipe failed";
    return runs;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    child_runs(pipe_fds[1], fib_tc, fib_xdp, hash_tc, clone_tc);
    close(pipe_fds[1]);
    _exit(0);
  }
  close(pipe_fds[1]);
  std::uint32_t head = 0;
  if (!read_all(pipe_fds[0], &head, 4)) runs.skip = "the child process died";
  if (head == 0xffffffff) {
    std::uint32_t size = 0;
    read_all(pipe_fds[0], &size, 4);
    runs.skip.resize(size);
    read_all(pipe_fds[0], runs.skip.data(), size);
  }
  auto read_outcomes = [&](std::size_t count, std::vector<Outcome>& into) {
    for (std::size_t i = 0; i < count && runs.skip.empty(); ++i) {
      Outcome outcome;
      std::uint32_t size = 0;
      if (!read_all(pipe_fds[0], &outcome.retval, 4) || !read_all(pipe_fds[0], &size, 4)) {
        runs.skip = "the child process stopped early";
        break;
      }
      outcome.data.resize(size);
      read_all(pipe_fds[0], outcome.data.data(), size);
      into.push_back(std::move(outcome));
    }
  };
  if (runs.skip.empty()) {
    read_outcomes(std::size(fib_cases), runs.fib_tc);
    read_outcomes(std::size(fib_cases), runs.fib_xdp);
    read_outcomes(hash_packets().size(), runs.hash);
    read_outcomes(std::size(clone_cases), runs.clone);
  }
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return runs;
}

class NetHelpers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto fib_tc = clang_program("fib_tc");
    auto fib_xdp = clang_program("fib_xdp");
    auto hash_tc = clang_program("hash_tc");
    auto clone_tc = clang_program("clone_tc");
    if (!fib_tc || !fib_xdp || !hash_tc || !clone_tc) return;
    programs_ = new Programs{*fib_tc, *fib_xdp, *hash_tc, *clone_tc, {}};
    programs_->kernel = kernel_runs(*fib_tc, *fib_xdp, *hash_tc, *clone_tc);
  }
  static void TearDownTestSuite() {
    delete programs_;
    programs_ = nullptr;
  }
  void SetUp() override {
    if (programs_ == nullptr) GTEST_SKIP() << "the clang-built programs are missing";
  }
  struct Programs {
    std::vector<Insn> fib_tc, fib_xdp, hash_tc, clone_tc;
    KernelRuns kernel;
  };
  static Programs* programs_;
};
NetHelpers::Programs* NetHelpers::programs_ = nullptr;

std::string hex(const Bytes& bytes, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < bytes.size(); ++i) out += fmt::format("{:02x}", bytes[i]);
  return out;
}

TEST_F(NetHelpers, FibLookupMatchesTheKernel) {
  const KernelRuns& kernel = programs_->kernel;
  if (!kernel.skip.empty()) GTEST_SKIP() << "kernel: " << kernel.skip;
  const Network net = test_network();
  for (std::size_t i = 0; i < std::size(fib_cases); ++i) {
    const FibCase& c = fib_cases[i];
    const Bytes packet = fib_packet(c);
    for (bool xdp : {false, true}) {
      const Outcome ours = run_bpfvm(xdp ? ProgramType::xdp : ProgramType::sched_cls,
                                     xdp ? programs_->fib_xdp : programs_->fib_tc, packet, net);
      const Outcome& theirs = (xdp ? kernel.fib_xdp : kernel.fib_tc)[i];
      const std::string what = fmt::format("{} ({})", c.name, xdp ? "xdp" : "tc");
      EXPECT_EQ(ours.retval, theirs.retval) << what;
      EXPECT_EQ(hex(ours.data, 22), hex(theirs.data, 22)) << what << ": struct bpf_fib_lookup";
    }
  }
}

TEST_F(NetHelpers, FibLookupResults) {
  // Without the kernel: the codes and fields the cases above compare, spelled out.
  const Network net = test_network();
  auto run = [&](const FibCase& c) {
    return run_bpfvm(ProgramType::xdp, programs_->fib_xdp, fib_packet(c), net);
  };
  Outcome via = run(fib_cases[0]);
  EXPECT_EQ(via.retval, 0u);  // BPF_FIB_LKUP_RET_SUCCESS
  const std::uint8_t* p = via.data.data() + 22;
  EXPECT_EQ(p[8], 10);                                             // ifindex
  EXPECT_EQ(IpAddress::parse("10.0.1.254")->bytes[3], p[32 + 3]);  // next hop
  EXPECT_EQ(p[52 + 5], 0x0a);                                      // smac: a0's
  EXPECT_EQ(p[58 + 5], 0xfe);                                      // dmac: the gateway's
  EXPECT_EQ(p[6] | p[7] << 8, 1400);                               // mtu_result
  EXPECT_EQ(run(fib_cases[3]).retval, 7u);                         // NO_NEIGH
  EXPECT_EQ(run(fib_cases[6]).retval, 1u);                         // BLACKHOLE
  EXPECT_EQ(run(fib_cases[9]).retval, 4u);                         // NOT_FWDED
  EXPECT_EQ(run(fib_cases[12]).retval, 5u);                        // FWD_DISABLED
  EXPECT_EQ(run(fib_cases[14]).retval, static_cast<std::uint32_t>(-ENODEV));
  EXPECT_EQ(run(fib_cases[15]).retval, static_cast<std::uint32_t>(-EAFNOSUPPORT));
  Outcome frag = run(fib_cases[17]);
  EXPECT_EQ(frag.retval, 8u);  // FRAG_NEEDED
  EXPECT_EQ(frag.data[22 + 6] | frag.data[22 + 7] << 8, 1400);
}

TEST_F(NetHelpers, HashRecalcGroupsPacketsAsTheKernelDoes) {
  const std::vector<Bytes> packets = hash_packets();
  const Network net = test_network();
  std::vector<std::uint32_t> ours;
  for (const Bytes& packet : packets) {
    ours.push_back(run_bpfvm(ProgramType::sched_cls, programs_->hash_tc, packet, net).retval);
    EXPECT_NE(ours.back(), 0u) << "packet " << ours.size() - 1
                               << ": __sk_buff.hash differs from the helper's result";
  }
  // Known structure, kernel or not: a flow and its reply hash alike; payload does not count.
  EXPECT_EQ(ours[0], ours[1]);
  EXPECT_EQ(ours[0], ours[2]);
  EXPECT_NE(ours[0], ours[3]);
  EXPECT_EQ(ours[6], ours[7]);    // fragments: no ports
  EXPECT_EQ(ours[9], ours[10]);   // IPv6 reply
  EXPECT_EQ(ours[12], ours[13]);  // flow label: ports not read
  EXPECT_EQ(ours[17], ours[18]);
  EXPECT_NE(ours[17], ours[19]);  // VLAN ids count
  const KernelRuns& kernel = programs_->kernel;
  if (!kernel.skip.empty()) GTEST_SKIP() << "kernel: " << kernel.skip;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    EXPECT_NE(kernel.hash[i].retval, 0u) << "kernel, packet " << i;
    for (std::size_t j = i + 1; j < packets.size(); ++j)
      EXPECT_EQ(ours[i] == ours[j], kernel.hash[i].retval == kernel.hash[j].retval)
          << "packets " << i << " and " << j << ": bpfvm " << ours[i] << " " << ours[j]
          << ", kernel " << kernel.hash[i].retval << " " << kernel.hash[j].retval;
  }
}

TEST_F(NetHelpers, HashKeyChangesTheValuesNotTheGroups) {
  Network keyed = test_network();
  keyed.flow_hash_key = {0x0123456789abcdefull, 0xfedcba9876543210ull};
  const Network plain = test_network();
  const std::vector<Bytes> packets = hash_packets();
  const auto a0 = run_bpfvm(ProgramType::sched_cls, programs_->hash_tc, packets[0], plain).retval;
  const auto b0 = run_bpfvm(ProgramType::sched_cls, programs_->hash_tc, packets[0], keyed).retval;
  const auto b1 = run_bpfvm(ProgramType::sched_cls, programs_->hash_tc, packets[1], keyed).retval;
  EXPECT_NE(a0, b0);
  EXPECT_EQ(b0, b1);
}

TEST_F(NetHelpers, CloneRedirectMatchesTheKernelAndRecordsClones) {
  const Network net = test_network();
  std::vector<Outcome> ours;
  for (const CloneCase& c : clone_cases) {
    std::vector<ClonedPacket> clones;
    const Bytes packet = clone_packet(c);
    ours.push_back(run_bpfvm(ProgramType::sched_cls, programs_->clone_tc, packet, net, &clones));
    if (ours.back().retval == 0) {
      ASSERT_EQ(clones.size(), 1u) << c.ifindex;
      EXPECT_EQ(clones[0].ifindex, c.ifindex);
      EXPECT_EQ(clones[0].ingress, c.flags == 1);
      EXPECT_EQ(clones[0].packet, packet);
    } else {
      EXPECT_TRUE(clones.empty()) << c.ifindex;
    }
  }
  EXPECT_EQ(ours[0].retval, 0u);
  EXPECT_EQ(ours[4].retval, static_cast<std::uint32_t>(-EINVAL));  // no such interface
  EXPECT_EQ(ours[5].retval, static_cast<std::uint32_t>(-EINVAL));  // bad flags
  const KernelRuns& kernel = programs_->kernel;
  if (!kernel.skip.empty()) GTEST_SKIP() << "kernel: " << kernel.skip;
  for (std::size_t i = 0; i < std::size(clone_cases); ++i)
    EXPECT_EQ(ours[i].retval, kernel.clone[i].retval)
        << "ifindex " << clone_cases[i].ifindex << " flags " << clone_cases[i].flags;
}

TEST_F(NetHelpers, WithoutANetworkOnlyLoopbackExists) {
  const Network loopback = Network::loopback();
  // fib_lookup from lo: forwarding is off, as in a fresh namespace.
  FibCase from_lo{"lo", 2, "127.0.0.2", 1};
  EXPECT_EQ(run_bpfvm(ProgramType::xdp, programs_->fib_xdp, fib_packet(from_lo), loopback).retval,
            5u);
  auto program = test::load_typed(ProgramType::sched_cls, programs_->clone_tc);
  ASSERT_TRUE(program);
  Bytes packet = clone_packet({10, 0});
  PacketRunInput input;
  input.type = ProgramType::sched_cls;
  input.packet = packet;
  auto out = run_packet(*program, input);
  ASSERT_TRUE(out);
  EXPECT_EQ(static_cast<std::uint32_t>(out->return_value), static_cast<std::uint32_t>(-EINVAL));
}

// skb_store_bytes with BPF_F_INVALIDATE_HASH clears the computed hash (__sk_buff.hash reads 0)
// and the next get_hash_recalc computes it again, from the changed packet.
TEST(HashRecalc, InvalidatedHashIsComputedAgain) {
  using namespace test::build;
  const std::vector<Insn> insns = {
      mov_reg(6, 1),
      call(34),
      mov_reg(7, 0),              // r7: the first hash
      st(4, 10, -4, 0x0403020a),  // 10.2.3.4 as the new source address
      mov_reg(1, 6),
      mov(2, 14 + 12),
      mov_reg(3, 10),
      add(3, -4),
      mov(4, 4),
      mov(5, 2),  // BPF_F_INVALIDATE_HASH
      call(9),
      ldx(4, 9, 6, 68),  // __sk_buff.hash: 0 now
      mov_reg(1, 6),
      call(34),
      mov_reg(8, 0),     // r8: the new hash
      ldx(4, 2, 6, 68),  // __sk_buff.hash: r8 again
      mov(0, 100),
      jeq(9, 0, 1),
      exit_insn(),
      mov(0, 200),
      alu_reg(0xa0, 2, 8),  // xor: 0 when __sk_buff.hash == r8
      jeq(2, 0, 1),
      exit_insn(),
      mov(0, 1),
      alu_reg(0xa0, 8, 7),  // 0 when the hash did not change
      jeq(8, 0, 1),
      exit_insn(),
      mov(0, 300),
      exit_insn(),
  };
  const Bytes packet = tcp4("192.168.1.10", "10.0.0.1", 43210, 80);
  auto out = test::run_typed(ProgramType::sched_cls, insns, packet);
  ASSERT_TRUE(out) << out.error().to_string();
  EXPECT_EQ(out->return_value, 1u);  // 100: hash not cleared; 200: not stored; 300: unchanged
}

}  // namespace
}  // namespace bpfvm
