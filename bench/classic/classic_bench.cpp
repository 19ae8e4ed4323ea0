// The classic BPF benchmark: a capture of a million mixed packets (written with libpcap and
// read back), filtered with `tcp and port 80` and three harder expressions by libpcap's
// bpf_filter(), bpfvm's classic interpreter, the translation on bpfvm's eBPF interpreter and
// the translation on the JIT, all in the same run. Prints packets per second and the ratios
// to libpcap; every engine must match as many packets as libpcap does. Not a test: timing
// never fails.
//
//   classic_bench [--packets N] [--capture PATH] [--min-seconds S]
#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>
#include <bpfvm/jit.hpp>

#include "traffic.hpp"

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace bpfvm;
using Clock = std::chrono::steady_clock;

struct Packets {
  std::vector<std::uint8_t> bytes;
  std::vector<bench::Frame> frames;
  std::vector<std::uint32_t> wire;
};

// Writes the synthetic traffic as a pcap file and reads it back, as a real capture.
Packets capture_file(std::size_t count, const std::string& path) {
  bench::Traffic traffic = bench::make_traffic(count, 2024);
  {
    auto writer = capture::SavefileWriter::open(path, 1, 262144);
    if (!writer) {
      fmt::print(stderr, "{}\n", writer.error().to_string());
      std::exit(1);
    }
    for (const bench::Frame& frame : traffic.frames) {
      capture::PacketRecord record;
      record.seconds = 1700000000;
      record.data = {traffic.bytes.data() + frame.offset, frame.length};
      record.wire_length = frame.length;
      (void)writer->write(record);
    }
    (void)writer->close();
  }
  Packets packets;
  auto reader = capture::SavefileReader::open(path);
  for (;;) {
    auto record = reader->next();
    if (!record || !*record) break;
    packets.frames.push_back({static_cast<std::uint32_t>(packets.bytes.size()),
                              static_cast<std::uint32_t>((*record)->data.size())});
    packets.bytes.insert(packets.bytes.end(), (*record)->data.begin(), (*record)->data.end());
    packets.wire.push_back((*record)->wire_length);
  }
  return packets;
}

using FilterFunction =
    std::function<std::uint32_t(const std::uint8_t*, std::uint32_t, std::uint32_t)>;

struct Measured {
  double best_rate = 0;  // packets per second of the fastest pass
  std::size_t matches = 0;
};

