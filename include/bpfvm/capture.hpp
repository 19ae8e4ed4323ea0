// Packets in and out: capture files through libpcap, and the BSD /dev/bpf device model in
// userspace (bpf(4): open, BIOCSETIF, BIOCSETF, read() of bpf_hdr records, write()).
#pragma once

#include <bpfvm/classic.hpp>
#include <bpfvm/result.hpp>

#include <net/if.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm::capture {

// ---- Capture files (pcap and pcapng, through libpcap) ----------------------------------------

enum class Precision { micro, nano };

struct PacketRecord {
  std::int64_t seconds = 0;
  std::uint32_t fraction = 0;  // microseconds or nanoseconds, as the reader's precision
  std::uint32_t wire_length = 0;
  std::span<const std::uint8_t> data;  // the captured bytes; valid until the next read
};

// A capture file opened with pcap_open_offline: pcap (either byte order, micro- or
// nanosecond) or pcapng. Timestamps come in the requested precision, as tcpdump asks for
// them (microseconds unless --nano).
class SavefileReader {
 public:
  static Result<SavefileReader> open(const std::string& path,
                                     Precision precision = Precision::micro);
  SavefileReader(SavefileReader&&) noexcept;
  SavefileReader& operator=(SavefileReader&&) noexcept;
  ~SavefileReader();

  int linktype() const;
  std::uint32_t snaplen() const;
  Precision precision() const;
  const std::string& path() const;

  // The next packet, nothing at the end of the file, or the error libpcap reports for a
  // truncated or corrupt file ("truncated dump file; tried to read 16 header bytes, only got 5").
  Result<std::optional<PacketRecord>> next();

  // Compiles a filter expression for this file's link type and snap length, exactly as
  // tcpdump does (pcap_compile on the same handle). `netmask` 0 is tcpdump's for -r.
  Result<std::vector<classic::Insn>> compile(std::string_view expression, bool optimize = true,
                                             std::uint32_t netmask = 0) const;

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  explicit SavefileReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A pcap file written with pcap_dump: byte for byte what tcpdump -w writes.
class SavefileWriter {
 public:
  // For packets read from `like`: the same link type, snap length and precision (the file
  // tcpdump -r IN -w OUT writes).
  static Result<SavefileWriter> open(const std::string& path, const SavefileReader& like);
  // For packets from elsewhere (a live capture, the device model).
  static Result<SavefileWriter> open(const std::string& path, int linktype, std::uint32_t snaplen,
                                     Precision precision = Precision::micro);
  SavefileWriter(SavefileWriter&&) noexcept;
  SavefileWriter& operator=(SavefileWriter&&) noexcept;
  ~SavefileWriter();

  Status write(const PacketRecord& packet);
  // Flushes and closes; errors (a full disk) come back here. The destructor closes too.
  Status close();

