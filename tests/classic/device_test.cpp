// The /dev/bpf device model over capture files registered as interfaces: ioctls, read() and
// its bpf_hdr records, filters, buffer sizes, statistics. Deterministic: files never drop.
#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>

#include "classic/bpf_records.hpp"
#include "classic/pcap_corpus.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cerrno>

namespace bpfvm::classic::test {
namespace {

using namespace bpfvm::capture;

struct FilePacket {
  std::vector<std::uint8_t> bytes;
  std::uint32_t wire_length;
  std::int64_t seconds;
  std::uint32_t microseconds;
};

std::vector<FilePacket> file_packets(const std::string& path) {
  std::vector<FilePacket> out;
  auto reader = SavefileReader::open(path);
  while (reader) {
    auto record = reader->next();
    if (!record || !*record) break;
    out.push_back({{(*record)->data.begin(), (*record)->data.end()},
                   (*record)->wire_length,
                   (*record)->seconds,
                   (*record)->fraction});
  }
  return out;
}

ifreq interface_named(const char* name) {
  ifreq request{};
  std::snprintf(request.ifr_name, sizeof request.ifr_name, "%s", name);
  return request;
}

class DeviceOverFile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!corpus_present()) GTEST_SKIP() << corpus_absent_message;
    path_ = (corpus_dir() / "tcpdump/dns_tcp.pcap").string();
    ASSERT_TRUE(register_file_interface("pcap0", path_));
  }
  void TearDown() override { unregister_file_interface("pcap0"); }

  // Reads the device to the end of the file; all records in order.
  std::vector<BpfRecord> read_all(Device& device, unsigned size) {
    std::vector<BpfRecord> all;
    std::vector<std::uint8_t> buffer(size);
    for (int reads = 0; reads < 10000; ++reads) {
      long got = device.read(buffer.data(), buffer.size());
      EXPECT_GE(got, 0);
      if (got <= 0) break;
      std::string problem;
      auto records = split_records({buffer.data(), static_cast<std::size_t>(got)}, problem);
      EXPECT_EQ(problem, "");
      for (auto& record : records) all.push_back(std::move(record));
    }
    return all;
  }

  std::string path_;
};

TEST_F(DeviceOverFile, ReadsFilteredPacketsAsBpfHdrRecords) {
  auto device = Device::open();
  ASSERT_TRUE(device);
  ifreq request = interface_named("pcap0");
  ASSERT_EQ(device->ioctl(BIOCSETIF, &request), 0);
  unsigned dlt = 0;
  ASSERT_EQ(device->ioctl(BIOCGDLT, &dlt), 0);
  EXPECT_EQ(dlt, 1u);
  // A filter keeping the first 60 bytes of TCP packets.
  auto insns =
      compile("tcp", CompileOptions{.linktype = 1, .snaplen = 60, .optimize = true, .netmask = 0});
  ASSERT_TRUE(insns);
  bpf_program program{static_cast<unsigned>(insns->size()), insns->data()};
  ASSERT_EQ(device->ioctl(BIOCSETF, &program), 0);

  unsigned size = 0;
  ASSERT_EQ(device->ioctl(BIOCGBLEN, &size), 0);
  EXPECT_EQ(size, bpf_default_buffer);
  std::vector<BpfRecord> records = read_all(*device, size);

  // The expected packets, by libpcap's own bpf_filter().
  std::vector<bpf_insn> code;
  for (const Insn& insn : *insns) code.push_back(bpf_insn{insn.code, insn.jt, insn.jf, insn.k});
  std::vector<FilePacket> packets = file_packets(path_);
  std::size_t next = 0;
  for (const FilePacket& packet : packets) {
    u_int snap = bpf_filter(code.data(), packet.bytes.data(), packet.wire_length,
                            static_cast<u_int>(packet.bytes.size()));
    if (snap == 0) continue;
    ASSERT_LT(next, records.size());
    const BpfRecord& record = records[next++];
    EXPECT_EQ(record.offset % bpf_alignment, 0u);
    EXPECT_EQ(record.header.bh_hdrlen, 26u);  // BPF_WORDALIGN(14 + 26) - 14 on LP64
    EXPECT_EQ(record.header.bh_caplen, std::min<std::size_t>(snap, packet.bytes.size()));
    EXPECT_EQ(record.header.bh_datalen, packet.wire_length);
    EXPECT_EQ(record.header.bh_tstamp.tv_sec, packet.seconds);
    EXPECT_EQ(record.header.bh_tstamp.tv_usec, packet.microseconds);
    EXPECT_TRUE(std::equal(record.bytes.begin(), record.bytes.end(), packet.bytes.begin()));
  }
  EXPECT_EQ(next, records.size());
  EXPECT_GT(next, 3u);

  bpf_stat stats;
  ASSERT_EQ(device->ioctl(BIOCGSTATS, &stats), 0);
  EXPECT_EQ(stats.bs_recv, packets.size());
  EXPECT_EQ(stats.bs_drop, 0u);
}

