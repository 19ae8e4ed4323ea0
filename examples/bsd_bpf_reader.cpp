// bsd_bpf_reader: a packet reader written the way classic BSD tools use /dev/bpf (open the
// device, size the buffer, bind an interface, set a filter, then read buffers of bpf_hdr
// records in a loop), here on bpfvm's userspace device model.
//
//   bsd_bpf_reader -i eth0 [-c COUNT] [EXPRESSION]      a Linux interface (root)
//   bsd_bpf_reader -r FILE [-c COUNT] [EXPRESSION]      a capture file, replayed
#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

using namespace bpfvm::capture;

static int fail(const char* what, int error) {
  std::fprintf(stderr, "bsd_bpf_reader: %s: %s\n", what, std::strerror(error));
  return 1;
}

int main(int argc, char** argv) {
  std::string interface, file;
  long count = -1;
  int option;
  while ((option = getopt(argc, argv, "i:r:c:")) != -1) {
    switch (option) {
      case 'i': interface = optarg; break;
      case 'r': file = optarg; break;
      case 'c': count = std::strtol(optarg, nullptr, 10); break;
      default:
        std::fprintf(stderr,
                     "usage: bsd_bpf_reader (-i interface | -r file) [-c count] [expression]\n");
        return 2;
    }
  }
  std::string expression;
  for (int i = optind; i < argc; ++i) expression += std::string(i > optind ? " " : "") + argv[i];
  if (interface.empty() == file.empty()) {
    std::fprintf(stderr, "bsd_bpf_reader: give exactly one of -i and -r\n");
    return 2;
  }
  if (!file.empty()) {  // a capture file appears as an interface named "file0"
    auto registered = register_file_interface("file0", file);
    if (!registered) {
      std::fprintf(stderr, "bsd_bpf_reader: %s\n", registered.error().to_string().c_str());
      return 1;
    }
    interface = "file0";
  }

  // fd = open("/dev/bpf", O_RDONLY)
  auto bpf = Device::open();
  if (!bpf) return fail("open", ENODEV);

  // Ask for a 64 KiB buffer before binding; the device says what it granted.
  unsigned buffer_length = 65536;
  if (int error = bpf->ioctl(BIOCSBLEN, &buffer_length)) return fail("BIOCSBLEN", error);

  ifreq request{};
  std::snprintf(request.ifr_name, sizeof request.ifr_name, "%s", interface.c_str());
  if (int error = bpf->ioctl(BIOCSETIF, &request)) return fail(interface.c_str(), error);

  unsigned on = 1;
  if (int error = bpf->ioctl(BIOCIMMEDIATE, &on)) return fail("BIOCIMMEDIATE", error);
  unsigned dlt = 0;
  if (int error = bpf->ioctl(BIOCGDLT, &dlt)) return fail("BIOCGDLT", error);

  // The filter: tcpdump's language compiled by libpcap for the link type; the kernel's
  // validator (FreeBSD rules) checks it in BIOCSETF.
  if (!expression.empty()) {
    auto insns = bpfvm::classic::compile(expression, {.linktype = static_cast<int>(dlt),
                                                      .snaplen = 65535,
                                                      .optimize = true,
                                                      .netmask = 0xffffffff});
    if (!insns) {
      std::fprintf(stderr, "bsd_bpf_reader: %s\n", insns.error().to_string().c_str());
      return 1;
    }
    bpf_program program{static_cast<unsigned>(insns->size()), insns->data()};
    if (int error = bpf->ioctl(BIOCSETF, &program)) return fail("BIOCSETF", error);
  }
  std::printf("listening on %s, link-type %s, buffer %u bytes\n", interface.c_str(),
              bpfvm::classic::linktype_name(static_cast<int>(dlt)).c_str(), buffer_length);

  std::vector<unsigned char> buffer(buffer_length);
  long seen = 0;
  while (count < 0 || seen < count) {
    long length = bpf->read(buffer.data(), buffer.size());
    if (length < 0) return fail("read", static_cast<int>(-length));
    if (length == 0) break;  // the file is exhausted
    // Walk the records: each bpf_hdr, then bh_hdrlen bytes in, the packet.
    unsigned char* p = buffer.data();
    unsigned char* end = p + length;
    while (p < end && (count < 0 || seen < count)) {
      bpf_hdr header;
      std::memcpy(static_cast<void*>(&header), p, bpf_hdr_size);
      const unsigned char* packet = p + header.bh_hdrlen;
      std::time_t seconds = header.bh_tstamp.tv_sec;
      std::tm local{};
      localtime_r(&seconds, &local);
      std::printf(
          "%02d:%02d:%02d.%06ld %u/%u bytes %s\n", local.tm_hour, local.tm_min, local.tm_sec,
          static_cast<long>(header.bh_tstamp.tv_usec), header.bh_caplen, header.bh_datalen,
          summarize(static_cast<int>(dlt), {packet, header.bh_caplen}, header.bh_datalen).c_str());
      ++seen;
      p += bpf_wordalign(header.bh_hdrlen + header.bh_caplen);
    }
  }
  bpf_stat stats;
  if (bpf->ioctl(BIOCGSTATS, &stats) == 0)
    std::printf("%u packets received by filter, %u dropped\n", stats.bs_recv, stats.bs_drop);
  return 0;
}
