// Every object of ebpf-samples (../shared/anchors/ebpf-samples) through the loader: it parses
// and its programs load, or it is rejected with one error. Prints a table per folder.
//
// Fails on: a crash; an object outside invalid/ that does not parse, unless it is one of the
// known rejections below (each for a feature bpfvm does not support, with its reason); a parsed
// program whose relocated form breaks the invariants of spec_checks.hpp or that the ISA
// decoder refuses ("loaded" counts those that pass both). The "full load" column runs the
// whole load as Object::load does (test-double maps, Linux's helpers and the packet helpers,
// context rewriting for the types bpfvm has contexts for); what fails there is a helper or a
// program type bpfvm does not provide yet, so it is reported, not asserted.
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/progtypes.hpp>

#include "isa/decoder.hpp"
#include "loader/fake_maps.hpp"
#include "loader/spec_checks.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <string>

namespace bpfvm {
namespace {

namespace fs = std::filesystem;

// Objects bpfvm rejects on purpose, and the words their error must contain.
const std::map<std::string, std::string> known_rejections{
    // ebpf-samples marks them reject / reject_load: calls to functions not in the object.
    {"build/badrelo.o", "calls a function that is not in the object"},
    {"build/externalfunction.o", "calls a function that is not in the object"},
    // Falco's probe calls memset, left undefined by clang: no Linux loader can load it either.
    {"falco/probe.o", "against 'memset': calls a function that is not in the object"},
};

// The message with names and numbers blanked, so that like errors group together.
std::string reason_of(const std::string& message) {
  std::string reason;
  for (std::size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    if (c == '\'') {
      std::size_t end = message.find('\'', i + 1);
      if (end == std::string::npos) end = message.size() - 1;
      reason += "'…'";
      i = end;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i + 1 < message.size() && std::isalnum(static_cast<unsigned char>(message[i + 1])))
        ++i;
      reason += 'N';
    } else {
      reason += c;
    }
  }
  return reason;
}

struct Row {
  std::size_t objects = 0, parsed = 0, rejected = 0, programs = 0, loaded = 0, full_load = 0;
  std::map<std::string, std::size_t> rejections;
  std::map<std::string, std::size_t> full_load_errors;
};

TEST(LoaderCorpusTest, EbpfSamples) {
  fs::path root = fs::path(BPFVM_ANCHORS_DIR) / "ebpf-samples";
  if (!fs::is_directory(root)) GTEST_SKIP() << "no corpus at " << root;
  std::map<std::string, Row> rows;
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    fs::path relative = fs::relative(entry.path(), root);
    std::string ext = entry.path().extension().string();
    if (relative.begin() == relative.end() || std::next(relative.begin()) == relative.end())
      continue;  // README, SHA256SUMS, expected-prevail.tsv at the top
    if (ext == ".asm" || ext == ".json") continue;  // text references, not objects
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());

  for (const fs::path& path : files) {
    std::string relative = fs::relative(path, root).string();
    std::string folder = relative.substr(0, relative.find('/'));
    bool invalid = folder == "invalid";
    Row& row = rows[folder];
    ++row.objects;
    auto spec = ObjectSpec::parse_file(path.string());
    auto known = known_rejections.find(relative);
    if (!spec) {
      ++row.rejected;
      ++row.rejections[reason_of(spec.error().message)];
      if (known != known_rejections.end())
        EXPECT_NE(spec.error().message.find(known->second), std::string::npos)
            << relative << ": " << spec.error().message;
      else
        EXPECT_TRUE(invalid) << relative << " should load: " << spec.error().message;
      continue;
    }
    EXPECT_EQ(known, known_rejections.end()) << relative << " was expected to be rejected";
    ++row.parsed;
    if (auto problem = testing::check_spec(*spec)) ADD_FAILURE() << relative << ": " << *problem;

    testing::FakeMapFactory factory;
    HelperRegistry helpers = linux_helpers();
    for (ProgramType type : {ProgramType::xdp, ProgramType::sched_cls, ProgramType::socket_filter})
      (void)add_packet_helpers(helpers, type);
    auto make_map = factory.factory();
    std::vector<std::shared_ptr<Map>> maps;
    for (const ObjectMap& map : spec->maps) maps.push_back(*make_map(map));
    for (const ObjectProgram& program : spec->programs) {
      ++row.programs;
      auto decoded = decode(program.insns);
      if (decoded) {
        ++row.loaded;
      } else {
        std::string message = decoded.error().to_string();
        ++row.rejections["decode: " + reason_of(message)];
        EXPECT_TRUE(invalid) << relative << " " << program.name << ": " << message;
      }
      LoadOptions options;
      options.type = program.type;
      options.maps = maps;
      options.helpers = &helpers;
      auto loaded = program_type_supported(program.type)
                        ? load_typed_program(program.insns, options)
                        : Program::load(program.insns, options);
      if (loaded)
        ++row.full_load;
      else
        ++row.full_load_errors[reason_of(loaded.error().message)];
    }
  }

  fmt::print("\n{:<18} {:>7} {:>7} {:>8} {:>8} {:>7} {:>12}\n", "folder", "objects", "parsed",
             "rejected", "programs", "loaded", "full load");
  Row total;
  for (const auto& [folder, row] : rows) {
    fmt::print("{:<18} {:>7} {:>7} {:>8} {:>8} {:>7} {:>12}\n", folder, row.objects, row.parsed,
               row.rejected, row.programs, row.loaded, row.full_load);
    total.objects += row.objects;
    total.parsed += row.parsed;
    total.rejected += row.rejected;
    total.programs += row.programs;
    total.loaded += row.loaded;
    total.full_load += row.full_load;
    for (const auto& [reason, count] : row.full_load_errors)
      total.full_load_errors[reason] += count;
  }
  fmt::print("{:<18} {:>7} {:>7} {:>8} {:>8} {:>7} {:>12}\n", "total", total.objects, total.parsed,
             total.rejected, total.programs, total.loaded, total.full_load);
  for (const auto& [folder, row] : rows)
    for (const auto& [reason, count] : row.rejections)
      fmt::print("  rejected {}: {} x {}\n", folder, count, reason);
  for (const auto& [reason, count] : total.full_load_errors)
    fmt::print("  full load: {} x {}\n", count, reason);
}

}  // namespace
}  // namespace bpfvm
