// The device model on a real link: a network namespace with a veth pair (ip netns, ip link).
// Known frames go out of one end through the device's write(); the other end reads them back
// through the device with a filter, and the counts, bytes and bpf_hdr fields must be right.
// A small buffer that nobody reads must count drops. Skips, saying why, where namespaces or
// raw sockets are not permitted.
#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>

#include "classic/bpf_records.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace bpfvm::classic::test {
namespace {

using namespace bpfvm::capture;

// The interface's MAC address, as "aa:bb:cc:dd:ee:ff", asked of the current namespace.
std::string mac_address(const char* interface) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::snprintf(request.ifr_name, sizeof request.ifr_name, "%s", interface);
  bool ok = fd >= 0 && ::ioctl(fd, SIOCGIFHWADDR, &request) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) return "?";
  auto* b = reinterpret_cast<const unsigned char*>(request.ifr_hwaddr.sa_data);
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4],
                     b[5]);
}

bool run_quiet(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// A namespace holding veth pair "bva" <-> "bvb", entered by this thread for the test's life.
class VethNamespace : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for ip netns and AF_PACKET sockets";
    if (!run_quiet("command -v ip")) GTEST_SKIP() << "the ip command (iproute2) is not installed";
    name_ = fmt::format("bpfvm-live-{}", getpid());
    if (!run_quiet("ip netns add " + name_))
      GTEST_SKIP() << "ip netns add is not permitted here (no CAP_SYS_ADMIN, or no netns support)";
    created_ = true;
    std::string in = "ip netns exec " + name_ + " ";
    if (!run_quiet(in + "ip link add bva type veth peer name bvb") ||
        !run_quiet(in + "sysctl -w net.ipv6.conf.all.disable_ipv6=1") ||
        !run_quiet(in + "sysctl -w net.ipv6.conf.default.disable_ipv6=1") ||
        !run_quiet(in + "ip link set bva up") || !run_quiet(in + "ip link set bvb up"))
      GTEST_SKIP() << "cannot create a veth pair in the namespace";
    original_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = ::open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    if (original_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
      if (target >= 0) ::close(target);
      GTEST_SKIP() << "setns into the namespace failed";
    }
    ::close(target);
    entered_ = true;
    // Let the links come up (carrier) before sending.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  void TearDown() override {
    if (entered_) ::setns(original_, CLONE_NEWNET);
    if (original_ >= 0) ::close(original_);
    if (created_) run_quiet("ip netns del " + name_);
  }

  static Device bound(const char* interface, unsigned buffer = bpf_default_buffer) {
    auto device = Device::open();
    EXPECT_TRUE(device);
    EXPECT_EQ(device->ioctl(BIOCSBLEN, &buffer), 0);
    ifreq request{};
    std::snprintf(request.ifr_name, sizeof request.ifr_name, "%s", interface);
    EXPECT_EQ(device->ioctl(BIOCSETIF, &request), 0);
    return std::move(*device);
  }

  // Ethernet + IPv4 + UDP to `port`, `payload` bytes of a pattern naming `index`.
  static std::vector<std::uint8_t> frame(std::uint16_t port, std::size_t payload, int index) {
    std::vector<std::uint8_t> f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // broadcast
                                   0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00};
    std::size_t ip_length = 20 + 8 + payload;
    std::uint8_t ip[20] = {0x45,
                           0,
                           static_cast<std::uint8_t>(ip_length >> 8),
                           static_cast<std::uint8_t>(ip_length),
                           0,
                           0,
                           0,
                           0,
                           64,
                           17,
                           0,
                           0,
                           10,
                           0,
                           0,
                           1,
                           10,
                           0,
                           0,
                           2};
    f.insert(f.end(), ip, ip + 20);
    std::size_t udp_length = 8 + payload;
    std::uint8_t udp[8] = {0x30,
                           0x39,
                           static_cast<std::uint8_t>(port >> 8),
                           static_cast<std::uint8_t>(port),
                           static_cast<std::uint8_t>(udp_length >> 8),
                           static_cast<std::uint8_t>(udp_length),
                           0,
                           0};
    f.insert(f.end(), udp, udp + 8);
    for (std::size_t i = 0; i < payload; ++i) f.push_back(static_cast<std::uint8_t>(index + i));
    return f;
  }

  std::string name_;
  bool created_ = false;
  bool entered_ = false;
  int original_ = -1;
};

