// The classic BPF benchmark: a capture of a million mixed packets (written with libpcap and
// read back), filtered with `tcp and port 80` and three harder expressions by libpcap's
// bpf_filter(), bpfvm's classic interpreter, the translation on bpfvm's eBPF interpreter, the
// translation on the JIT, and Engine::jit (the branch-free code), all in the same run. Prints
// packets per second and the ratios to libpcap; every engine must match as many packets as libpcap
// does. Not a test: timing never fails.
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
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using namespace bpfvm;
using Clock = std::chrono::steady_clock;

struct Packets {
  std::vector<std::uint8_t> bytes;
  std::vector<bench::Frame> frames;
  std::vector<std::uint32_t> wire;
  std::vector<classic::Packet> batch;  // the same packets for Filter::run(span, span)
  mutable std::vector<std::uint32_t> verdicts;
};

// Engines that take the whole capture at once: returns the matches.
template <class F>
struct Batch {
  F run;
};
template <class F>
Batch(F) -> Batch<F>;

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
  for (std::size_t i = 0; i < packets.frames.size(); ++i)
    packets.batch.push_back(
        {{packets.bytes.data() + packets.frames[i].offset, packets.frames[i].length},
         packets.wire[i],
         nullptr});
  packets.verdicts.resize(packets.frames.size());
  return packets;
}

struct Measured {
  double best_rate = 0;  // packets per second of the fastest pass
  std::size_t matches = 0;
};

// One pass over every packet: its packets per second, and its matches. A template, so every
// engine runs the very same loop with its call inlined into it: what differs between engines
// is the call and what it does, not an indirect call through std::function around it.
template <class F>
std::pair<double, std::size_t> pass(const Packets& packets, const Batch<F>& batch) {
  auto start = Clock::now();
  std::size_t matches = batch.run(packets);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {static_cast<double>(packets.frames.size()) / seconds, matches};
}

template <class Filter>
std::pair<double, std::size_t> pass(const Packets& packets, const Filter& filter) {
  std::size_t matches = 0;
  const std::uint8_t* bytes = packets.bytes.data();
  const bench::Frame* frames = packets.frames.data();
  const std::uint32_t* wire = packets.wire.data();
  const std::size_t count = packets.frames.size();
  auto start = Clock::now();
  for (std::size_t i = 0; i < count; ++i)
    matches += filter(bytes + frames[i].offset, frames[i].length, wire[i]) != 0;
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {static_cast<double>(count) / seconds, matches};
}

// A pass of engine `e` (an index into the tuple of filters).
template <class Filters, std::size_t... E>
void pass_of(const Packets& packets, const Filters& filters, std::size_t e,
             std::vector<Measured>& out, std::index_sequence<E...>) {
  ((e == E ? (void)[&] {
    auto [rate, matches] = pass(packets, std::get<E>(filters));
    out[E].best_rate = std::max(out[E].best_rate, rate);
    out[E].matches = matches;
  }()
           : (void)0),
   ...);
}

