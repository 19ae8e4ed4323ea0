// The classic BPF benchmark: a capture of a million mixed packets (written with libpcap and
// read back), filtered with `tcp and port 80` and three harder expressions by libpcap's
// bpf_filter(), bpfvm's classic interpreter, the translation on bpfvm's eBPF interpreter, the
// translation on the JIT, and Engine::jit (the branch-free code), all in the same run. Prints
// packets per second and the ratios to libpcap; every engine must match as many packets as libpcap
// does. Not a test: timing never fails.
//
// Two deliveries of the same capture. Resident: the whole capture sits in memory and every pass
// walks all of it; past the caches that measures the memory bus more than the filters (a loop
// reading one byte per packet costs a fifth of libpcap's time there). Streamed: the capture
// comes chunk_packets at a time through one buffer, copied in before the chunk is filtered, as
// `bpfvm filter` reads a file (and as read() fills a /dev/bpf buffer): each filter runs on
// packets just brought into the caches, and only the filtering is timed.
//
//   classic_bench [--packets N] [--capture PATH] [--min-seconds S] [--delivery D]
#include <bpfvm/capture.hpp>
#include <bpfvm/classic.hpp>
#include <bpfvm/jit.hpp>

#include "traffic.hpp"

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using namespace bpfvm;
using Clock = std::chrono::steady_clock;

// `bpfvm filter` reads records 1024 at a time (src/cli/filter_command.cpp); the streamed
// delivery does the same by default, about 250 KB of this traffic: well inside a core's L2.
std::size_t chunk_packets = 1024;

enum class Delivery { resident, streamed };

// The packets of one call of an engine: the whole capture, or a chunk of it in the buffer.
struct View {
  const std::uint8_t* bytes;  // frames' offsets are from here
  std::span<const bench::Frame> frames;
  std::span<const std::uint32_t> wire;
  std::span<const classic::Packet> batch;  // the same packets for Filter::run(span, span)
  std::span<std::uint32_t> verdicts;
};

struct Chunk {
  std::size_t first = 0, count = 0;  // packets
};

struct Packets {
  std::vector<std::uint8_t> bytes;
  std::vector<bench::Frame> frames;
  std::vector<std::uint32_t> wire;
  std::vector<classic::Packet> batch;
  mutable std::vector<std::uint32_t> verdicts;
  // Streamed: the chunks, and one chunk's packets as a reader gathers them: copied into
  // `buffer` with their descriptors beside them, all rewritten for every chunk (descriptors
  // built for the whole capture up front would come from memory, not the caches).
  std::vector<Chunk> chunks;
  mutable std::vector<std::uint8_t> buffer;
  mutable std::vector<bench::Frame> chunk_frames;
  mutable std::vector<std::uint32_t> chunk_wire, chunk_verdicts;
  mutable std::vector<classic::Packet> chunk_batch;

  View whole() const { return {bytes.data(), frames, wire, batch, verdicts}; }
  // Copies chunk `c` into the buffer record by record, as bpfvm filter gathers a batch (one
  // large copy would use the string instructions, whose stores may leave the caches cold),
  // and returns its view.
  View deliver(const Chunk& c) const {
    chunk_frames.clear();
    chunk_wire.clear();
    chunk_batch.clear();
    std::uint32_t offset = 0;
    for (std::size_t i = c.first; i < c.first + c.count; ++i) {
      const std::uint32_t length = frames[i].length;
      std::memcpy(buffer.data() + offset, bytes.data() + frames[i].offset, length);
      chunk_frames.push_back({offset, length});
      chunk_wire.push_back(wire[i]);
      chunk_batch.push_back({{buffer.data() + offset, length}, wire[i], nullptr});
      offset += length;
    }
    chunk_verdicts.assign(c.count, 0);
    return {buffer.data(), chunk_frames, chunk_wire, chunk_batch, chunk_verdicts};
  }
};

// Engines that take a view's packets at once: returns the matches.
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
  std::size_t largest = 0;
  for (std::size_t first = 0; first < packets.frames.size(); first += chunk_packets) {
    Chunk c;
    c.first = first;
    c.count = std::min(chunk_packets, packets.frames.size() - first);
    std::size_t bytes = 0;
    for (std::size_t i = first; i < first + c.count; ++i) bytes += packets.frames[i].length;
    largest = std::max(largest, bytes);
    packets.chunks.push_back(c);
  }
  packets.buffer.resize(largest);
  packets.chunk_frames.reserve(chunk_packets);
  packets.chunk_wire.reserve(chunk_packets);
  packets.chunk_verdicts.reserve(chunk_packets);
  packets.chunk_batch.reserve(chunk_packets);
  return packets;
}

struct Measured {
  double best_rate = 0;  // packets per second of the fastest pass
  std::size_t matches = 0;
};

