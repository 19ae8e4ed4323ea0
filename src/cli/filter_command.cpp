// bpfvm filter: a tcpdump-like front end for classic BPF. Reads a capture file, compiles the
// expression on its handle (as tcpdump does), runs the filter on the chosen engine, and prints
// the matching packets, their count, or writes them to a file byte-identical to tcpdump -w.
// Errors and exit codes follow tcpdump: 1 for a bad expression, an unreadable or truncated
// file or a link type libpcap cannot filter.
#include "cli/commands.hpp"

#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace bpfvm::cli {
namespace {

constexpr int tcpdump_error = 1;

struct FilterArgs {
  std::string input;
  std::string output;
  long long count_limit = -1;
  bool count_only = false;
  int dump_level = 0;  // -d, -dd, -ddd
  std::string engine = "interp";
  std::string rules = "libpcap";
  std::vector<std::string> expression_words;
  std::string expression_file;
  std::string program_file;
  bool nano = false;
};

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Error::Kind::io, fmt::format("{}: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// tcpdump -F: the file's text with '#' comments blanked out.
Result<std::string> expression_from_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return text.error();
  std::string out = *text;
  bool comment = false;
  for (char& c : out) {
    if (c == '#') comment = true;
    if (c == '\n') comment = false;
    if (comment) c = ' ';
  }
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) out += (out.empty() ? "" : " ") + word;
  return out;
}

Result<std::vector<classic::Insn>> filter_program(const FilterArgs& args,
                                                  const capture::SavefileReader& reader) {
  if (!args.program_file.empty()) {
    auto text = read_text_file(args.program_file);
    if (!text) return text.error();
    auto insns = classic::parse_program(*text);
    if (!insns) {
      Error error = insns.error();
      error.message = fmt::format("{}: {}", args.program_file, error.to_string());
      error.line.reset();
      return error;
    }
    return insns;
  }
  std::string expression = join(args.expression_words);
  if (!args.expression_file.empty()) {
    auto text = expression_from_file(args.expression_file);
    if (!text) return text.error();
    expression = *text;
  }
  return reader.compile(expression);  // netmask 0 and optimized, as tcpdump -r
}

std::string timestamp(const capture::PacketRecord& packet, bool nano) {
  auto seconds = static_cast<std::time_t>(packet.seconds);
  std::tm local{};
  localtime_r(&seconds, &local);
  if (nano)
    return fmt::format("{:02}:{:02}:{:02}.{:09}", local.tm_hour, local.tm_min, local.tm_sec,
                       packet.fraction);
  return fmt::format("{:02}:{:02}:{:02}.{:06}", local.tm_hour, local.tm_min, local.tm_sec,
                     packet.fraction);
}

std::string link_description(int linktype) {
  const char* name = pcap_datalink_val_to_name(linktype);
  const char* description = pcap_datalink_val_to_description(linktype);
  if (name == nullptr) return fmt::format("{}", linktype);
  return description ? fmt::format("{} ({})", name, description) : name;
}