// One pass over every packet: its packets per second, and its matches.
std::pair<double, std::size_t> pass(const Packets& packets, const FilterFunction& filter) {
  std::size_t matches = 0;
  auto start = Clock::now();
  for (std::size_t i = 0; i < packets.frames.size(); ++i) {
    const bench::Frame& frame = packets.frames[i];
    matches += filter(packets.bytes.data() + frame.offset, frame.length, packets.wire[i]) != 0;
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {static_cast<double>(packets.frames.size()) / seconds, matches};
}

// Passes of every engine in turn, round after round, until `min_seconds` have passed; each
// engine keeps its fastest pass. Taking turns spreads a busy machine's noise over all engines.
std::vector<Measured> measure(const Packets& packets, double min_seconds,
                              const std::vector<FilterFunction>& filters) {
  std::vector<Measured> out(filters.size());
  auto start = Clock::now();
  int rounds = 0;
  do {
    for (std::size_t e = 0; e < filters.size(); ++e) {
      auto [rate, matches] = pass(packets, filters[e]);
      out[e].best_rate = std::max(out[e].best_rate, rate);
      out[e].matches = matches;
    }
    ++rounds;
  } while (rounds < 3 || std::chrono::duration<double>(Clock::now() - start).count() < min_seconds);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 1'000'000;
  std::string path = "/tmp/bpfvm-classic-bench.pcap";
  double min_seconds = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--packets") == 0)
      count = std::strtoull(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--capture") == 0)
      path = argv[i + 1];
    else if (std::strcmp(argv[i], "--min-seconds") == 0)
      min_seconds = std::strtod(argv[i + 1], nullptr);
  }
  Packets packets = capture_file(count, path);
  fmt::print("capture: {} packets, {:.1f} MB, {}\n\n", packets.frames.size(),
             static_cast<double>(packets.bytes.size()) / 1e6, path);

  const char* expressions[] = {
      "tcp and port 80",
      "tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
      "(udp port 53 or tcp port 443 or ip6) and not net 10.0.0.0/8",
      "vlan 101 and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or icmp[icmptype] == icmp-echo",
  };
  bool jit = jit_supported();
  fmt::print("{:<74} {:>5} {:>12} {:>12} {:>12} {:>12}  {:>7} {:>7}\n", "expression (insns)",
             "match", "libpcap p/s", "interp p/s", "ebpf p/s", "jit p/s", "interp", "jit");
  int status = 0;
  for (const char* expression : expressions) {
    auto insns = classic::compile(expression);
    if (!insns) {
      fmt::print(stderr, "{}: {}\n", expression, insns.error().to_string());
      return 1;
    }
    std::vector<bpf_insn> code;
    for (const auto& insn : *insns) code.push_back(bpf_insn{insn.code, insn.jt, insn.jf, insn.k});
    auto program = classic::Program::load(*insns);
    auto interp = classic::Filter::create(*program, classic::Engine::interpreter);
    auto ebpf = classic::Filter::create(*program, classic::Engine::ebpf_interpreter);
    std::optional<classic::Filter> jitted;
    if (jit) {
      auto compiled = classic::Filter::create(*program, classic::Engine::jit);
      if (compiled) jitted = std::move(*compiled);
    }
    auto run_filter = [](const classic::Filter& filter) -> FilterFunction {
      return [&filter](const std::uint8_t* data, std::uint32_t caplen, std::uint32_t wire) {
        return filter.run(classic::Packet{{data, caplen}, wire, nullptr});
      };
    };
    std::vector<FilterFunction> filters = {
        [&](const std::uint8_t* data, std::uint32_t caplen, std::uint32_t wire) {
          return bpf_filter(code.data(), data, wire, caplen);
        },
        run_filter(*interp), run_filter(*ebpf)};
    if (jitted) filters.push_back(run_filter(*jitted));
    std::vector<Measured> results = measure(packets, min_seconds, filters);
    double libpcap_rate = results[0].best_rate, interp_rate = results[1].best_rate,
           ebpf_rate = results[2].best_rate, jit_rate = jitted ? results[3].best_rate : 0;
    std::size_t libpcap_matches = results[0].matches, interp_matches = results[1].matches,
                ebpf_matches = results[2].matches,
                jit_matches = jitted ? results[3].matches : libpcap_matches;
    if (interp_matches != libpcap_matches || ebpf_matches != libpcap_matches ||
        jit_matches != libpcap_matches) {
      fmt::print(stderr, "MISMATCH on '{}': libpcap {} interp {} ebpf {} jit {}\n", expression,
                 libpcap_matches, interp_matches, ebpf_matches, jit_matches);
      status = 1;
    }
    std::string label = fmt::format("{} ({})", expression, insns->size());
    if (label.size() > 74) label = label.substr(0, 71) + "...";
    fmt::print(
        "{:<74} {:>5.1f}% {:>11.3g} {:>12.3g} {:>12.3g} {:>12.3g}  {:>6.2f}x {:>6.2f}x\n", label,
        100.0 * static_cast<double>(libpcap_matches) / static_cast<double>(packets.frames.size()),
        libpcap_rate, interp_rate, ebpf_rate, jit_rate, interp_rate / libpcap_rate,
        jit_rate / libpcap_rate);
  }
  fmt::print(
      "\nbest pass of each engine, engines taking turns; ratios are per packet against "
      "libpcap's bpf_filter() in this run; targets: interp >= 1x, jit >= 5x\n");
  return status;
}
