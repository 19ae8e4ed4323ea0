// The /dev/bpf descriptor: FreeBSD bpf(4)'s ioctls, read() and write() over a packet source.
// Packets reach the filter (and the buffers) when the descriptor reads, asks for statistics or
// for FIONREAD: see linux_interface.cpp for why that is equivalent to a kernel delivering them
// as they arrive.
#include <bpfvm/capture.hpp>

#include "capture/bpf_buffers.hpp"
#include "capture/packet_source.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>

namespace bpfvm::capture {

using Clock = std::chrono::steady_clock;

struct Device::Impl {
  DeviceOptions options;
  unsigned buffer_size = bpf_default_buffer;
  std::unique_ptr<detail::PacketSource> source;
  std::optional<detail::BpfBuffers> buffers;
  std::optional<classic::Filter> read_filter;
  std::optional<classic::Filter> write_filter;
  bool immediate = false;
  bool header_complete = false;
  unsigned direction = BPF_D_INOUT;
  bpf_timeval timeout;  // zero: block until a buffer fills
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;
  bool exhausted = false;  // a replayed file has no more packets

  void reset() {  // reset_d()
    if (buffers) buffers->clear();
    received = 0;
    dropped = 0;
  }

  bool wanted(const detail::SourcePacket& packet) const {
    if (direction == BPF_D_IN) return !packet.outgoing;
    if (direction == BPF_D_OUT) return packet.outgoing;
    return true;
  }

  // Every packet available now through the direction check, the filter and catchpacket().
  void drain() {
    if (!source) return;
    bool file = source->replays_file();
    bool more = source->drain([&](const detail::SourcePacket& packet) {
      // A file waits for the reader; in immediate mode it hands out one packet per read.
      if (file && (buffers->hold_ready() || (immediate && buffers->store_length() != 0)))
        return false;
      if (!wanted(packet)) return true;
      ++received;
      classic::Packet input{packet.data, packet.wire_length, packet.ancillary};
      std::uint32_t snaplen =
          read_filter ? read_filter->run(input) : std::numeric_limits<std::uint32_t>::max();
      if (snaplen != 0 &&
          !buffers->capture(packet.data, packet.wire_length, snaplen, packet.timestamp))
        ++dropped;
      return true;
    });
    if (file && !more) exhausted = true;
    unsigned lost = source->dropped_before_filter();
    received += lost;
    dropped += lost;
  }

  int set_filter(const bpf_program* program, std::optional<classic::Filter>& slot) {
    if (program == nullptr) return EINVAL;
    if (program->bf_insns == nullptr) {
      if (program->bf_len != 0) return EINVAL;
      slot.reset();  // no filter: accept every packet whole
      return 0;
    }
    if (program->bf_len > classic::freebsd_max_insns && options.rules == classic::Rules::freebsd)
      return EINVAL;
    auto loaded = classic::Program::load({program->bf_insns, program->bf_len},
                                         classic::LoadOptions{options.rules});
    if (!loaded) return EINVAL;
    auto filter = classic::Filter::create(*loaded, options.engine);
    if (!filter) return EINVAL;
    slot = std::move(*filter);
    return 0;
  }

  int bind(const ifreq& request) {
    std::string name(request.ifr_name, strnlen(request.ifr_name, ifnamsiz));
    std::unique_ptr<detail::PacketSource> opened;
    if (auto file = detail::open_file_interface(name)) {
      if (!*file) return ENXIO;
      opened = std::move(**file);
    } else {
      int error = 0;
      auto live = detail::open_linux_interface(name, error);
      if (!live) return error != 0 ? error : ENXIO;
      opened = std::move(*live);
    }
    source = std::move(opened);
    buffers.emplace(buffer_size, source->link_header_length());
    exhausted = false;
    reset();
    return 0;
  }