int run(const FilterArgs& args) {
  auto engine = classic::parse_engine(args.engine);
  auto reader = capture::SavefileReader::open(
      args.input, args.nano ? capture::Precision::nano : capture::Precision::micro);
  if (!reader) {
    print_error(reader.error().message);
    return tcpdump_error;
  }
  fmt::print(stderr, "reading from file {}, link-type {}, snapshot length {}\n", args.input,
             link_description(reader->linktype()), reader->snaplen());
  auto insns = filter_program(args, *reader);
  if (!insns) {
    print_error(insns.error().to_string());
    return tcpdump_error;
  }
  if (args.dump_level > 0) {
    fmt::print("{}", classic::listing(*insns, args.dump_level == 1   ? classic::Listing::text
                                              : args.dump_level == 2 ? classic::Listing::c_array
                                                                     : classic::Listing::decimal));
    return exit_ok;
  }
  classic::LoadOptions load;
  load.rules = args.rules == "freebsd" ? classic::Rules::freebsd : classic::Rules::libpcap;
  auto program = classic::Program::load(*insns, load);
  if (!program) {
    print_error(fmt::format("the filter program is not valid: {}", program.error().to_string()));
    return tcpdump_error;
  }
  auto filter = classic::Filter::create(*program, *engine);
  if (!filter) {
    print_error(filter.error().to_string());
    return tcpdump_error;
  }
  std::optional<capture::SavefileWriter> writer;
  if (!args.output.empty()) {
    auto opened = capture::SavefileWriter::open(args.output, *reader);
    if (!opened) {
      print_error(opened.error().message);
      return tcpdump_error;
    }
    writer = std::move(*opened);
  }
  // Records are read a batch at a time (their bytes copied: a record is valid only until the
  // next read) and filtered with Filter::run(span, span), which prefetches headers and lets
  // Engine::jit choose its code from the batch (docs/classic.md, "Branch-free code"). Output
  // and -c follow the file's order as one record at a time would; a read error is reported
  // only if the records before it did not reach the count.
  constexpr std::size_t batch_size = 1024;
  struct Held {
    std::int64_t seconds;
    std::uint32_t fraction;
    std::uint32_t wire_length;
    std::size_t offset, length;
  };
  std::vector<Held> held;
  std::vector<std::uint8_t> bytes;
  std::vector<classic::Packet> batch;
  std::vector<std::uint32_t> verdicts;
  long long matched = 0;
  int status = exit_ok;
  bool done = false;
  while (!done && (args.count_limit < 0 || matched < args.count_limit)) {
    held.clear();
    bytes.clear();
    std::optional<std::string> read_error;
    while (held.size() < batch_size) {
      auto record = reader->next();
      if (!record) {
        read_error = record.error().message;
        break;
      }
      if (!*record) break;
      const capture::PacketRecord& packet = **record;
      held.push_back(
          {packet.seconds, packet.fraction, packet.wire_length, bytes.size(), packet.data.size()});
      bytes.insert(bytes.end(), packet.data.begin(), packet.data.end());
    }
    done = held.size() < batch_size;
    batch.clear();
    for (const Held& h : held)
      batch.push_back(classic::Packet{{bytes.data() + h.offset, h.length}, h.wire_length, nullptr});
    verdicts.assign(batch.size(), 0);
    filter->run(batch, verdicts);
    for (std::size_t i = 0; i < held.size(); ++i) {
      if (args.count_limit >= 0 && matched >= args.count_limit) break;
      if (verdicts[i] == 0) continue;
      ++matched;
      capture::PacketRecord packet;
      packet.seconds = held[i].seconds;
      packet.fraction = held[i].fraction;
      packet.wire_length = held[i].wire_length;
      packet.data = batch[i].data;
      if (writer) {
        if (auto ok = writer->write(packet); !ok) {
          print_error(ok.error().message);
          return tcpdump_error;
        }
      } else if (!args.count_only) {
        fmt::print("{} {}, length {}\n", timestamp(packet, args.nano),
                   capture::summarize(reader->linktype(), packet.data, packet.wire_length),
                   packet.wire_length);
      }
    }
    if (read_error && (args.count_limit < 0 || matched < args.count_limit)) {
      print_error(fmt::format("{}: {}", args.input, *read_error));
      status = tcpdump_error;
      break;
    }
  }
  if (writer) {
    if (auto ok = writer->close(); !ok) {
      print_error(ok.error().message);
      return tcpdump_error;
    }
  }
  if (args.count_only) fmt::print("{} packet{}\n", matched, matched == 1 ? "" : "s");
  std::fflush(stdout);
  return status;
}

}  // namespace

void add_filter_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<FilterArgs>();
  CLI::App* command = app.add_subcommand(
      "filter",
      "Filter a capture file with a tcpdump expression, like tcpdump -r.\n"
      "The expression is compiled by libpcap for the file's link type and snap length and run\n"
      "as classic BPF on the chosen engine. Matching packets are printed one per line\n"
      "(time, a short decode, wire length), counted (--count), or written with -w to a pcap\n"
      "file byte-identical to what `tcpdump -r IN -w OUT EXPRESSION` writes.\n"
      "-d, -dd and -ddd print the compiled program as tcpdump does and exit.\n"
      "Exit status (as tcpdump): 0 done, 1 bad expression, unreadable or truncated file, or a\n"
      "link type libpcap cannot filter.");
  command->add_option("-r", args->input, "The capture file to read (pcap or pcapng)")->required();
  command->add_option("-w", args->output, "Write the matching packets to this pcap file");
  command->add_option("-c", args->count_limit, "Stop after this many matching packets");
  command->add_flag("--count", args->count_only, "Print only the number of matching packets");
  command->add_flag("-d", args->dump_level,
                    "Print the program as tcpdump -d (-dd: as C, -ddd: as decimal) and exit");
  command
      ->add_option("--engine", args->engine,
                   "Where the filter runs: interp (the classic interpreter), ebpf (translated "
                   "to eBPF, interpreted) or jit (translated to eBPF, compiled to x86-64)")
      ->check(CLI::IsMember({"interp", "ebpf", "jit"}))
      ->default_val("interp");
  command
      ->add_option("--rules", args->rules,
                   "The validator the program must pass: libpcap or freebsd")
      ->check(CLI::IsMember({"libpcap", "freebsd"}))
      ->default_val("libpcap");
  auto* file = command->add_option("-F", args->expression_file, "Read the expression from a file");
  auto* program = command->add_option(
      "--program", args->program_file,
      "Run a classic program instead of an expression: a tcpdump -d, -dd or -ddd listing");
  command->add_flag("--nano", args->nano, "Nanosecond timestamps (and a nanosecond file with -w)");
  auto* words = command->add_option("EXPRESSION", args->expression_words,
                                    "The filter expression (words are joined with spaces)");
  file->excludes(program);
  words->excludes(file)->excludes(program);
  command->callback([args, &exit_code] { exit_code = run(*args); });
}

}  // namespace bpfvm::cli