TEST_F(DeviceOverFile, SmallBuffersSplitReadsButLoseNothing) {
  auto device = Device::open();
  unsigned size = 1;  // clamped to BPF_MINBUFSIZE
  ASSERT_EQ(device->ioctl(BIOCSBLEN, &size), 0);
  EXPECT_EQ(size, bpf_min_buffer);
  size = 10'000'000;
  ASSERT_EQ(device->ioctl(BIOCSBLEN, &size), 0);
  EXPECT_EQ(size, bpf_max_buffer);
  size = 600;
  ASSERT_EQ(device->ioctl(BIOCSBLEN, &size), 0);
  ifreq request = interface_named("pcap0");
  ASSERT_EQ(device->ioctl(BIOCSETIF, &request), 0);
  EXPECT_EQ(device->ioctl(BIOCSBLEN, &size), EINVAL);  // only before BIOCSETIF
  std::vector<BpfRecord> records = read_all(*device, 600);
  std::vector<FilePacket> packets = file_packets(path_);
  ASSERT_EQ(records.size(), packets.size());
  for (std::size_t i = 0; i < packets.size(); ++i) {
    // No filter: the whole packet, unless it does not fit the buffer with its header.
    EXPECT_EQ(records[i].header.bh_caplen,
              std::min<std::size_t>(packets[i].bytes.size(), 600 - 26));
    EXPECT_EQ(records[i].header.bh_datalen, packets[i].wire_length);
  }
}

TEST_F(DeviceOverFile, ImmediateModeReturnsEachPacketAlone) {
  auto device = Device::open();
  ifreq request = interface_named("pcap0");
  ASSERT_EQ(device->ioctl(BIOCSETIF, &request), 0);
  unsigned on = 1;
  ASSERT_EQ(device->ioctl(BIOCIMMEDIATE, &on), 0);
  std::vector<std::uint8_t> buffer(bpf_default_buffer);
  long got = device->read(buffer.data(), buffer.size());
  ASSERT_GT(got, 0);
  std::string problem;
  EXPECT_EQ(split_records({buffer.data(), static_cast<std::size_t>(got)}, problem).size(), 1u);
  int readable = -1;
  ASSERT_EQ(device->ioctl(FIONREAD, &readable), 0);
  EXPECT_GE(readable, 0);
}

