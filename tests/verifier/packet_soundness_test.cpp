// Soundness of the packet rules: mutants of the accepted xdp, sched_cls and socket_filter
// cases (tests/verifier/cases/*.txt) — an access moved or resized, a comparison turned or its
// operands swapped, a bounds constant changed, a jump retargeted — are verified; every mutant
// we accept must run in checked mode without a fault on packets of many lengths (a packet
// access outside the packet would fault), and, where the kernel's verifier is available, be
// accepted by Linux too.
#include "support/kernel_bpf.hpp"
#include "verifier/verify.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/progtypes.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

namespace bpfvm::verifier::testing {
namespace {

struct Seed {
  std::string name;
  ProgramType type = ProgramType::raw;
  std::vector<Insn> insns;
  bool linux_rejects = false;  // a documented difference (`@linux reject`): no kernel check
};

// The accepted cases of the types bpfvm can run on a packet.
std::vector<Seed> seeds() {
  std::vector<Seed> out;
  const auto dir = std::filesystem::path(BPFVM_TEST_DATA_DIR) / "verifier/cases";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".txt") continue;
    std::ifstream in(e.path());
    std::string line, name, source;
    ProgramType type = ProgramType::raw;
    bool accept = false, linux_rejects = false;
    auto flush = [&] {
      if (!name.empty() && accept && type != ProgramType::raw && program_type_supported(type)) {
        auto insns = assemble(source);
        if (insns) out.push_back({name, type, *insns, linux_rejects});
      }
      name.clear();
      source.clear();
      type = ProgramType::raw;
      accept = false;
      linux_rejects = false;
    };
    while (std::getline(in, line)) {
      if (line.rfind("==", 0) == 0) {
        flush();
        name = e.path().filename().string() + ": " + line.substr(3);
      } else if (line.rfind("@type ", 0) == 0) {
        type = program_type_from_name(line.substr(6)).value_or(ProgramType::raw);
      } else if (line.rfind("@expect ", 0) == 0) {
        accept = line.substr(8) == "accept";
      } else if (line == "@linux reject") {
        linux_rejects = true;
      } else if (line.rfind("@", 0) != 0 && !name.empty()) {
        source += line + "\n";
      }
    }
    flush();
  }
  return out;
}

// One random change of one instruction.
std::vector<Insn> mutate(std::vector<Insn> insns, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> pick(0, insns.size() - 1);
  for (int attempt = 0; attempt < 20; ++attempt) {
    Insn& i = insns[pick(rng)];
    const std::uint8_t cls = i.opcode & 0x07;
    const std::uint8_t mode = i.opcode & 0xe0;
    auto delta = [&](int span) { return static_cast<int>(rng() % (2 * span + 1)) - span; };
    if ((cls == 0x01 || cls == 0x02 || cls == 0x03) && mode == 0x60) {  // ldx, st, stx
      if (rng() % 2)
        i.offset = static_cast<std::int16_t>(i.offset + delta(4));
      else
        i.opcode = static_cast<std::uint8_t>((i.opcode & ~0x18) | ((rng() % 4) << 3));
      return insns;
    }
    if (cls == 0x05 && (i.opcode & 0xf0) != 0x00 && (i.opcode & 0xf0) != 0x80 &&
        (i.opcode & 0xf0) != 0x90) {                                          // a conditional jump
      static constexpr std::uint8_t conditions[] = {0x20, 0x30, 0xa0, 0xb0};  // gt ge lt le
      switch (rng() % 3) {
        case 0:
          i.opcode = static_cast<std::uint8_t>((i.opcode & 0x0f) | conditions[rng() % 4]);
          break;
        case 1:
          if ((i.opcode & 0x08) != 0) {
            const auto d = i.dst;
            i.dst = i.src;
            i.src = d;
          }
          break;
        default: i.offset = static_cast<std::int16_t>(i.offset + delta(1)); break;
      }
      return insns;
    }
    if (i.opcode == 0x07 && i.dst != 10) {  // add dst, imm: a bounds constant
      i.imm += delta(3);
      return insns;
    }
  }
  return insns;
}

