// Walking the buffer a bpf read() returns: bpf_hdr records at BPF_WORDALIGN'ed offsets.
#pragma once

#include <bpfvm/capture.hpp>

#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace bpfvm::classic::test {

struct BpfRecord {
  capture::bpf_hdr header;
  std::size_t offset = 0;
  std::vector<std::uint8_t> bytes;
};

// Splits `buffer` into records; `problem` says what is wrong when the layout is broken.
inline std::vector<BpfRecord> split_records(std::span<const std::uint8_t> buffer,
                                            std::string& problem) {
  std::vector<BpfRecord> records;
  std::size_t at = 0;
  while (at < buffer.size()) {
    BpfRecord record;
    record.offset = at;
    if (at + capture::bpf_hdr_size > buffer.size()) {
      problem = "a record header runs past the end";
      break;
    }
    std::memcpy(static_cast<void*>(&record.header), buffer.data() + at, capture::bpf_hdr_size);
    std::size_t start = at + record.header.bh_hdrlen;
    if (start + record.header.bh_caplen > buffer.size()) {
      problem = "a record's packet runs past the end";
      break;
    }
    record.bytes.assign(buffer.begin() + static_cast<long>(start),
                        buffer.begin() + static_cast<long>(start + record.header.bh_caplen));
    records.push_back(std::move(record));
    at = capture::bpf_wordalign(start + records.back().header.bh_caplen);
  }
  return records;
}

}  // namespace bpfvm::classic::test