TEST_F(DeviceOverFile, IoctlErrorsAsFreebsd) {
  auto device = Device::open();
  std::vector<std::uint8_t> buffer(bpf_default_buffer);
  EXPECT_EQ(device->read(buffer.data(), buffer.size()), -ENXIO);  // nothing bound
  unsigned value = 0;
  EXPECT_EQ(device->ioctl(BIOCGDLT, &value), EINVAL);
  ifreq missing = interface_named("nosuchif0");
  EXPECT_EQ(device->ioctl(BIOCSETIF, &missing), ENXIO);
  ifreq request = interface_named("pcap0");
  ASSERT_EQ(device->ioctl(BIOCSETIF, &request), 0);
  EXPECT_EQ(device->read(buffer.data(), 100), -EINVAL);  // the size must be the buffer length
  ifreq name{};
  ASSERT_EQ(device->ioctl(BIOCGETIF, &name), 0);
  EXPECT_STREQ(name.ifr_name, "pcap0");
  bpf_version version;
  ASSERT_EQ(device->ioctl(BIOCVERSION, &version), 0);
  EXPECT_EQ(version.bv_major, 1);
  value = 3;
  EXPECT_EQ(device->ioctl(BIOCSDIRECTION, &value), EINVAL);
  value = BPF_D_IN;
  EXPECT_EQ(device->ioctl(BIOCSDIRECTION, &value), 0);
  ASSERT_EQ(device->ioctl(BIOCGDIRECTION, &value), 0);
  EXPECT_EQ(value, BPF_D_IN);
  value = 1;
  EXPECT_EQ(device->ioctl(BIOCSHDRCMPLT, &value), 0);
  value = 0;
  ASSERT_EQ(device->ioctl(BIOCGHDRCMPLT, &value), 0);
  EXPECT_EQ(value, 1u);
  bpf_timeval timeout{1, 500000};
  EXPECT_EQ(device->ioctl(BIOCSRTIMEOUT, &timeout), 0);
  bpf_timeval back;
  ASSERT_EQ(device->ioctl(BIOCGRTIMEOUT, &back), 0);
  EXPECT_EQ(back.tv_usec, 500000);
  bpf_timeval bad{0, 1000000};
  EXPECT_EQ(device->ioctl(BIOCSRTIMEOUT, &bad), EINVAL);
  EXPECT_EQ(device->ioctl(0x12345678, &value), EINVAL);

  // The kernel's validator: MOD is not on its whitelist, 513 instructions are too many.
  std::vector<Insn> mod = {{0x00, 0, 0, 9}, {0x94, 0, 0, 4}, {0x16, 0, 0, 0}};
  bpf_program program{3, mod.data()};
  EXPECT_EQ(device->ioctl(BIOCSETF, &program), EINVAL);
  std::vector<Insn> long_program(513, Insn{0x01, 0, 0, 1});
  long_program.back() = Insn{0x06, 0, 0, 1};
  program = {513, long_program.data()};
  EXPECT_EQ(device->ioctl(BIOCSETF, &program), EINVAL);
  program = {0, nullptr};  // removes the filter
  EXPECT_EQ(device->ioctl(BIOCSETF, &program), 0);
  program = {1, nullptr};
  EXPECT_EQ(device->ioctl(BIOCSETF, &program), EINVAL);

  // Writing: a file cannot send; a write filter that rejects gives EPERM first.
  std::uint8_t frame[60] = {};
  EXPECT_EQ(device->write(frame, sizeof frame), -EOPNOTSUPP);
  std::vector<Insn> reject = {{0x06, 0, 0, 0}};
  program = {1, reject.data()};
  ASSERT_EQ(device->ioctl(BIOCSETWF, &program), 0);
  EXPECT_EQ(device->write(frame, sizeof frame), -EPERM);
}

TEST_F(DeviceOverFile, FlushEmptiesBuffersAndStatistics) {
  auto device = Device::open();
  ifreq request = interface_named("pcap0");
  ASSERT_EQ(device->ioctl(BIOCSETIF, &request), 0);
  int readable = 0;
  ASSERT_EQ(device->ioctl(FIONREAD, &readable), 0);
  EXPECT_GT(readable, 0);
  ASSERT_EQ(device->ioctl(BIOCFLUSH, nullptr), 0);
  bpf_stat stats;
  ASSERT_EQ(device->ioctl(BIOCGSTATS, &stats), 0);
  // Statistics restart from the flush; the file goes on from where it was.
  EXPECT_LT(stats.bs_recv, file_packets(path_).size());
}

TEST_F(DeviceOverFile, EveryEngineGivesTheSameRecords) {
  std::vector<std::vector<std::uint8_t>> results;
  for (Engine engine : {Engine::interpreter, Engine::ebpf_interpreter, Engine::jit}) {
    auto device = Device::open(DeviceOptions{.rules = Rules::freebsd, .engine = engine});
    ifreq request = interface_named("pcap0");
    ASSERT_EQ(device->ioctl(BIOCSETIF, &request), 0);
    auto insns = compile("tcp[tcpflags] & tcp-push != 0");
    bpf_program program{static_cast<unsigned>(insns->size()), insns->data()};
    ASSERT_EQ(device->ioctl(BIOCSETF, &program), 0);
    std::vector<std::uint8_t> all, buffer(bpf_default_buffer);
    for (long got; (got = device->read(buffer.data(), buffer.size())) > 0;)
      all.insert(all.end(), buffer.begin(), buffer.begin() + got);
    results.push_back(all);
  }
  EXPECT_FALSE(results[0].empty());
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

}  // namespace
}  // namespace bpfvm::classic::test