// Filters a view's packets: returns the matches. A template, so every engine runs the very same
// loop with its call inlined into it: what differs between engines is the call and what it
// does, not an indirect call through std::function around it.
template <class F>
std::size_t filter_view(const View& view, const Batch<F>& batch) {
  return batch.run(view);
}

template <class Filter>
std::size_t filter_view(const View& view, const Filter& filter) {
  std::size_t matches = 0;
  const std::uint8_t* bytes = view.bytes;
  const bench::Frame* frames = view.frames.data();
  const std::uint32_t* wire = view.wire.data();
  const std::size_t count = view.frames.size();
  for (std::size_t i = 0; i < count; ++i)
    matches += filter(bytes + frames[i].offset, frames[i].length, wire[i]) != 0;
  return matches;
}

// One pass over every packet: its packets per second, and its matches. Streamed, only the
// filtering of each chunk is timed, not its copy (two clock reads per chunk: under 0.1 ns a
// packet, added to every engine alike).
template <class Engine>
std::pair<double, std::size_t> pass(const Packets& packets, const Engine& engine,
                                    Delivery delivery) {
  std::size_t matches = 0;
  Clock::duration elapsed{};
  if (delivery == Delivery::resident) {
    auto start = Clock::now();
    matches = filter_view(packets.whole(), engine);
    elapsed = Clock::now() - start;
  } else {
    for (const Chunk& chunk : packets.chunks) {
      const View view = packets.deliver(chunk);
      auto start = Clock::now();
      matches += filter_view(view, engine);
      elapsed += Clock::now() - start;
    }
  }
  const double seconds = std::chrono::duration<double>(elapsed).count();
  return {static_cast<double>(packets.frames.size()) / seconds, matches};
}

// A pass of engine `e` (an index into the tuple of filters).
template <class Filters, std::size_t... E>
void pass_of(const Packets& packets, Delivery delivery, const Filters& filters, std::size_t e,
             std::vector<Measured>& out, std::index_sequence<E...>) {
  ((e == E ? (void)[&] {
    auto [rate, matches] = pass(packets, std::get<E>(filters), delivery);
    out[E].best_rate = std::max(out[E].best_rate, rate);
    out[E].matches = matches;
  }()
           : (void)0),
   ...);
}

// Passes of every engine in turn, round after round, until `min_seconds` have passed; each
// engine keeps its fastest pass. Taking turns spreads a busy machine's noise over all engines.
template <class... Filters>
std::vector<Measured> measure(const Packets& packets, Delivery delivery, double min_seconds,
                              const std::tuple<Filters...>& filters) {
  std::vector<Measured> out(sizeof...(Filters));
  auto start = Clock::now();
  int rounds = 0;
  do {
    for (std::size_t e = 0; e < sizeof...(Filters); ++e)
      pass_of(packets, delivery, filters, e, out, std::index_sequence_for<Filters...>{});
    ++rounds;
  } while (rounds < 3 || std::chrono::duration<double>(Clock::now() - start).count() < min_seconds);
  return out;
}

constexpr const char* usage = R"(usage: classic_bench [options]

Filters a generated capture of mixed traffic with tcp and port 80 and three harder expressions,
by libpcap's bpf_filter() and bpfvm's classic engines in the same run, and prints packets per
second and the ratios to libpcap.

  --packets N        packets in the capture (default 1000000)
  --capture PATH     where the capture is written and read back (default
                     /tmp/bpfvm-classic-bench.pcap)
  --min-seconds S    measure each expression at least this long (default 1)
  --delivery D       resident, streamed or both (default both): the whole capture in memory,
                     or delivered 1024 packets at a time through one buffer as bpfvm filter
                     reads a file
)";