 private:
  struct Impl;
  explicit SavefileWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A one-line description of a packet for the link type: timestamp aside, e.g.
// "IP 10.0.0.1.52100 > 10.0.0.2.80: tcp 0 [S]", "ARP, Request who-has 10.0.0.2 tell 10.0.0.1",
// "IP6 fe80::1 > ff02::1: ICMP6 type 135", "VLAN 10, IP ...". Unknown protocols print their
// EtherType or link type; truncated headers say so.
std::string summarize(int linktype, std::span<const std::uint8_t> data, std::uint32_t wire_length);

// ---- The /dev/bpf device model (FreeBSD bpf(4)) ---------------------------------------------

// Request codes, encoded as FreeBSD encodes them (<sys/ioccom.h>: direction, size, 'B', number).
namespace bioc {
constexpr unsigned long ioc(unsigned long direction, unsigned long size, unsigned long number) {
  return direction | ((size & 0x1fff) << 16) | (static_cast<unsigned long>('B') << 8) | number;
}
inline constexpr unsigned long ioc_void = 0x20000000, ioc_out = 0x40000000, ioc_in = 0x80000000,
                               ioc_inout = ioc_in | ioc_out;
}  // namespace bioc

// struct bpf_program, struct bpf_stat, struct bpf_version and struct timeval as the requests
// take them (FreeBSD's layouts on LP64).
struct bpf_program {
  unsigned int bf_len = 0;
  const classic::Insn* bf_insns = nullptr;
};
struct bpf_stat {
  unsigned int bs_recv = 0;  // packets the interface delivered to the descriptor
  unsigned int bs_drop = 0;  // packets the filter accepted but the buffers had no room for
};
struct bpf_version {
  unsigned short bv_major = 0;
  unsigned short bv_minor = 0;
};
struct bpf_timeval {
  std::int64_t tv_sec = 0;
  std::int64_t tv_usec = 0;
};
// BIOCSETIF and BIOCGETIF take a struct ifreq (<net/if.h>), as on BSD: only ifr_name matters.
inline constexpr std::size_t ifnamsiz = IFNAMSIZ;

// The record read() returns before each packet, laid out as FreeBSD's struct bpf_hdr on LP64:
// a 16-byte timeval, caplen, datalen, hdrlen; 26 bytes that matter (SIZEOF_BPF_HDR).
struct bpf_hdr {
  bpf_timeval bh_tstamp;
  std::uint32_t bh_caplen = 0;   // bytes of the packet that follow
  std::uint32_t bh_datalen = 0;  // the packet's length on the wire
  std::uint16_t bh_hdrlen = 0;   // bytes from the start of this header to the packet
};
inline constexpr std::size_t bpf_hdr_size = offsetof(bpf_hdr, bh_hdrlen) + sizeof(std::uint16_t);
inline constexpr std::size_t bpf_alignment = sizeof(long);  // BPF_ALIGNMENT
constexpr std::size_t bpf_wordalign(std::size_t x) {        // BPF_WORDALIGN
  return (x + (bpf_alignment - 1)) & ~(bpf_alignment - 1);
}

// clang-format off
inline constexpr unsigned long BIOCGBLEN      = bioc::ioc(bioc::ioc_out,   sizeof(unsigned), 102);
inline constexpr unsigned long BIOCSBLEN      = bioc::ioc(bioc::ioc_inout, sizeof(unsigned), 102);
inline constexpr unsigned long BIOCSETF       = bioc::ioc(bioc::ioc_in,    sizeof(bpf_program), 103);
inline constexpr unsigned long BIOCFLUSH      = bioc::ioc(bioc::ioc_void,  0, 104);
inline constexpr unsigned long BIOCPROMISC    = bioc::ioc(bioc::ioc_void,  0, 105);
inline constexpr unsigned long BIOCGDLT       = bioc::ioc(bioc::ioc_out,   sizeof(unsigned), 106);
inline constexpr unsigned long BIOCGETIF      = bioc::ioc(bioc::ioc_out,   sizeof(ifreq), 107);
inline constexpr unsigned long BIOCSETIF      = bioc::ioc(bioc::ioc_in,    sizeof(ifreq), 108);
inline constexpr unsigned long BIOCSRTIMEOUT  = bioc::ioc(bioc::ioc_in,    sizeof(bpf_timeval), 109);
inline constexpr unsigned long BIOCGRTIMEOUT  = bioc::ioc(bioc::ioc_out,   sizeof(bpf_timeval), 110);
inline constexpr unsigned long BIOCGSTATS     = bioc::ioc(bioc::ioc_out,   sizeof(bpf_stat), 111);
inline constexpr unsigned long BIOCIMMEDIATE  = bioc::ioc(bioc::ioc_in,    sizeof(unsigned), 112);
inline constexpr unsigned long BIOCVERSION    = bioc::ioc(bioc::ioc_out,   sizeof(bpf_version), 113);
inline constexpr unsigned long BIOCGHDRCMPLT  = bioc::ioc(bioc::ioc_out,   sizeof(unsigned), 116);
inline constexpr unsigned long BIOCSHDRCMPLT  = bioc::ioc(bioc::ioc_in,    sizeof(unsigned), 117);
inline constexpr unsigned long BIOCGDIRECTION = bioc::ioc(bioc::ioc_out,   sizeof(unsigned), 118);
inline constexpr unsigned long BIOCSDIRECTION = bioc::ioc(bioc::ioc_in,    sizeof(unsigned), 119);
inline constexpr unsigned long BIOCSETWF      = bioc::ioc(bioc::ioc_in,    sizeof(bpf_program), 123);
inline constexpr unsigned long FIONREAD       = bioc::ioc_out | (sizeof(int) << 16) | (static_cast<unsigned long>('f') << 8) | 127;
// clang-format on

// BIOCSDIRECTION values.
inline constexpr unsigned BPF_D_IN = 0, BPF_D_INOUT = 1, BPF_D_OUT = 2;
// BIOCVERSION answers.
inline constexpr unsigned short BPF_MAJOR_VERSION = 1, BPF_MINOR_VERSION = 1;
// Buffer sizes: the default, and the bounds BIOCSBLEN clamps to (FreeBSD's bpf_bufsize,
// BPF_MINBUFSIZE and bpf_maxbufsize).
inline constexpr unsigned bpf_default_buffer = 4096, bpf_min_buffer = 32, bpf_max_buffer = 524288;

// Makes a capture file appear as an interface that BIOCSETIF can bind: reading the device then
// replays the file's packets (none is dropped: a file waits for the reader). Names are global
// to the process; a name shadows a real interface of the same name.
Status register_file_interface(std::string_view name, const std::string& path);
void unregister_file_interface(std::string_view name);

struct DeviceOptions {
  // The validator BIOCSETF applies: the FreeBSD kernel's by default.
  classic::Rules rules = classic::Rules::freebsd;
  // Where filters run.
  classic::Engine engine = classic::Engine::interpreter;
};

// One open descriptor: what open("/dev/bpf") returns on FreeBSD. Errors are errno values, as
// the system calls return them: EINVAL, ENXIO (no interface bound), EPERM (write filter),
// ENOENT (no such interface), EAGAIN.
class Device {
 public:
  static Result<Device> open(const DeviceOptions& options = {});
  Device(Device&&) noexcept;
  Device& operator=(Device&&) noexcept;
  ~Device();

  // ioctl(fd, request, argument): 0 or an errno value.
  int ioctl(unsigned long request, void* argument);

  // read(fd, buffer, size): the bytes read (bpf_hdr records, each at a BPF_WORDALIGN'ed
  // offset), 0 when a read timeout passed with nothing captured or a bound file is exhausted,
  // or -errno. `size` must equal the buffer length (BIOCGBLEN), as FreeBSD requires.
  long read(void* buffer, std::size_t size);

  // write(fd, packet, size): sends the packet out of the bound interface (link-layer header
  // included); the bytes written or -errno.
  long write(const void* packet, std::size_t size);

  // The descriptor to poll for readability, or -1 (nothing bound, or a file).
  int pollable_fd() const;

  struct Impl;

 private:
  explicit Device(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bpfvm::capture
