// Soundness and agreement with the kernel at scale (issue 6, "Against the kernel's
// verifier"): typed random programs (typed_random_program.hpp: xdp, socket_filter and
// sched_cls code with packet bounds checks, map lookups, loops, helper and local calls, some
// of it deliberately flawed) and mutants of them are verified by us and, where bpf(2) is
// allowed, loaded into the kernel with the same maps created there. Counted: what Linux
// accepts, how much of that we accept (precision, reported), and what we accept that Linux
// rejects (must be none). Every program we accept runs in checked mode with real maps and
// Linux's helpers on random packets of 0 to 1500 bytes: a fault there means we proved an
// unsafe program safe, and the test prints the seed, source and disassembly.
#include "support/kernel_bpf.hpp"
#include "verifier/case_maps.hpp"
#include "verifier/typed_random_program.hpp"
#include "verifier/verify.hpp"

#include <bpfvm/disassembler.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/progtypes.hpp>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>

namespace bpfvm::verifier::testing {
namespace {

namespace kernel = bpfvm::test::kernel;

struct Counts {
  int programs = 0, ours = 0, linux_accepts = 0, both = 0, ours_only = 0, runs = 0;
  int flawed = 0, flawed_accepted = 0;
};

class TypedSoundness {
 public:
  TypedSoundness() : specs_(typed_program_maps()) {
    for (ProgramType type :
         {ProgramType::xdp, ProgramType::sched_cls, ProgramType::socket_filter}) {
      HelperRegistry& r = helpers_[type];
      r = linux_helpers();
      auto ok = add_packet_helpers(r, type);
      EXPECT_TRUE(ok) << ok.error().to_string();
    }
    for (const MapSpec& spec : specs_) {
      auto map = Map::create(spec);
      EXPECT_TRUE(map) << map.error().to_string();
      if (!map) continue;
      // Hash entries for keys 0..9, so that lookups find values on some runs.
      if (spec.type == MapType::hash)
        for (std::uint64_t key = 0; key < 10; ++key) {
          std::vector<std::uint8_t> value(spec.value_size, static_cast<std::uint8_t>(key));
          (*map)->host_update(&key, value.data(), 0);
        }
      maps_.push_back(*map);
    }
    if (auto probe = kernel::probe(); probe) {
      for (const MapSpec& spec : specs_) {
        auto fd = kernel::create_map(static_cast<std::uint32_t>(spec.type), spec.key_size,
                                     spec.value_size, spec.max_entries);
        if (!fd) {
          std::cout << "kernel maps: " << fd.error().to_string() << "\n";
          fds_.clear();
          break;
        }
        fds_.push_back(std::move(*fd));
      }
    } else {
      std::cout << "no kernel verifier here (" << probe.error().to_string()
                << "): only our verdicts and the checked runs\n";
    }
  }

  bool kernel() const { return !fds_.empty(); }
  int tight_runs = 0;  // runs with the packet region cut to [data_meta, data_end)

  // What we reject and Linux accepts, by reason (digits dropped).
  const std::map<std::string, int>& linux_only() const { return linux_only_; }

  // Linux's verdict, with its log when asked.
  kernel::SysResult<kernel::Fd> linux_load(std::vector<Insn> insns, ProgramType type,
                                           bool with_log) const {
    for (std::size_t i = 0; i + 1 < insns.size(); ++i) {
      if (insns[i].opcode != 0x18) continue;
      if (insns[i].src == lddw_src::map_fd)
        insns[i].imm = insns[i].imm >= 0 && static_cast<std::size_t>(insns[i].imm) < fds_.size()
                           ? fds_[static_cast<std::size_t>(insns[i].imm)].get()
                           : -1;
      ++i;
    }
    kernel::ProgLoadOptions options;
    options.type = static_cast<kernel::ProgType>(type);
    options.retry_with_log = with_log;
    return kernel::load_program(insns, options);
  }

