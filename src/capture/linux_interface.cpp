// A Linux interface as a bpf packet source: an AF_PACKET socket bound to it. Packets are
// pulled without blocking whenever the descriptor reads, polls for statistics or is asked how
// much is readable, so they reach the bpf buffers in arrival order, exactly as the kernel's
// bpf_mtap() would have delivered them in the meantime. Stripped VLAN tags are put back in
// the bytes, as a BSD kernel shows them, and the socket's metadata becomes Linux ancillary data
// for SKF_AD_* loads.
#include <bpfvm/capture.hpp>

#include "capture/packet_source.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace bpfvm::capture::detail {
namespace {

constexpr int dlt_en10mb = 1, dlt_raw = 12;
constexpr std::size_t max_frame = 65536 + 4;

class LinuxInterface : public PacketSource {
 public:
  LinuxInterface(std::string name, int fd, int ifindex, int hatype, std::array<std::uint8_t, 6> mac)
      : name_(std::move(name)),
        fd_(fd),
        ifindex_(ifindex),
        hatype_(hatype),
        mac_(mac),
        frame_(max_frame) {}
  ~LinuxInterface() override { ::close(fd_); }

  const std::string& name() const override { return name_; }
  int linktype() const override { return ethernet() ? dlt_en10mb : dlt_raw; }
  std::size_t link_header_length() const override { return ethernet() ? 14 : 0; }
  int pollable_fd() const override { return fd_; }

  bool drain(const Sink& sink) override {
    for (;;) {
      sockaddr_ll from{};
      iovec vector{frame_.data() + 4, frame_.size() - 4};  // room to put a VLAN tag back
      alignas(cmsghdr) char control[256];
      msghdr message{};
      message.msg_name = &from;
      message.msg_namelen = sizeof from;
      message.msg_iov = &vector;
      message.msg_iovlen = 1;
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      ssize_t length = ::recvmsg(fd_, &message, MSG_DONTWAIT | MSG_TRUNC);
      if (length < 0) return true;  // EAGAIN: nothing more now
      // Loopback shows every packet twice, going out and coming in: keep one, as libpcap
      // does on Linux and as a BSD lo0 shows it.
      if (from.sll_pkttype == PACKET_OUTGOING && hatype_ == ARPHRD_LOOPBACK) continue;
      std::size_t captured =
          std::min<std::size_t>(static_cast<std::size_t>(length), vector.iov_len);
      SourcePacket packet;
      classic::Ancillary ancillary;
      ancillary.protocol = ntohs(from.sll_protocol);
      ancillary.pkt_type = from.sll_pkttype;
      ancillary.ifindex = static_cast<std::uint32_t>(from.sll_ifindex);
      ancillary.hatype = from.sll_hatype;
      std::uint8_t* start = frame_.data() + 4;
      auto wire = static_cast<std::uint32_t>(length);
      for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
          timespec when;
          std::memcpy(&when, CMSG_DATA(c), sizeof when);
          packet.timestamp = {when.tv_sec, when.tv_nsec / 1000};
        }
        if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
          tpacket_auxdata aux;
          std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
          if ((aux.tp_status & TP_STATUS_VLAN_VALID) != 0 && ethernet() && captured >= 12) {
            std::uint16_t tpid =
                (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) != 0 ? aux.tp_vlan_tpid : 0x8100;
            ancillary.vlan_present = 1;
            ancillary.vlan_tci = aux.tp_vlan_tci;
            ancillary.vlan_tpid = tpid;
            std::memmove(start - 4, start, 12);  // put the tag back after the two addresses
            start -= 4;
            std::uint8_t tag[4] = {static_cast<std::uint8_t>(tpid >> 8),
                                   static_cast<std::uint8_t>(tpid),
                                   static_cast<std::uint8_t>(aux.tp_vlan_tci >> 8),
                                   static_cast<std::uint8_t>(aux.tp_vlan_tci)};
            std::memcpy(start + 12, tag, 4);
            captured += 4;
            wire += 4;
          }
        }
      }
      packet.data = {start, captured};
      packet.wire_length = wire;
      packet.outgoing = from.sll_pkttype == PACKET_OUTGOING;
      packet.ancillary = &ancillary;
      if (!sink(packet)) return true;
    }
  }

  void wait(std::optional<std::chrono::milliseconds> timeout) override {
    pollfd entry{fd_, POLLIN, 0};
    ::poll(&entry, 1, timeout ? static_cast<int>(timeout->count()) : -1);
  }

  unsigned dropped_before_filter() override {
    tpacket_stats stats{};
    socklen_t size = sizeof stats;
    if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &stats, &size) != 0) return 0;
    return stats.tp_drops;  // reading the statistics resets them
  }

  int set_promiscuous() override {
    packet_mreq request{};
    request.mr_ifindex = ifindex_;
    request.mr_type = PACKET_MR_PROMISC;
    if (::setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &request, sizeof request) != 0)
      return errno;
    return 0;
  }

  long send(std::span<const std::uint8_t> packet, bool header_complete) override {
    std::vector<std::uint8_t> frame(packet.begin(), packet.end());
    // BIOCSHDRCMPLT 0: the link layer fills in the source address, as BSD's ether_output().
    if (!header_complete && ethernet() && frame.size() >= 12)
      std::memcpy(frame.data() + 6, mac_.data(), 6);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    ssize_t sent =
        ::sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    return sent < 0 ? -errno : sent;
  }

 private:
  bool ethernet() const { return hatype_ == ARPHRD_ETHER || hatype_ == ARPHRD_LOOPBACK; }

  std::string name_;
  int fd_;
  int ifindex_;
  int hatype_;
  std::array<std::uint8_t, 6> mac_;
  std::vector<std::uint8_t> frame_;
};

}  // namespace

Result<std::unique_ptr<PacketSource>> open_linux_interface(const std::string& name, int& error) {
  auto fail = [&](int code, std::string what) -> Result<std::unique_ptr<PacketSource>> {
    error = code;
    return make_error(Error::Kind::io, fmt::format("{}: {}: {}", name, what, std::strerror(code)));
  };
  if (name.size() >= IFNAMSIZ) return fail(ENXIO, "interface name too long");
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return fail(errno, "AF_PACKET socket");
  auto close_and_fail = [&](int code, std::string what) {
    ::close(fd);
    return fail(code, std::move(what));
  };
  ifreq request{};
  std::memcpy(request.ifr_name, name.c_str(), name.size());
  if (::ioctl(fd, SIOCGIFINDEX, &request) != 0) return close_and_fail(ENXIO, "no such interface");
  int ifindex = request.ifr_ifindex;
  if (::ioctl(fd, SIOCGIFHWADDR, &request) != 0) return close_and_fail(errno, "SIOCGIFHWADDR");
  std::array<std::uint8_t, 6> mac{};
  std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, 6);
  int hatype = request.ifr_hwaddr.sa_family;
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = ifindex;
  int one = 1;
  int buffer = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  if (::setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0)
    return close_and_fail(errno, "setsockopt");
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return close_and_fail(errno, "bind");
  // Packets that arrived between socket() and bind() may belong to any interface: drop them.
  char scratch[16];
  while (::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
  }
  tpacket_stats reset{};
  socklen_t size = sizeof reset;
  ::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &reset, &size);
  return std::unique_ptr<PacketSource>(
      std::make_unique<LinuxInterface>(name, fd, ifindex, hatype, mac));
}

}  // namespace bpfvm::capture::detail
