// Each form of Engine::jit's branch-free code timed directly (not a test: timing never fails).
//
// classic_bench measures what a caller sees (Filter::run, which chooses a form from a sample
// of the traffic); this runs every form's batch loop (with and without its prefetches) and
// one-packet function on the bench's traffic, beside libpcap's bpf_filter() and Filter, so
// that the choice can be checked against the forms' real speeds. Two ways to feed packets:
//
//   repeat  the capture resident in memory, every engine over all of it, round after round
//           (as classic_bench does; a capture of a few thousand packets repeats often
//           enough for the branch predictor to learn part of it)
//   stream  the capture copied chunk by chunk into one 256 KB buffer, as read() or fread()
//           leave it, and every engine run on each chunk in turn while it is in the caches
//           (only the engines' time is counted); no packet is seen twice per round
//
//   classic_forms_bench [repeat|stream] [packets] [min-seconds] [expression index]
//
// ENGINES=name,name keeps only those columns (and libpcap); PLAIN=1 drops 802.1Q-tagged and
// ARP frames from the traffic, PLAIN=vlan only the tagged ones, PLAIN=arp only ARP (to see
// what the `vlan` filter's mispredictions cost). ASM=dir writes each filter's generated code
// (every form) to dir/filter-<index>.s. For programs with a dispatch on a field of 1 or 2
// bytes, `partition` is the partitioned batch loop prototype (partition_prototype.hpp) and
// `partition pass 1` its first pass reduced to finding each packet's exit (a lower bound).
#include <bpfvm/classic.hpp>
#include <bpfvm/jit.hpp>

#include "classic/branch_free.hpp"
#include "classic/vector_filter.hpp"
#include "partition_prototype.hpp"
#include "traffic.hpp"

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace bpfvm;
using Clock = std::chrono::steady_clock;
using Code = classic::detail::BranchFreeFilter;

constexpr std::size_t chunk_bytes = 256 * 1024;

