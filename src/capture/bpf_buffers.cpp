#include "capture/bpf_buffers.hpp"

#include <algorithm>
#include <cstring>

namespace bpfvm::capture::detail {

BpfBuffers::BpfBuffers(std::size_t size, std::size_t link_header_length)
    : size_(size),
      header_length_(bpf_wordalign(link_header_length + bpf_hdr_size) - link_header_length),
      store_(size),
      hold_(size) {}

bool BpfBuffers::capture(std::span<const std::uint8_t> data, std::uint32_t wire_length,
                         std::uint32_t snaplen, Timestamp timestamp) {
  std::size_t total = header_length_ + std::min<std::size_t>(snaplen, data.size());
  total = std::min(total, size_);
  std::size_t at = bpf_wordalign(store_length_);
  if (at + total > size_) {
    if (hold_length_ != 0) return false;  // no free buffer: drop
    rotate();
    at = 0;
  }
  std::size_t caplen = total - header_length_;
  bpf_hdr header;
  header.bh_tstamp.tv_sec = timestamp.seconds;
  header.bh_tstamp.tv_usec = timestamp.microseconds;
  header.bh_caplen = static_cast<std::uint32_t>(caplen);
  header.bh_datalen = wire_length;
  header.bh_hdrlen = static_cast<std::uint16_t>(header_length_);
  // The padding between records and after the header is zero, as a fresh buffer.
  std::memset(store_.data() + store_length_, 0, at + header_length_ - store_length_);
  std::memcpy(store_.data() + at, &header, bpf_hdr_size);
  std::memcpy(store_.data() + at + header_length_, data.data(), caplen);
  store_length_ = at + total;
  return true;
}

void BpfBuffers::rotate() {
  std::swap(store_, hold_);
  hold_length_ = store_length_;
  store_length_ = 0;
}

std::size_t BpfBuffers::take_hold(std::span<std::uint8_t> out) {
  std::size_t length = std::min(hold_length_, out.size());
  std::memcpy(out.data(), hold_.data(), length);
  hold_length_ = 0;
  return length;
}

void BpfBuffers::clear() {
  store_length_ = 0;
  hold_length_ = 0;
}

}  // namespace bpfvm::capture::detail
