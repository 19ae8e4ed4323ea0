// Capture files posing as interfaces: register_file_interface() names a file, BIOCSETIF with
// that name replays it. A file never drops: it waits for the reader.
#include <bpfvm/capture.hpp>

#include "capture/packet_source.hpp"

#include <fmt/format.h>

#include <map>
#include <mutex>

namespace bpfvm::capture {
namespace {

std::mutex registry_mutex;
std::map<std::string, std::string, std::less<>>& registry() {
  static std::map<std::string, std::string, std::less<>> names;
  return names;
}

std::size_t link_header_length_of(int linktype) {
  switch (linktype) {
    case 1: return 14;  // EN10MB
    case 0:
    case 108: return 4;   // NULL, LOOP
    case 113: return 16;  // LINUX_SLL
    case 276: return 20;  // LINUX_SLL2
    default: return 0;    // RAW and the rest
  }
}

class FileSource : public detail::PacketSource {
 public:
  FileSource(std::string name, SavefileReader reader)
      : name_(std::move(name)), reader_(std::move(reader)) {}

  const std::string& name() const override { return name_; }
  int linktype() const override { return reader_.linktype(); }
  std::size_t link_header_length() const override { return link_header_length_of(linktype()); }

  bool drain(const Sink& sink) override {
    for (;;) {
      if (!pending_) {
        auto record = reader_.next();
        if (!record || !*record) return false;  // the end, or a truncated file: stop there
        const PacketRecord& packet = **record;
        pending_.emplace();
        pending_->bytes.assign(packet.data.begin(), packet.data.end());
        pending_->packet.wire_length = packet.wire_length;
        pending_->packet.timestamp = {packet.seconds, packet.fraction};
      }
      pending_->packet.data = pending_->bytes;
      if (!sink(pending_->packet)) return true;
      pending_.reset();
    }
  }

  void wait(std::optional<std::chrono::milliseconds>) override {}
  int set_promiscuous() override { return 0; }
  long send(std::span<const std::uint8_t>, bool) override { return -EOPNOTSUPP; }
  bool replays_file() const override { return true; }

 private:
  struct Pending {
    std::vector<std::uint8_t> bytes;
    detail::SourcePacket packet;
  };
  std::string name_;
  SavefileReader reader_;
  std::optional<Pending> pending_;
};

}  // namespace

Status register_file_interface(std::string_view name, const std::string& path) {
  if (name.empty() || name.size() >= ifnamsiz)
    return make_error(
        Error::Kind::usage,
        fmt::format("interface name '{}' must have 1 to {} characters", name, ifnamsiz - 1));
  auto reader = SavefileReader::open(path);
  if (!reader) return reader.error();
  std::lock_guard lock(registry_mutex);
  registry()[std::string(name)] = path;
  return Ok{};
}

void unregister_file_interface(std::string_view name) {
  std::lock_guard lock(registry_mutex);
  auto it = registry().find(name);
  if (it != registry().end()) registry().erase(it);
}

namespace detail {

std::optional<Result<std::unique_ptr<PacketSource>>> open_file_interface(const std::string& name) {
  std::string path;
  {
    std::lock_guard lock(registry_mutex);
    auto it = registry().find(name);
    if (it == registry().end()) return std::nullopt;
    path = it->second;
  }
  auto reader = SavefileReader::open(path);
  if (!reader) return Result<std::unique_ptr<PacketSource>>(reader.error());
  return Result<std::unique_ptr<PacketSource>>(
      std::unique_ptr<PacketSource>(std::make_unique<FileSource>(name, std::move(*reader))));
}

}  // namespace detail
}  // namespace bpfvm::capture
