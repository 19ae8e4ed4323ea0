// Where a bpf descriptor's packets come from once BIOCSETIF has bound it: a Linux interface
// (an AF_PACKET socket) or a capture file registered as an interface.
#pragma once

#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>

#include "capture/bpf_buffers.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace bpfvm::capture::detail {

struct SourcePacket {
  std::span<const std::uint8_t> data;
  std::uint32_t wire_length = 0;
  Timestamp timestamp;
  bool outgoing = false;                          // sent by this host (BIOCSDIRECTION)
  const classic::Ancillary* ancillary = nullptr;  // Linux metadata, when the source has it
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;

  virtual const std::string& name() const = 0;
  virtual int linktype() const = 0;  // a DLT_ value
  virtual std::size_t link_header_length() const = 0;

  // Hands every packet available now to `sink`, without waiting. Returns false at the end of
  // a file. `sink` returns false to stop early (the rest stays for the next call).
  using Sink = std::function<bool(const SourcePacket&)>;
  virtual bool drain(const Sink& sink) = 0;

  // Waits until a packet may be available or `timeout` passes (nothing: forever). Files are
  // always ready.
  virtual void wait(std::optional<std::chrono::milliseconds> timeout) = 0;

  // Packets the source itself lost before they reached the descriptor (the socket's drops).
  virtual unsigned dropped_before_filter() { return 0; }

  virtual int set_promiscuous() = 0;  // 0 or an errno value
  virtual long send(std::span<const std::uint8_t> packet, bool header_complete) = 0;
  virtual int pollable_fd() const { return -1; }
  virtual bool replays_file() const { return false; }
};

// A Linux interface by name; errno on failure (ENXIO when there is no such interface).
Result<std::unique_ptr<PacketSource>> open_linux_interface(const std::string& name, int& error);

// A registered capture file, or nothing when `name` is not registered.
std::optional<Result<std::unique_ptr<PacketSource>>> open_file_interface(const std::string& name);

}  // namespace bpfvm::capture::detail