  void check(const std::vector<Insn>& insns, const TypedProgram& p, bool flawed, test::Rng& rng,
             Counts& counts) {
    ++counts.programs;
    counts.flawed += flawed;
    VerifyOptions options;
    options.type = p.type;
    options.helpers = &helpers_.at(p.type);
    options.maps = specs_;
    options.budget = 100'000;
    const VerifyResult ours = verify(insns, options);
    bool linux_ok = false;
    if (kernel()) {
      linux_ok = linux_load(insns, p.type, false).ok();
      counts.linux_accepts += linux_ok;
    }
    auto where = [&] {
      return fmt::format("seed {:#x} ({}{}):\n{}\n{}", p.seed, program_type_name(p.type),
                         flawed ? ", flawed or mutated" : "", p.source,
                         disassemble(insns, Syntax::llvm));
    };
    if (!ours.ok()) {
      if (linux_ok) {
        // Precision: the reason without its numbers, counted.
        std::string reason;
        for (char ch : ours.error->reason)
          if (!std::isdigit(static_cast<unsigned char>(ch))) reason += ch;
        if (++linux_only_[reason] == 1 && verbose_)
          std::cout << "Linux accepts, we reject: " << ours.error->to_string() << "\n"
                    << where() << "\n";
      }
      return;
    }
    ++counts.ours;
    counts.flawed_accepted += flawed;
    if (kernel()) {
      if (linux_ok) {
        ++counts.both;
      } else {
        auto log = linux_load(insns, p.type, true);
        const std::string why = log ? std::string("(accepted on retry)") : log.error().to_string();
        ++counts.ours_only;
        VerifyOptions lo = options;
        lo.log = true;
        ADD_FAILURE() << "we accept, Linux rejects: " << where() << "\n"
                      << why << "\nOURS:\n"
                      << verify(insns, lo).log;
      }
    }
    LoadOptions load;
    load.type = p.type;
    load.helpers = &helpers_.at(p.type);
    load.maps = maps_;
    // What we accept loads: in particular no instruction reaches the context on one path and
    // other memory on another (verify's "same insn cannot be used with different pointers",
    // Linux's rule), which load_typed_program could not rewrite.
    auto program = load_typed_program(insns, load);
    ASSERT_TRUE(program) << program.error().to_string() << "\n" << where();
    // xdp_adjust_head/tail/meta, skb_pull_data, skb_change_head/tail move the packet's bounds.
    bool moves_data = false;
    for (const Insn& in : insns)
      if (in.opcode == 0x85 && in.src == 0 &&
          (in.imm == 44 || in.imm == 65 || in.imm == 54 || in.imm == 39 || in.imm == 38 ||
           in.imm == 43))
        moves_data = true;
    for (int run = 0; run < 3; ++run) {
      const std::size_t length = rng.chance(50) ? rng.below(100) : rng.below(1501);
      std::vector<std::uint8_t> packet(length);
      for (auto& b : packet) b = static_cast<std::uint8_t>(rng.next());
      if (length > 12) packet[12] = 0x88;  // not IPv4/IPv6: test_run wants their headers whole
      PacketRunInput input;
      input.type = p.type;
      input.packet = packet;
      input.xdp.metadata_size = rng.chance(20) ? 8 : 0;
      RunOptions ro;
      ro.budget = 1'000'000;
      // run_packet admits the whole buffer (headroom and tailroom too, which programs reach
      // after moving data), so an access a few bytes past data_end would not fault. Programs
      // that cannot move data are run with the region cut to [data_meta, data_end) exactly:
      // then one byte past the proven range faults. The cut is checked against the packet's
      // bytes at the offset run_packet uses (XDP_PACKET_HEADROOM less the metadata, which
      // test_run takes from the headroom; NET_SKB_PAD + NET_IP_ALIGN), so a changed layout
      // shows as a failure, not as a weaker oracle.
      bool cut = false;
      const ProgramRunner runner = [&](const RunInput& in, const RunOptions& o) {
        RunOptions tight = o;
        if (!moves_data && p.type != ProgramType::socket_filter && !tight.regions.empty()) {
          MemoryRegion& r = tight.regions.back();
          const std::size_t head = p.type == ProgramType::xdp ? 256 - input.xdp.metadata_size : 64;
          const auto* start = static_cast<const std::uint8_t*>(r.base) + head;
          if (head + packet.size() <= r.size && std::equal(packet.begin(), packet.end(), start)) {
            r.base = start;
            r.size = packet.size();
            cut = true;
          }
        }
        return interpret(*program, in, tight);
      };
      auto out = run_packet(runner, input, ro);
      if (out && !moves_data && p.type != ProgramType::socket_filter) {
        EXPECT_TRUE(cut) << "the packet is not where run_packet put it before";
        tight_runs += cut;
      }
      if (!out && out.error().kind == Error::Kind::usage) continue;  // a packet test_run refuses
      ++counts.runs;
      ASSERT_TRUE(out) << "accepted program faulted on a " << length
                       << "-byte packet: " << out.error().to_string() << "\n"
                       << where();
    }
  }

