// Capture files through libpcap: pcap_open_offline to read (pcap and pcapng), pcap_dump to
// write, so that written files are byte for byte what tcpdump -w writes.
#include <bpfvm/capture.hpp>

#include <fmt/format.h>
#include <pcap/pcap.h>

namespace bpfvm::capture {

struct SavefileReader::Impl {
  pcap_t* handle = nullptr;
  std::string path;
  Precision precision = Precision::micro;
  ~Impl() {
    if (handle != nullptr) pcap_close(handle);
  }
};

SavefileReader::SavefileReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SavefileReader::SavefileReader(SavefileReader&&) noexcept = default;
SavefileReader& SavefileReader::operator=(SavefileReader&&) noexcept = default;
SavefileReader::~SavefileReader() = default;

Result<SavefileReader> SavefileReader::open(const std::string& path, Precision precision) {
  char error[PCAP_ERRBUF_SIZE] = {};
  pcap_t* handle = pcap_open_offline_with_tstamp_precision(
      path.c_str(),
      precision == Precision::nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO,
      error);
  if (handle == nullptr) return make_error(Error::Kind::io, error);
  auto impl = std::make_unique<Impl>();
  impl->handle = handle;
  impl->path = path;
  impl->precision = precision;
  return SavefileReader(std::move(impl));
}

int SavefileReader::linktype() const { return pcap_datalink(impl_->handle); }
std::uint32_t SavefileReader::snaplen() const {
  return static_cast<std::uint32_t>(pcap_snapshot(impl_->handle));
}
Precision SavefileReader::precision() const { return impl_->precision; }
const std::string& SavefileReader::path() const { return impl_->path; }

Result<std::optional<PacketRecord>> SavefileReader::next() {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int status = pcap_next_ex(impl_->handle, &header, &data);
  if (status == PCAP_ERROR_BREAK) return std::optional<PacketRecord>{};
  if (status != 1) return make_error(Error::Kind::io, pcap_geterr(impl_->handle));
  PacketRecord record;
  record.seconds = header->ts.tv_sec;
  record.fraction = static_cast<std::uint32_t>(header->ts.tv_usec);
  record.wire_length = header->len;
  record.data = {data, header->caplen};
  return std::optional<PacketRecord>(record);
}

Result<std::vector<classic::Insn>> SavefileReader::compile(std::string_view expression,
                                                           bool optimize,
                                                           std::uint32_t netmask) const {
  ::bpf_program code{};
  std::string text(expression);
  if (pcap_compile(impl_->handle, &code, text.c_str(), optimize ? 1 : 0, netmask) != 0)
    return make_error(Error::Kind::parse, pcap_geterr(impl_->handle));
  std::vector<classic::Insn> insns;
  insns.reserve(code.bf_len);
  for (u_int i = 0; i < code.bf_len; ++i) {
    const ::bpf_insn& in = code.bf_insns[i];
    insns.push_back(classic::Insn{in.code, in.jt, in.jf, in.k});
  }
  pcap_freecode(&code);
  return insns;
}

struct SavefileWriter::Impl {
  pcap_t* dead = nullptr;  // owned when the writer was opened without a reader
  pcap_dumper_t* dumper = nullptr;
  std::string path;
  ~Impl() {
    if (dumper != nullptr) pcap_dump_close(dumper);
    if (dead != nullptr) pcap_close(dead);
  }
};

SavefileWriter::SavefileWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SavefileWriter::SavefileWriter(SavefileWriter&&) noexcept = default;
SavefileWriter& SavefileWriter::operator=(SavefileWriter&&) noexcept = default;
SavefileWriter::~SavefileWriter() = default;

namespace {

Result<pcap_dumper_t*> open_dumper(pcap_t* handle, const std::string& path) {
  pcap_dumper_t* dumper = pcap_dump_open(handle, path.c_str());
  if (dumper == nullptr) return make_error(Error::Kind::io, pcap_geterr(handle));
  return dumper;
}

}  // namespace

Result<SavefileWriter> SavefileWriter::open(const std::string& path, const SavefileReader& like) {
  auto dumper = open_dumper(like.impl().handle, path);
  if (!dumper) return dumper.error();
  auto impl = std::make_unique<Impl>();
  impl->dumper = *dumper;
  impl->path = path;
  return SavefileWriter(std::move(impl));
}

Result<SavefileWriter> SavefileWriter::open(const std::string& path, int linktype,
                                            std::uint32_t snaplen, Precision precision) {
  auto impl = std::make_unique<Impl>();
  impl->dead = pcap_open_dead_with_tstamp_precision(
      linktype, static_cast<int>(snaplen),
      precision == Precision::nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
  if (impl->dead == nullptr) return make_error(Error::Kind::usage, "pcap_open_dead failed");
  auto dumper = open_dumper(impl->dead, path);
  if (!dumper) return dumper.error();
  impl->dumper = *dumper;
  impl->path = path;
  return SavefileWriter(std::move(impl));
}

Status SavefileWriter::write(const PacketRecord& packet) {
  if (impl_ == nullptr || impl_->dumper == nullptr)
    return make_error(Error::Kind::usage, "the capture file is closed");
  pcap_pkthdr header{};
  header.ts.tv_sec = static_cast<time_t>(packet.seconds);
  header.ts.tv_usec = static_cast<suseconds_t>(packet.fraction);
  header.caplen = static_cast<bpf_u_int32>(packet.data.size());
  header.len = packet.wire_length;
  pcap_dump(reinterpret_cast<u_char*>(impl_->dumper), &header, packet.data.data());
  return Ok{};
}

Status SavefileWriter::close() {
  if (impl_ == nullptr || impl_->dumper == nullptr) return Ok{};
  bool failed = pcap_dump_flush(impl_->dumper) != 0;
  pcap_dump_close(impl_->dumper);
  impl_->dumper = nullptr;
  if (failed) return make_error(Error::Kind::io, fmt::format("{}: write failed", impl_->path));
  return Ok{};
}

}  // namespace bpfvm::capture