  int ioctl(unsigned long request, void* argument) {
    auto as_uint = [&] { return static_cast<unsigned*>(argument); };
    if (argument == nullptr && request != BIOCFLUSH && request != BIOCPROMISC) return EFAULT;
    switch (request) {
      case BIOCGBLEN: *as_uint() = buffer_size; return 0;
      case BIOCSBLEN:
        if (source) return EINVAL;  // only before BIOCSETIF
        buffer_size = std::clamp(*as_uint(), bpf_min_buffer, bpf_max_buffer);
        *as_uint() = buffer_size;
        return 0;
      case BIOCSETF: {
        int error = set_filter(static_cast<const bpf_program*>(argument), read_filter);
        if (error == 0) reset();
        return error;
      }
      case BIOCSETWF: return set_filter(static_cast<const bpf_program*>(argument), write_filter);
      case BIOCFLUSH: reset(); return 0;
      case BIOCPROMISC: return source ? source->set_promiscuous() : EINVAL;
      case BIOCGDLT:
        if (!source) return EINVAL;
        *as_uint() = static_cast<unsigned>(source->linktype());
        return 0;
      case BIOCGETIF: {
        if (!source) return EINVAL;
        auto* out = static_cast<ifreq*>(argument);
        *out = ifreq{};
        std::memcpy(out->ifr_name, source->name().c_str(),
                    std::min(source->name().size(), ifnamsiz - 1));
        return 0;
      }
      case BIOCSETIF: return bind(*static_cast<const ifreq*>(argument));
      case BIOCSRTIMEOUT: {
        auto value = *static_cast<const bpf_timeval*>(argument);
        if (value.tv_sec < 0 || value.tv_usec < 0 || value.tv_usec >= 1000000) return EINVAL;
        timeout = value;
        return 0;
      }
      case BIOCGRTIMEOUT: *static_cast<bpf_timeval*>(argument) = timeout; return 0;
      case BIOCGSTATS: {
        drain();
        auto* stats = static_cast<bpf_stat*>(argument);
        stats->bs_recv = static_cast<unsigned>(received);
        stats->bs_drop = static_cast<unsigned>(dropped);
        return 0;
      }
      case BIOCIMMEDIATE: immediate = *as_uint() != 0; return 0;
      case BIOCVERSION:
        *static_cast<bpf_version*>(argument) = bpf_version{BPF_MAJOR_VERSION, BPF_MINOR_VERSION};
        return 0;
      case BIOCGHDRCMPLT: *as_uint() = header_complete ? 1 : 0; return 0;
      case BIOCSHDRCMPLT: header_complete = *as_uint() != 0; return 0;
      case BIOCGDIRECTION: *as_uint() = direction; return 0;
      case BIOCSDIRECTION:
        if (*as_uint() > BPF_D_OUT) return EINVAL;
        direction = *as_uint();
        return 0;
      case FIONREAD:
        drain();
        *static_cast<int*>(argument) = buffers ? static_cast<int>(buffers->readable()) : 0;
        return 0;
      default: return EINVAL;
    }
  }

  long read(void* buffer, std::size_t size) {
    if (!source) return -ENXIO;
    if (size != buffer_size) return -EINVAL;
    bool has_timeout = timeout.tv_sec != 0 || timeout.tv_usec != 0;
    auto deadline = Clock::now() + std::chrono::seconds(timeout.tv_sec) +
                    std::chrono::microseconds(timeout.tv_usec);
    bool timed_out = false;
    for (;;) {
      drain();
      if (buffers->hold_ready()) break;
      if ((immediate || timed_out || exhausted) && buffers->store_length() != 0) {
        buffers->rotate();
        break;
      }
      if (exhausted || timed_out) return 0;
      if (source->replays_file()) continue;
      std::optional<std::chrono::milliseconds> wait;
      if (has_timeout) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        wait = std::max(left, std::chrono::milliseconds(0));
      }
      source->wait(wait);
      if (has_timeout && Clock::now() >= deadline) timed_out = true;
    }
    return static_cast<long>(buffers->take_hold({static_cast<std::uint8_t*>(buffer), size}));
  }

  long write(const void* packet, std::size_t size) {
    if (!source) return -ENXIO;
    if (size == 0) return 0;
    std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(packet), size);
    if (write_filter && write_filter->run(classic::Packet::whole(bytes)) == 0) return -EPERM;
    return source->send(bytes, header_complete);
  }
};

Device::Device(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Device::Device(Device&&) noexcept = default;
Device& Device::operator=(Device&&) noexcept = default;
Device::~Device() = default;

Result<Device> Device::open(const DeviceOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  return Device(std::move(impl));
}

int Device::ioctl(unsigned long request, void* argument) { return impl_->ioctl(request, argument); }
long Device::read(void* buffer, std::size_t size) { return impl_->read(buffer, size); }
long Device::write(const void* packet, std::size_t size) { return impl_->write(packet, size); }
int Device::pollable_fd() const { return impl_->source ? impl_->source->pollable_fd() : -1; }

}  // namespace bpfvm::capture
