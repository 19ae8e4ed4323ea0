// The store and hold buffers of a FreeBSD bpf descriptor (sys/net/bpf.c: catchpacket(),
// ROTATE_BUFFERS, bpfread()), independent of where packets come from.
//
// Two buffers of the descriptor's size: packets are appended to the store buffer, each as a
// bpf_hdr followed by its bytes at a BPF_WORDALIGN'ed offset. When a packet does not fit, the
// store buffer becomes the hold buffer (if the hold buffer is free) and read() hands the hold
// buffer out whole; if the hold buffer is still waiting for a reader, the packet is dropped and
// counted.
#pragma once

#include <bpfvm/capture.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace bpfvm::capture::detail {

struct Timestamp {
  std::int64_t seconds = 0;
  std::int64_t microseconds = 0;
};

class BpfBuffers {
 public:
  // `link_header_length`: the link layer's header size (14 for Ethernet), so that the network
  // header after it lands word-aligned, as bpf_hdrlen() arranges.
  BpfBuffers(std::size_t size, std::size_t link_header_length);

  std::size_t size() const { return size_; }
  // bh_hdrlen of every record: BPF_WORDALIGN(link + SIZEOF_BPF_HDR) - link.
  std::size_t header_length() const { return header_length_; }

  // catchpacket(): appends `data` cut to `snaplen` (the filter's verdict), recording
  // `wire_length`. Returns false when the packet was dropped for lack of room.
  bool capture(std::span<const std::uint8_t> data, std::uint32_t wire_length, std::uint32_t snaplen,
               Timestamp timestamp);

  // Whether a reader would get data now: the hold buffer is full.
  bool hold_ready() const { return hold_length_ != 0; }
  std::size_t store_length() const { return store_length_; }
  // ROTATE_BUFFERS: the store buffer becomes the hold buffer. Only when the hold buffer is free.
  void rotate();
  // Copies the hold buffer out and frees it; returns its length.
  std::size_t take_hold(std::span<std::uint8_t> out);
  // Bytes a read would return now (FIONREAD): the hold buffer, else the store buffer.
  std::size_t readable() const { return hold_length_ != 0 ? hold_length_ : store_length_; }
  // reset_d(): both buffers emptied.
  void clear();

 private:
  std::size_t size_;
  std::size_t header_length_;
  std::vector<std::uint8_t> store_, hold_;
  std::size_t store_length_ = 0;
  std::size_t hold_length_ = 0;  // 0: the hold buffer is free (FreeBSD's bd_fbuf != NULL)
};

}  // namespace bpfvm::capture::detail