TEST(VerifierPacketSoundness, MutantsOfTypedCasesRunCleanAndLinuxAgrees) {
  const auto all = seeds();
  ASSERT_GT(all.size(), 20u);
  const bool kernel = static_cast<bool>(bpfvm::test::kernel::probe());
  if (!kernel) std::cout << "no kernel verifier here: only the checked runs are compared\n";
  std::map<ProgramType, HelperRegistry> helpers;
  std::mt19937_64 rng(20261126);
  int only_linux = 0;
  int mutants = 0, accepted = 0, runs = 0, kernel_checked = 0, kernel_rejects = 0;
  constexpr int per_seed = 40;
  for (const Seed& seed : all) {
    auto [it, added] = helpers.try_emplace(seed.type);
    if (added) {
      ASSERT_TRUE(add_packet_helpers(it->second, seed.type));
    }
    for (int m = 0; m < per_seed; ++m) {
      std::vector<Insn> insns = mutate(seed.insns, rng);
      if (m % 4 == 3) insns = mutate(insns, rng);  // sometimes two changes
      ++mutants;
      VerifyOptions options;
      options.type = seed.type;
      options.helpers = &it->second;
      VerifyResult ours = verify(insns, options);
      if (!ours.ok()) {
        // Precision, reported: what Linux accepts and we reject.
        if (kernel && !seed.linux_rejects) {
          bpfvm::test::kernel::ProgLoadOptions kload;
          kload.type = static_cast<bpfvm::test::kernel::ProgType>(seed.type);
          kload.retry_with_log = false;
          if (bpfvm::test::kernel::load_program(insns, kload)) {
            if (++only_linux <= 3)
              std::cout << "Linux accepts, we reject: " << seed.name << ": "
                        << ours.error->to_string() << "\n";
          }
        }
        continue;
      }
      ++accepted;
      LoadOptions load;
      load.type = seed.type;
      load.helpers = &it->second;
      auto program = load_typed_program(insns, load);
      ASSERT_TRUE(program) << seed.name << ": " << program.error().to_string();
      for (std::size_t length : {14u, 15u, 20u, 34u, 35u, 60u, 100u, 1500u}) {
        std::vector<std::uint8_t> packet(length);
        for (std::size_t b = 0; b < length; ++b) packet[b] = static_cast<std::uint8_t>(rng());
        packet[12] = 0x88;  // not IPv4/IPv6: test_run would want their headers whole
        PacketRunInput input;
        input.type = seed.type;
        input.packet = packet;
        input.xdp.metadata_size = (length % 3 == 0) ? 8 : 0;
        RunOptions run;
        run.budget = 1'000'000;
        auto out = run_packet(*program, input, Engine::interpreter, run);
        if (!out && out.error().kind == Error::Kind::usage) continue;
        ++runs;
        EXPECT_TRUE(out) << seed.name << " mutant " << m << ", " << length
                         << "-byte packet: " << out.error().to_string();
      }
      if (kernel && !seed.linux_rejects) {
        bpfvm::test::kernel::ProgLoadOptions kload;
        kload.type = static_cast<bpfvm::test::kernel::ProgType>(seed.type);
        kload.retry_with_log = false;
        auto linux_verdict = bpfvm::test::kernel::load_program(insns, kload);
        ++kernel_checked;
        if (!linux_verdict) {
          ++kernel_rejects;
          ADD_FAILURE() << seed.name << " mutant " << m
                        << ": we accept, Linux rejects: " << linux_verdict.error().to_string();
        }
      }
    }
  }
  std::cout << all.size() << " typed seed cases, " << mutants << " mutants: " << accepted
            << " accepted, " << runs << " checked runs on packets without a fault; "
            << kernel_checked << " accepted mutants loaded into the kernel, " << kernel_rejects
            << " rejected there; " << only_linux << " mutants we reject are accepted by Linux\n";
}

// Bad input never crashes: every seed, mangled (random opcodes, registers, offsets and
// immediates in a few slots), verified as every program type the verifier describes and one
// it does not. A rejection must say why; what is accepted for xdp, socket_filter or
// sched_cls runs clean on a packet; ASan/UBSan builds check the rest.
TEST(VerifierPacketSoundness, EveryTypeSurvivesMangledPrograms) {
  const auto all = seeds();
  ASSERT_GT(all.size(), 20u);
  const ProgramType types[] = {
      ProgramType::xdp,          ProgramType::socket_filter,    ProgramType::sched_cls,
      ProgramType::sched_act,    ProgramType::cgroup_skb,       ProgramType::sk_skb,
      ProgramType::lwt_in,       ProgramType::lwt_xmit,         ProgramType::kprobe,
      ProgramType::tracepoint,   ProgramType::raw_tracepoint,   ProgramType::perf_event,
      ProgramType::sock_ops,     ProgramType::cgroup_sock_addr, ProgramType::cgroup_sock,
      ProgramType::cgroup_device};
  std::map<ProgramType, HelperRegistry> helpers;
  for (ProgramType t : types) ASSERT_TRUE(add_packet_helpers(helpers[t], t));
  std::mt19937_64 rng(7);
  int verified = 0, accepted = 0;
  for (const Seed& seed : all) {
    for (int m = 0; m < 30; ++m) {
      std::vector<Insn> insns = seed.insns;
      for (int k = 0; k < 3; ++k) {
        Insn& i = insns[rng() % insns.size()];
        switch (rng() % 4) {
          case 0: i.opcode = static_cast<std::uint8_t>(rng()); break;
          case 1:
            i.dst = static_cast<std::uint8_t>(rng() % 11);
            i.src = static_cast<std::uint8_t>(rng() % 11);
            break;
          case 2: i.offset = static_cast<std::int16_t>(static_cast<int>(rng() % 64) - 32); break;
          default: i.imm = static_cast<std::int32_t>(rng() % 256) - 128; break;
        }
      }
      for (ProgramType t : types) {
        VerifyOptions options;
        options.type = t;
        options.helpers = &helpers[t];
        options.budget = 20'000;
        const VerifyResult r = verify(insns, options);
        ++verified;
        if (!r.ok()) {
          EXPECT_FALSE(r.error->reason.empty());
          continue;
        }
        ++accepted;
        if (!program_type_supported(t)) continue;
        // What we accept runs clean (the mutation test above covers this at length).
        LoadOptions load;
        load.type = t;
        load.helpers = &helpers[t];
        auto program = load_typed_program(insns, load);
        ASSERT_TRUE(program) << program.error().to_string();
        std::vector<std::uint8_t> packet(60, 0x5a);
        PacketRunInput input;
        input.type = t;
        input.packet = packet;
        RunOptions run;
        run.budget = 1'000'000;
        auto out = run_packet(*program, input, Engine::interpreter, run);
        EXPECT_TRUE(out || out.error().kind == Error::Kind::usage) << out.error().to_string();
      }
    }
  }
  std::cout << verified << " mangled programs verified across " << std::size(types) << " types, "
            << accepted << " accepted\n";
}

}  // namespace
}  // namespace bpfvm::verifier::testing