 private:
  std::vector<MapSpec> specs_;
  std::vector<std::shared_ptr<Map>> maps_;
  std::map<ProgramType, HelperRegistry> helpers_;
  std::vector<kernel::Fd> fds_;
  std::map<std::string, int> linux_only_;
  // BPFVM_TYPED_VERBOSE=1 prints the first program of each reason.
  bool verbose_ = std::getenv("BPFVM_TYPED_VERBOSE") != nullptr;
};

void print(const char* what, const Counts& c, bool kernel) {
  std::cout << what << ": " << c.programs << " programs (" << c.flawed
            << " with a deliberate flaw), we accept " << c.ours << " (" << c.flawed_accepted
            << " flawed), " << c.runs << " checked packet runs without a fault\n";
  if (kernel)
    std::cout << "  Linux accepts " << c.linux_accepts << ", we accept " << c.both << " of those ("
              << (c.linux_accepts ? 100.0 * c.both / c.linux_accepts : 0.0) << "%); we accept "
              << c.ours_only << " that Linux rejects\n";
}

TEST(VerifierTypedSoundness, RandomTypedProgramsAndMutants) {
  const auto started = std::chrono::steady_clock::now();
  TypedSoundness harness;
  test::Rng rng(0x74797065736f756eULL);
  Counts generated, mutants;
  // 6,000 programs with the mutants in release builds; an eighth under the sanitizers, where
  // each verification costs about twenty times as much.
#ifdef NDEBUG
  const int count = 2000;
#else
  const int count = 250;
#endif
  for (int k = 0; k < count; ++k) {
    const TypedProgram p = generate_typed_program(0x7479'0000'0000'0000ULL + k);
    auto insns = assemble_case(p.source);
    ASSERT_TRUE(insns) << insns.error().to_string() << "\n" << p.source;
    harness.check(*insns, p, p.unsafe_choices > 0, rng, generated);
    if (::testing::Test::HasFatalFailure()) return;
    for (int m = 0; m < 2; ++m) {
      harness.check(mutate_typed_program(*insns, rng), p, true, rng, mutants);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  print("typed random programs", generated, harness.kernel());
  print("their mutants", mutants, harness.kernel());
  std::cout << "  " << harness.tight_runs
            << " of the runs with the packet region cut to [data_meta, data_end)\n";
  for (const auto& [reason, n] : harness.linux_only())
    std::cout << "  Linux accepts, we reject (" << n << "): " << reason << "\n";
  std::cout << "  in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms\n";
  EXPECT_EQ(generated.ours_only + mutants.ours_only, 0);
  // The generator's unflawed programs are meant to pass: most of them must.
  EXPECT_GT(generated.ours, (generated.programs - generated.flawed) * 9 / 10);
  EXPECT_LT(mutants.ours, mutants.programs);
}

}  // namespace
}  // namespace bpfvm::verifier::testing
