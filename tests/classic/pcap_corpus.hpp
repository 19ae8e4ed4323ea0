// The pcap-corpus anchors (../shared/anchors/pcap-corpus, README.md there): where they are,
// and their tables parsed. Tests skip, saying so, when the folder is absent.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::classic::test {

std::filesystem::path corpus_dir();
bool corpus_present();
inline constexpr const char* corpus_absent_message =
    "pcap-corpus anchors not found (set BPFVM_ANCHORS_DIR to the folder holding pcap-corpus/)";

std::optional<std::string> read_text(const std::filesystem::path& path);

// Tab-separated rows; the header row gives the column names.
using TsvRow = std::map<std::string, std::string>;
std::vector<TsvRow> read_tsv(const std::filesystem::path& path);

// filters.txt: the expressions, line n at index n - 1.
std::vector<std::string> corpus_filters();

// The files listed in files.tsv, relative to the corpus ("libpcap/carp.pcap").
std::vector<std::string> corpus_files();

// "1-3,7" -> {1, 2, 3, 7}; "" -> {}.
std::vector<std::size_t> parse_ranges(const std::string& text);

// tcpdump-{d,dd,ddd}.txt: for each "### <n>\t<expression>" block, its text after the header.
std::map<std::size_t, std::string> dump_blocks(const std::string& text);

}  // namespace bpfvm::classic::test
