// Verifier cases as data: every file in tests/verifier/cases/*.txt holds cases in the format
// docs/verifier.md describes (`== name`, `@expect accept|reject`, `@error substring`,
// `@at N`, `@context SIZE`, `@budget N`, `@linux accept|reject`, `@type NAME`, `@attach N`,
// then the program in the assembler's syntax). Each case is verified and its verdict, message
// and instruction compared; accepted programs are also run in checked mode to show the verdict
// is not vacuous: raw ones on memory of the context's size, xdp, socket_filter and sched_cls
// ones on packets of 0, 14, 60 and 1500 bytes (those the run harness accepts).
#include "verifier/case_helpers.hpp"
#include "verifier/case_maps.hpp"
#include "verifier/verify.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/builtin_helpers.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/progtypes.hpp>
#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace bpfvm::verifier::testing {
namespace {

struct Case {
  std::string file;
  int line = 0;
  std::string name;
  bool accept = true;
  bool has_expect = false;
  std::string error;
  std::optional<std::size_t> at;
  std::optional<std::size_t> context;
  std::optional<std::uint64_t> budget;
  ProgramType type = ProgramType::raw;
  std::uint32_t attach = 0;
  CaseMaps maps;  // @map, @contents, @helpers (case_maps.hpp)
  std::string parse_error;
  std::string source;
};

std::vector<Case> load_cases() {
  std::vector<Case> cases;
  const std::filesystem::path dir = std::filesystem::path(BPFVM_TEST_DATA_DIR) / "verifier/cases";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.rfind("==", 0) == 0) {
        Case c;
        c.file = path.filename().string();
        c.line = number;
        c.name = line.substr(line.find_first_not_of("= "));
        cases.push_back(std::move(c));
        continue;
      }
      if (cases.empty() || cases.back().file != path.filename().string()) continue;
      Case& c = cases.back();
      if (auto directive = parse_map_directive(line, c.maps); !directive) {
        c.parse_error = directive.error().to_string();
      } else if (*directive) {
      } else if (line.rfind("@expect ", 0) == 0) {
        c.has_expect = true;
        c.accept = line.substr(8) == "accept";
      } else if (line.rfind("@error ", 0) == 0) {
        c.error = line.substr(7);
      } else if (line.rfind("@at ", 0) == 0) {
        c.at = std::stoul(line.substr(4));
      } else if (line.rfind("@linux ", 0) == 0) {
        // The kernel's verdict where it differs (program_cases_kernel_test.cpp).
      } else if (line.rfind("@budget ", 0) == 0) {
        c.budget = std::stoull(line.substr(8));
      } else if (line.rfind("@type ", 0) == 0) {
        auto type = program_type_from_name(line.substr(6));
        if (!type) throw std::runtime_error(c.file + ": unknown program type " + line);
        c.type = *type;
      } else if (line.rfind("@attach ", 0) == 0) {
        c.attach = static_cast<std::uint32_t>(std::stoul(line.substr(8)));
      } else if (line.rfind("@context ", 0) == 0) {
        c.context = std::stoul(line.substr(9));
      } else {
        c.source += line + "\n";
      }
    }
  }
  return cases;
}

HelperRegistry with_builtins(HelperRegistry registry) {
  auto ok = add_builtin_helpers(registry);
  EXPECT_TRUE(ok) << ok.error().to_string();
  return registry;
}

// The helpers a typed case may call: the packet helpers its type may call, with Linux's ids.
const HelperRegistry& typed_helpers(ProgramType type) {
  static std::map<ProgramType, HelperRegistry> registries;
  auto [it, added] = registries.try_emplace(type);
  if (added) {
    auto ok = add_packet_helpers(it->second, type);
    EXPECT_TRUE(ok) << ok.error().to_string();
    ok = add_builtin_helpers(it->second);  // builtins.txt
    EXPECT_TRUE(ok) << ok.error().to_string();
  }
  return it->second;
}

// An accepted xdp, socket_filter or sched_cls case runs in checked mode without a fault on
// packets of several lengths (those the harness refuses, as test_run would, are skipped).
void run_on_packets(const Case& c, std::span<const Insn> insns, int& runs) {
  LoadOptions load;
  load.type = c.type;
  load.helpers = &typed_helpers(c.type);
  auto program = load_typed_program(insns, load);
  ASSERT_TRUE(program) << program.error().to_string();
  for (std::size_t length : {0u, 14u, 60u, 1500u}) {
    std::vector<std::uint8_t> packet(length, 0x5a);
    for (std::size_t i = 12; i < std::min<std::size_t>(length, 14); ++i) packet[i] = 0x88;
    PacketRunInput input;
    input.type = c.type;
    input.packet = packet;
    RunOptions run;
    run.budget = 10'000'000;
    auto out = run_packet(*program, input, Engine::interpreter, run);
    if (!out && out.error().kind == Error::Kind::usage) continue;  // a packet test_run refuses
    ++runs;
    EXPECT_TRUE(out) << length << "-byte packet: " << out.error().to_string();
  }
}