const char* form_name(Code::Form form) {
  switch (form) {
    case Code::Form::straight: return "straight";
    case Code::Form::dispatched: return "dispatched";
    case Code::Form::branchy: return "branchy";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "repeat";
  const std::size_t count = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 4000;
  const double min_seconds = argc > 3 ? std::strtod(argv[3], nullptr) : 1.0;
  const int only = argc > 4 ? std::atoi(argv[4]) : -1;
  if (mode != "repeat" && mode != "stream") {
    fmt::print(stderr, "usage: classic_forms_bench [repeat|stream] [packets] [seconds] [index]\n");
    return 2;
  }
  if (!jit_supported()) {
    fmt::print(stderr, "the branch-free code needs an x86-64 host\n");
    return 1;
  }
  bench::Traffic traffic = bench::make_traffic(count, 2024);
  if (const char* plain = std::getenv("PLAIN")) {
    const bool tagged = std::strcmp(plain, "arp") != 0, arp = std::strcmp(plain, "vlan") != 0;
    std::vector<bench::Frame> kept;
    for (const bench::Frame& frame : traffic.frames) {
      const std::uint8_t* bytes = traffic.bytes.data() + frame.offset;
      if (!(tagged && bytes[12] == 0x81) && !(arp && bytes[12] == 0x08 && bytes[13] == 0x06))
        kept.push_back(frame);
    }
    traffic.frames = std::move(kept);
  }
  const std::size_t total = traffic.frames.size();
  // Chunks of whole frames: [first, end) frame indices.
  std::vector<std::pair<std::size_t, std::size_t>> chunks;
  if (mode == "stream") {
    for (std::size_t f = 0; f < total;) {
      const std::size_t first = f;
      std::size_t bytes = 0;
      while (f < total && (f == first || bytes + traffic.frames[f].length <= chunk_bytes))
        bytes += traffic.frames[f++].length;
      chunks.emplace_back(first, f);
    }
  } else {
    chunks.emplace_back(0, total);
  }
  std::size_t largest = 0;
  for (auto [first, end] : chunks) {
    std::size_t bytes = 0;
    for (std::size_t f = first; f < end; ++f) bytes += traffic.frames[f].length;
    largest = std::max(largest, bytes);
  }
  std::vector<std::uint8_t> buffer(largest);
  std::vector<classic::Packet> batch;
  std::vector<std::uint32_t> verdicts(total);
  auto load_chunk = [&](std::size_t c) {
    batch.clear();
    std::size_t at = 0;
    for (std::size_t f = chunks[c].first; f < chunks[c].second; ++f) {
      const bench::Frame frame = traffic.frames[f];
      std::memcpy(buffer.data() + at, traffic.bytes.data() + frame.offset, frame.length);
      batch.push_back({{buffer.data() + at, frame.length}, frame.length, nullptr});
      at += frame.length;
    }
  };
  fmt::print("{}: {} packets{}\n", mode, total,
             mode == "stream" ? fmt::format(" in {} chunks of at most 256 KB", chunks.size()) : "");

  const char* expressions[] = {
      "tcp and port 80",
      "tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
      "(udp port 53 or tcp port 443 or ip6) and not net 10.0.0.0/8",
      "vlan 101 and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or icmp[icmptype] == icmp-echo"};
  int status = 0;
  for (int e = 0; e < 4; ++e) {
    if (only >= 0 && e != only) continue;
    auto insns = classic::compile(expressions[e]);
    auto program = insns ? classic::Program::load(*insns) : Result<classic::Program>(insns.error());
    if (!program) {
      fmt::print(stderr, "{}: {}\n", expressions[e], program.error().to_string());
      return 1;
    }
    std::string listing;
    auto code = Code::compile(*program, &listing);
    if (const char* directory = std::getenv("ASM")) {
      if (std::FILE* file = std::fopen(fmt::format("{}/filter-{}.s", directory, e).c_str(), "w")) {
        std::fputs(listing.c_str(), file);
        std::fclose(file);
      }
    }
    auto batches = classic::Filter::create(*program, classic::Engine::jit);
    auto single = classic::Filter::create(*program, classic::Engine::jit);
    if (!code || !batches || !single) {
      fmt::print(stderr, "{}: not compiled\n", expressions[e]);
      return 1;
    }
    std::vector<bpf_insn> pcap_code;
    for (const auto& insn : *insns) pcap_code.push_back({insn.code, insn.jt, insn.jf, insn.k});
    fmt::print("{} ({} insns)\n", expressions[e], insns->size());

    std::vector<std::pair<std::string, std::function<std::size_t()>>> engines;
    engines.emplace_back("libpcap", [&] {
      std::size_t matches = 0;
      for (const classic::Packet& p : batch)
        matches += bpf_filter(pcap_code.data(), p.data.data(), p.wire_length,
                              static_cast<u_int>(p.data.size())) != 0;
      return matches;
    });
    for (Code::Form form : {Code::Form::straight, Code::Form::dispatched, Code::Form::branchy}) {
      const Code::Loop loop = code->loop(form);
      if (loop == nullptr) continue;
      for (bool prefetch : {true, false}) {
        engines.emplace_back(
            fmt::format("loop {}{}", form_name(form), prefetch ? "" : " nopf"),
            [&, loop, prefetch] {
              const classic::Packet* first = batch.data();
              const std::size_t n = batch.size();
              const classic::Packet* end = first + n;
              const classic::Packet* prefetch_end =
                  prefetch && n > classic::detail::loop_prefetch_ahead
                      ? end - classic::detail::loop_prefetch_ahead
                      : first;
              // Packets the loop does not take (shorter than min_caplen) are counted as rejected.
              for (std::size_t i = 0; i < n;) {
                i = static_cast<std::size_t>(
                    loop(first + i, end, verdicts.data() + i, prefetch_end) - first);
                if (i < n) verdicts[i++] = 0;
              }
              return static_cast<std::size_t>(
                  std::count_if(verdicts.begin(), verdicts.begin() + static_cast<long>(n),
                                [](std::uint32_t v) { return v != 0; }));
            });
      }
      const Code::Entry entry = code->entry(form);
      engines.emplace_back(fmt::format("function {}", form_name(form)), [&, entry] {
        std::size_t matches = 0;
        for (const classic::Packet& p : batch)
          matches += p.data.size() >= code->min_caplen() &&
                     entry(p.data.data(), p.data.size(), p.wire_length) != 0;
        return matches;
      });
    }
    std::string vector_listing;
    auto vector = classic::detail::VectorFilter::compile(
        *program, std::getenv("ASM") != nullptr ? &vector_listing : nullptr);
    if (!vector) fmt::print("  (vector code: {})\n", vector.error().to_string());
    if (const char* directory = std::getenv("ASM"); directory != nullptr && vector) {
      if (std::FILE* file = std::fopen(fmt::format("{}/vector-{}.s", directory, e).c_str(), "w")) {
        std::fputs(vector_listing.c_str(), file);
        std::fclose(file);
      }
    }
    if (vector) {
      engines.emplace_back("loop vector", [&] {
        const classic::Packet* first = batch.data();
        const std::size_t n = batch.size();
        const classic::Packet* end = first + n;
        const Code::Entry branchy = code->entry(Code::Form::branchy);
        // The packets the vector code leaves (a group with a short packet, the last partial
        // group) go through the branchy function; shorter than its min_caplen, rejected.
        for (std::size_t i = 0; i < n;) {
          i = static_cast<std::size_t>(vector->loop()(first + i, end, verdicts.data() + i, end) -
                                       first);
          for (const std::size_t stop = std::min(n, i + classic::detail::VectorFilter::lanes);
               i < stop; ++i) {
            const classic::Packet& p = batch[i];
            verdicts[i] = p.data.size() >= code->min_caplen()
                              ? branchy(p.data.data(), p.data.size(), p.wire_length)
                              : 0;
          }
        }
        return static_cast<std::size_t>(std::count_if(verdicts.begin(),
                                                      verdicts.begin() + static_cast<long>(n),
                                                      [](std::uint32_t v) { return v != 0; }));
      });
    }
    if (auto prototype = bench::PartitionPrototype::make(*program, *code)) {
      for (bool exit_only : {false, true}) {
        prototype->set_exit_only(exit_only);
        engines.emplace_back(
            exit_only ? "partition pass 1" : "partition", [&, prototype = *prototype] {
              prototype.run(batch, verdicts.data());
              return static_cast<std::size_t>(std::count_if(
                  verdicts.begin(), verdicts.begin() + static_cast<long>(batch.size()),
                  [](std::uint32_t v) { return v != 0; }));
            });
      }
    }
    engines.emplace_back("Filter batches", [&] {
      batches->run(batch, std::span(verdicts).first(batch.size()));
      return static_cast<std::size_t>(
          std::count_if(verdicts.begin(), verdicts.begin() + static_cast<long>(batch.size()),
                        [](std::uint32_t v) { return v != 0; }));
    });
    engines.emplace_back("Filter per packet", [&] {
      std::size_t matches = 0;
      for (const classic::Packet& p : batch) matches += single->run(p) != 0;
      return matches;
    });
    if (const char* keep = std::getenv("ENGINES")) {
      std::erase_if(engines, [&](const auto& engine) {
        return engine.first != "libpcap" && std::strstr(keep, engine.first.c_str()) == nullptr;
      });
    }

    std::vector<double> best(engines.size(), 1e300);
    std::vector<std::size_t> matches(engines.size());
    const auto start = Clock::now();
    for (int round = 0;; ++round) {
      std::vector<double> nanoseconds(engines.size(), 0);
      std::vector<std::size_t> found(engines.size(), 0);
      for (std::size_t c = 0; c < chunks.size(); ++c) {
        if (mode == "stream" || round == 0) load_chunk(c);
        // Engines take turns, starting from a different one each chunk and round.
        for (std::size_t k = 0; k < engines.size(); ++k) {
          const std::size_t j = (k + c + static_cast<std::size_t>(round)) % engines.size();
          const auto t0 = Clock::now();
          found[j] += engines[j].second();
          nanoseconds[j] += std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
        }
      }
      for (std::size_t j = 0; j < engines.size(); ++j) {
        best[j] = std::min(best[j], nanoseconds[j] / static_cast<double>(total));
        matches[j] = found[j];
      }
      if (round >= 2 && std::chrono::duration<double>(Clock::now() - start).count() >= min_seconds)
        break;
    }
    {
      // The cost model's choice on a profile of one packet in 64 of the last chunk.
      Code::FormProfile profile;
      for (std::size_t i = 0; i < batch.size(); i += 64)
        if (batch[i].data.size() >= code->min_caplen()) code->profile(batch[i], profile);
      fmt::print("  chosen: {} (in the caches), {} (out of them)\n",
                 form_name(code->choose(profile, false)), form_name(code->choose(profile, true)));
    }
    for (std::size_t j = 0; j < engines.size(); ++j) {
      // (The partition's pass 1 alone gives no verdicts: timing only.)
      if (engines[j].first == "partition pass 1") {
        fmt::print("  {:<22} {:7.2f} ns {:6.2f}x  (no verdicts)\n", engines[j].first, best[j],
                   best[0] / best[j]);
        continue;
      }
      const bool same = matches[j] == matches[0];
      if (!same) status = 1;
      fmt::print("  {:<22} {:7.2f} ns {:6.2f}x  {} matches{}\n", engines[j].first, best[j],
                 best[0] / best[j], matches[j], same ? "" : "  MISMATCH");
    }
  }
  fmt::print(
      "\nns per packet, best round of each engine; ratios against libpcap's bpf_filter(). loop: "
      "a form's generated batch loop (nopf: told not to prefetch); function: its one-packet "
      "function in a C++ loop; Filter batches: Filter::run(span, span) per chunk (it chooses "
      "the form); Filter per packet: Filter::run(packet)\n");
  return status;
}