// Every engine on every expression for one delivery: prints a table; false on a mismatch.
bool run_table(const Packets& packets, Delivery delivery, double min_seconds);

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 1'000'000;
  std::string path = "/tmp/bpfvm-classic-bench.pcap";
  double min_seconds = 1.0;
  std::vector<Delivery> deliveries = {Delivery::resident, Delivery::streamed};
  for (int i = 1; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--help" || option == "-h") {
      fmt::print("{}", usage);
      return 0;
    }
    if (i + 1 >= argc) {
      fmt::print(stderr, "classic_bench: {} needs a value\n{}", option, usage);
      return 2;
    }
    const std::string value = argv[++i];
    char* end = nullptr;
    if (option == "--packets") {
      count = std::strtoull(value.c_str(), &end, 10);
      if (*end != '\0' || count == 0) {
        fmt::print(stderr, "classic_bench: --packets wants a positive count, not '{}'\n", value);
        return 2;
      }
    } else if (option == "--chunk") {
      chunk_packets = std::strtoull(value.c_str(), &end, 10);
      if (*end != '\0' || chunk_packets == 0) {
        fmt::print(stderr, "classic_bench: --chunk wants a positive count, not '{}'\n", value);
        return 2;
      }
    } else if (option == "--capture") {
      path = value;
    } else if (option == "--min-seconds") {
      min_seconds = std::strtod(value.c_str(), &end);
      if (*end != '\0' || !(min_seconds >= 0)) {
        fmt::print(stderr, "classic_bench: --min-seconds wants seconds, not '{}'\n", value);
        return 2;
      }
    } else if (option == "--delivery") {
      if (value == "resident")
        deliveries = {Delivery::resident};
      else if (value == "streamed")
        deliveries = {Delivery::streamed};
      else if (value != "both") {
        fmt::print(stderr, "classic_bench: --delivery is resident, streamed or both, not '{}'\n",
                   value);
        return 2;
      }
    } else {
      fmt::print(stderr, "classic_bench: unknown option {}\n{}", option, usage);
      return 2;
    }
  }
  if (!jit_supported()) {
    fmt::print(stderr, "the JIT engines need an x86-64 host\n");
    return 1;
  }
  Packets packets = capture_file(count, path);
  fmt::print("capture: {} packets, {:.1f} MB, {}\n", packets.frames.size(),
             static_cast<double>(packets.bytes.size()) / 1e6, path);
  int status = 0;
  for (Delivery delivery : deliveries)
    if (!run_table(packets, delivery, min_seconds)) status = 1;
  fmt::print(
      "\npackets per second, best pass of each engine, engines taking turns. 1 byte: a loop "
      "reading one byte per packet (the floor); jit-tr: the eBPF translation on the JIT "
      "alone; jit: Engine::jit (branch-free code for packets it takes, the translation for "
      "the rest), one Filter::run call per packet; jit-b: Engine::jit through "
      "Filter::run(span, span) on all the packets of a call, prefetching packet headers ahead; "
      "pcap-pf: libpcap's bpf_filter() in a loop prefetching the same way; b/pf: jit-b / "
      "pcap-pf. Resident: the whole capture in memory; streamed: {} packets at a time copied "
      "into one buffer before they are filtered, only the filtering timed. Ratios are per "
      "packet against libpcap's bpf_filter() in this run; targets: interp >= 1x, jit >= 5x\n",
      chunk_packets);
  return status;
}

namespace {

bool run_table(const Packets& packets, Delivery delivery, double min_seconds) {
  const char* expressions[] = {
      "tcp and port 80",
      "tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
      "(udp port 53 or tcp port 443 or ip6) and not net 10.0.0.0/8",
      "vlan 101 and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or icmp[icmptype] == icmp-echo",
  };
  fmt::print("\n{}\n",
             delivery == Delivery::resident
                 ? "resident: the whole capture in memory"
                 : "streamed: 1024 packets at a time through one buffer, as bpfvm filter reads");
  fmt::print(
      "{:<44} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} "
      "{:>6}\n",
      "expression (insns)", "match", "1 byte", "libpcap", "interp", "ebpf", "jit-tr", "jit",
      "jit-b", "pcap-pf", "interp", "jit-tr", "jit", "jit-b", "b/pf");
  bool ok = true;
  for (const char* expression : expressions) {
    auto insns = classic::compile(expression);
    if (!insns) {
      fmt::print(stderr, "{}: {}\n", expression, insns.error().to_string());
      return false;
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
      return false;
    }
    auto run_filter = [](const classic::Filter& filter) {
      return [&filter](const std::uint8_t* data, std::uint32_t caplen, std::uint32_t wire) {
        return filter.run(classic::Packet{{data, caplen}, wire, nullptr});
      };
    };
    auto count_verdicts = [](const View& v) {
      return static_cast<std::size_t>(
          std::count_if(v.verdicts.begin(), v.verdicts.end(), [](auto x) { return x != 0; }));
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
        Batch{[&](const View& v) {
          jit->run(v.batch, v.verdicts);
          return count_verdicts(v);
        }},
        Batch{[&](const View& v) {
          constexpr std::size_t ahead = 16;
          const std::size_t n = v.batch.size();
          for (std::size_t i = 0; i < n; ++i) {
            if (i + ahead < n) {
              __builtin_prefetch(v.batch[i + ahead].data.data());
              __builtin_prefetch(v.batch[i + ahead].data.data() + 63);
            }
            const classic::Packet& packet = v.batch[i];
            v.verdicts[i] = bpf_filter(code.data(), packet.data.data(), packet.wire_length,
                                       static_cast<u_int>(packet.data.size()));
          }
          return count_verdicts(v);
        }});
    std::vector<Measured> results = measure(packets, delivery, min_seconds, filters);
    const std::size_t expected = results[1].matches;
    for (std::size_t e = 2; e < results.size(); ++e) {
      if (results[e].matches != expected) {
        fmt::print(stderr, "MISMATCH on '{}': engine {} matches {}, libpcap {}\n", expression, e,
                   results[e].matches, expected);
        ok = false;
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
    std::fflush(stdout);
  }
  return ok;
}

}  // namespace