TEST(VerifierCases, EveryCaseHasItsVerdict) {
  const auto cases = load_cases();
  ASSERT_GT(cases.size(), 0u);
  // Every registry has bpfvm's built-ins too (builtins.txt).
  const HelperRegistry test_helpers = with_builtins(case_helpers());
  const HelperRegistry real_helpers = with_builtins(linux_helpers());
  int accepted = 0, rejected = 0, typed_accepted = 0, packet_runs = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file + ":" + std::to_string(c.line) + " " + c.name);
    ASSERT_TRUE(c.has_expect) << "case without @expect";
    ASSERT_TRUE(c.accept || !c.error.empty()) << "a reject case needs @error";
    ASSERT_TRUE(c.parse_error.empty()) << c.parse_error;
    auto insns = assemble_case(c.source);
    ASSERT_TRUE(insns) << insns.error().to_string();
    // Cases with maps call the real Linux-numbered helpers, the others the test helpers.
    const HelperRegistry& helpers = c.maps.linux_helpers ? real_helpers : test_helpers;
    VerifyOptions options;
    options.context_size = c.context;
    options.helpers = &helpers;
    options.type = c.type;
    options.expected_attach_type = c.attach;
    if (c.type != ProgramType::raw) options.helpers = &typed_helpers(c.type);
    options.maps = c.maps.specs;
    options.map_contents = c.maps.contents;
    options.linux_prototypes = c.maps.linux_prototypes;
    if (c.budget) options.budget = *c.budget;
    const auto started = std::chrono::steady_clock::now();
    VerifyResult r = verify(*insns, options);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    if (ms > 100)
      std::cout << c.file << ":" << c.line << " " << c.name << ": " << ms << " ms, "
                << r.stats.insns_processed << " insns\n";
    if (r.ok() != c.accept) {  // again with the log, to show why
      options.log = true;
      r = verify(*insns, options);
    }
    if (c.accept) {
      ++accepted;
      EXPECT_TRUE(r.ok()) << r.error->to_string() << "\n" << r.log;
      if (!r.ok()) continue;
      // Helpers bpfvm does not implement cannot run: the kernel comparison checks these.
      if (c.maps.linux_prototypes) continue;
      if (c.type != ProgramType::raw) {
        ++typed_accepted;
        if (program_type_supported(c.type)) run_on_packets(c, *insns, packet_runs);
        continue;
      }
      // An accepted program runs without a fault on a context of the declared size.
      LoadOptions load;
      load.helpers = &helpers;
      auto maps = create_maps(c.maps);
      ASSERT_TRUE(maps) << maps.error().to_string();
      load.maps = *maps;
      auto program = Program::load(*insns, load);
      ASSERT_TRUE(program) << program.error().to_string();
      std::vector<std::uint8_t> memory(c.context.value_or(0) + 1, 0x5a);
      RunInput input = RunInput::raw(std::span(memory).first(c.context.value_or(0)));
      RunOptions run;
      run.budget = 10'000'000;
      auto ran = interpret(*program, input, run);
      EXPECT_TRUE(ran) << ran.error().to_string();
    } else {
      ++rejected;
      EXPECT_FALSE(r.ok()) << "accepted:\n" << r.log;
      if (r.ok()) continue;
      EXPECT_NE(r.error->to_string().find(c.error), std::string::npos)
          << "message: " << r.error->to_string() << "\nexpected: " << c.error;
      if (c.at) {
        EXPECT_EQ(r.error->insn, *c.at) << r.error->to_string();
      }
    }
  }
  std::cout << cases.size() << " verifier cases: " << accepted << " safe, " << rejected
            << " unsafe\n"
            << typed_accepted << " typed cases accepted, " << packet_runs
            << " packet runs of them in checked mode\n";
}

// Mutants of the accepted cases with maps: every memory access moved by a few bytes, every
// `mov rX, imm` changed a little (sizes, counts, offsets), every conditional jump's
// immediate changed. What the verifier accepts of them must run in checked mode, with real
// maps and helpers, without a fault: the memory rules for map values, keys and records are
// then not only right on the hand-written cases but around them.
TEST(VerifierCases, MapCaseMutantsAreRejectedOrRunClean) {
  const HelperRegistry helpers = with_builtins(linux_helpers());
  int mutants = 0, accepted = 0;
  for (const Case& c : load_cases()) {
    if (!c.accept || !c.maps.linux_helpers) continue;
    auto original = assemble_case(c.source);
    ASSERT_TRUE(original) << c.name;
    VerifyOptions options;
    options.helpers = &helpers;
    options.maps = c.maps.specs;
    options.map_contents = c.maps.contents;
    options.budget = 200'000;
    auto try_mutant = [&](const std::vector<Insn>& insns, const std::string& what) {
      ++mutants;
      if (!verify(insns, options).ok()) return;
      ++accepted;
      LoadOptions load;
      load.helpers = &helpers;
      auto maps = create_maps(c.maps);
      ASSERT_TRUE(maps);
      load.maps = *maps;
      auto program = Program::load(insns, load);
      if (!program) return;  // e.g. a direct value offset moved past the value
      std::vector<std::uint8_t> memory(1, 0);
      RunInput input = RunInput::raw(std::span(memory).first(0));
      RunOptions run;
      run.budget = 10'000'000;
      auto ran = interpret(*program, input, run);
      EXPECT_TRUE(ran) << c.file << ":" << c.line << " " << c.name << ", " << what << ": "
                       << ran.error().to_string();
    };
    for (const auto& [m, what] : case_mutants(*original)) try_mutant(m, what);
  }
  std::cout << mutants << " mutants of the map cases, " << accepted
            << " accepted and run clean in checked mode\n";
  EXPECT_GT(accepted, 100);
}

}  // namespace
}  // namespace bpfvm::verifier::testing