// Passes of every engine in turn, round after round, until `min_seconds` have passed; each
// engine keeps its fastest pass. Taking turns spreads a busy machine's noise over all engines.
template <class... Filters>
std::vector<Measured> measure(const Packets& packets, double min_seconds,
                              const std::tuple<Filters...>& filters) {
  std::vector<Measured> out(sizeof...(Filters));
  auto start = Clock::now();
  int rounds = 0;
  do {
    for (std::size_t e = 0; e < sizeof...(Filters); ++e)
      pass_of(packets, filters, e, out, std::index_sequence_for<Filters...>{});
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
  if (!jit_supported()) {
    fmt::print(stderr, "the JIT engines need an x86-64 host\n");
    return 1;
  }
  fmt::print(
      "{:<44} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} "
      "{:>6}\n",
      "expression (insns)", "match", "1 byte", "libpcap", "interp", "ebpf", "jit-tr", "jit",
      "jit-b", "pcap-pf", "interp", "jit-tr", "jit", "jit-b", "b/pf");
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
    // The translation on the JIT alone (what Engine::jit was before the branch-free code),
    // and Engine::jit as it is.
    classic::TranslateOptions translation_only;
    translation_only.branch_free = false;
    auto jit_translation =
        classic::Filter::create(*program, classic::Engine::jit, translation_only);
    auto jit = classic::Filter::create(*program, classic::Engine::jit);
    if (!jit || !jit_translation) {
      fmt::print(stderr, "{}: the JIT failed\n", expression);
      return 1;
    }
    auto run_filter = [](const classic::Filter& filter) {
      return [&filter](const std::uint8_t* data, std::uint32_t caplen, std::uint32_t wire) {
        return filter.run(classic::Packet{{data, caplen}, wire, nullptr});
      };
    };
    auto filters = std::make_tuple(
        // The floor: the loop reading one byte of each packet, and nothing else.
        [](const std::uint8_t* data, std::uint32_t, std::uint32_t) -> std::uint32_t {
          return data[12] == 0x08;
        },
        [&](const std::uint8_t* data, std::uint32_t caplen, std::uint32_t wire) {
          return bpf_filter(code.data(), data, wire, caplen);
        },
        run_filter(*interp), run_filter(*ebpf), run_filter(*jit_translation), run_filter(*jit),
        // Batches: Engine::jit through Filter::run(span, span), which prefetches packet
        // headers ahead; and libpcap in a loop prefetching exactly the same way, so that the
        // prefetching is not counted as the filter's.
        Batch{[&](const Packets& p) {
          jit->run(p.batch, p.verdicts);
          return static_cast<std::size_t>(
              std::count_if(p.verdicts.begin(), p.verdicts.end(), [](auto v) { return v != 0; }));
        }},
        Batch{[&](const Packets& p) {
          constexpr std::size_t ahead = 16;
          const std::size_t n = p.batch.size();
          for (std::size_t i = 0; i < n; ++i) {
            if (i + ahead < n) {
              __builtin_prefetch(p.batch[i + ahead].data.data());
              __builtin_prefetch(p.batch[i + ahead].data.data() + 63);
            }
            const classic::Packet& packet = p.batch[i];
            p.verdicts[i] = bpf_filter(code.data(), packet.data.data(), packet.wire_length,
                                       static_cast<u_int>(packet.data.size()));
          }
          return static_cast<std::size_t>(
              std::count_if(p.verdicts.begin(), p.verdicts.end(), [](auto v) { return v != 0; }));
        }});
    std::vector<Measured> results = measure(packets, min_seconds, filters);
    const std::size_t expected = results[1].matches;
    for (std::size_t e = 2; e < results.size(); ++e) {
      if (results[e].matches != expected) {
        fmt::print(stderr, "MISMATCH on '{}': engine {} matches {}, libpcap {}\n", expression, e,
                   results[e].matches, expected);
        status = 1;
      }
    }
    std::string label = fmt::format("{} ({})", expression, insns->size());
    if (label.size() > 44) label = label.substr(0, 41) + "...";
    const double libpcap_rate = results[1].best_rate;
    auto rate = [&](std::size_t e) { return results[e].best_rate; };
    fmt::print(
        "{:<44} {:>4.1f}% {:>8.3g} {:>8.3g} {:>8.3g} {:>8.3g} {:>8.3g} {:>8.3g} {:>8.3g} {:>8.3g} "
        "{:>5.2f}x {:>5.2f}x {:>5.2f}x {:>5.2f}x {:>5.2f}x{}\n",
        label, 100.0 * static_cast<double>(expected) / static_cast<double>(packets.frames.size()),
        rate(0), libpcap_rate, rate(2), rate(3), rate(4), rate(5), rate(6), rate(7),
        rate(2) / libpcap_rate, rate(4) / libpcap_rate, rate(5) / libpcap_rate,
        rate(6) / libpcap_rate, rate(6) / rate(7),
        jit->branch_free() ? "" : "  (jit: not branch-free)");
  }
  fmt::print(
      "\npackets per second, best pass of each engine, engines taking turns. 1 byte: a loop "
      "reading one byte per packet (the floor); jit-tr: the eBPF translation on the JIT "
      "alone; jit: Engine::jit (branch-free code for packets it takes, the translation for "
      "the rest), one Filter::run call per packet; jit-b: Engine::jit on the whole capture "
      "through Filter::run(span, span), which prefetches packet headers ahead; pcap-pf: "
      "libpcap's bpf_filter() in a loop prefetching the same way; b/pf: jit-b / pcap-pf. Ratios "
      "are per packet against libpcap's bpf_filter() in this run; targets: "
      "interp >= 1x, jit >= 5x\n");
  return status;
}