TEST_F(VethNamespace, FilteredPacketsArriveWithRightHeaders) {
  Device sender = bound("bva");
  unsigned complete = 1;
  ASSERT_EQ(sender.ioctl(BIOCSHDRCMPLT, &complete), 0);
  Device receiver = bound("bvb");
  unsigned dlt = 0;
  ASSERT_EQ(receiver.ioctl(BIOCGDLT, &dlt), 0);
  EXPECT_EQ(dlt, 1u);
  // Keep at most 100 bytes of UDP packets to port 9999.
  auto insns =
      compile("udp dst port 9999",
              CompileOptions{.linktype = 1, .snaplen = 100, .optimize = true, .netmask = 0});
  ASSERT_TRUE(insns);
  bpf_program program{static_cast<unsigned>(insns->size()), insns->data()};
  ASSERT_EQ(receiver.ioctl(BIOCSETF, &program), 0);
  bpf_timeval timeout{0, 300000};
  ASSERT_EQ(receiver.ioctl(BIOCSRTIMEOUT, &timeout), 0);

  timeval before;
  gettimeofday(&before, nullptr);
  std::vector<std::vector<std::uint8_t>> sent;
  constexpr int count = 20;
  for (int i = 0; i < count; ++i) {
    auto f = frame(i % 2 == 0 ? 9999 : 8888, 10 + 7 * static_cast<std::size_t>(i), i);
    ASSERT_EQ(sender.write(f.data(), f.size()), static_cast<long>(f.size())) << "frame " << i;
    sent.push_back(std::move(f));
  }

  std::vector<BpfRecord> records;
  std::vector<std::uint8_t> buffer(bpf_default_buffer);
  for (int reads = 0; reads < 20 && records.size() < count / 2; ++reads) {
    long got = receiver.read(buffer.data(), buffer.size());
    ASSERT_GE(got, 0);
    std::string problem;
    for (auto& record : split_records({buffer.data(), static_cast<std::size_t>(got)}, problem))
      records.push_back(std::move(record));
    ASSERT_EQ(problem, "");
  }
  ASSERT_EQ(records.size(), static_cast<std::size_t>(count / 2));
  for (std::size_t n = 0; n < records.size(); ++n) {
    const auto& f = sent[2 * n];
    const BpfRecord& record = records[n];
    SCOPED_TRACE(fmt::format("record {}", n));
    EXPECT_EQ(record.offset % bpf_alignment, 0u);
    EXPECT_EQ(record.header.bh_hdrlen, 26u);
    EXPECT_EQ(record.header.bh_datalen, f.size());
    EXPECT_EQ(record.header.bh_caplen, std::min<std::size_t>(100, f.size()));
    EXPECT_TRUE(std::equal(record.bytes.begin(), record.bytes.end(), f.begin()));
    EXPECT_GE(record.header.bh_tstamp.tv_sec, before.tv_sec);
    EXPECT_LE(record.header.bh_tstamp.tv_sec, before.tv_sec + 5);
    EXPECT_LT(record.header.bh_tstamp.tv_usec, 1000000);
  }
  bpf_stat stats;
  ASSERT_EQ(receiver.ioctl(BIOCGSTATS, &stats), 0);
  EXPECT_EQ(stats.bs_recv, static_cast<unsigned>(count));  // every frame reached the filter
  EXPECT_EQ(stats.bs_drop, 0u);
  // Nothing more: a read times out empty.
  EXPECT_EQ(receiver.read(buffer.data(), buffer.size()), 0);
}

TEST_F(VethNamespace, FullBuffersCountDrops) {
  Device sender = bound("bva");
  Device receiver = bound("bvb", 1024);
  constexpr int count = 50;
  for (int i = 0; i < count; ++i) {
    auto f = frame(7, 200 - 42, i);  // 200-byte frames: records of 26 + 200, 232 apart
    ASSERT_EQ(sender.write(f.data(), f.size()), 200);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  bpf_stat stats;
  ASSERT_EQ(receiver.ioctl(BIOCGSTATS, &stats), 0);
  // Four records fit a 1024-byte buffer: four in the store buffer, four in the hold buffer.
  EXPECT_EQ(stats.bs_recv, static_cast<unsigned>(count));
  EXPECT_EQ(stats.bs_drop, static_cast<unsigned>(count - 8));
  std::vector<std::uint8_t> buffer(1024);
  bpf_timeval timeout{0, 100000};
  ASSERT_EQ(receiver.ioctl(BIOCSRTIMEOUT, &timeout), 0);
  std::size_t packets = 0;
  for (int reads = 0; reads < 4; ++reads) {
    long got = receiver.read(buffer.data(), buffer.size());
    ASSERT_GE(got, 0);
    std::string problem;
    packets += split_records({buffer.data(), static_cast<std::size_t>(got)}, problem).size();
  }
  EXPECT_EQ(packets, 8u);
}

TEST_F(VethNamespace, DirectionAndSourceAddress) {
  // The sender's own descriptor sees its frames going out, with the source address filled
  // in (BIOCSHDRCMPLT 0), when it looks at outgoing traffic.
  Device sender = bound("bva");
  Device watcher = bound("bva");
  unsigned out = BPF_D_OUT, in = BPF_D_IN;
  ASSERT_EQ(watcher.ioctl(BIOCSDIRECTION, &out), 0);
  Device inbound_only = bound("bva");
  ASSERT_EQ(inbound_only.ioctl(BIOCSDIRECTION, &in), 0);
  auto f = frame(4242, 30, 1);
  ASSERT_EQ(sender.write(f.data(), f.size()), static_cast<long>(f.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  bpf_timeval timeout{0, 200000};
  ASSERT_EQ(watcher.ioctl(BIOCSRTIMEOUT, &timeout), 0);
  std::vector<std::uint8_t> buffer(bpf_default_buffer);
  long got = watcher.read(buffer.data(), buffer.size());
  ASSERT_GT(got, 0);
  std::string problem;
  auto records = split_records({buffer.data(), static_cast<std::size_t>(got)}, problem);
  ASSERT_EQ(records.size(), 1u);
  std::string mac = mac_address("bva");
  EXPECT_EQ(fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", records[0].bytes[6],
                        records[0].bytes[7], records[0].bytes[8], records[0].bytes[9],
                        records[0].bytes[10], records[0].bytes[11]),
            mac);
  bpf_stat stats;
  ASSERT_EQ(inbound_only.ioctl(BIOCGSTATS, &stats), 0);
  EXPECT_EQ(stats.bs_recv, 0u);
}

}  // namespace
}  // namespace bpfvm::classic::test
