// bpfvm object show, run as a user runs it, on objects built from tests/bpf. The library's
// ObjectSpec is the oracle for what the command prints.
#include "support/cli_fixture.hpp"

#include <bpfvm/object.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using Outcome = bpfvm::test::CliOutcome;

std::string object(const std::string& name) {
  return std::string(BPFVM_BPF_OBJECTS_DIR) + "/" + name + ".o";
}

class ObjectCommandTest : public bpfvm::test::CliFixture {};

TEST_F(ObjectCommandTest, Help) {
  Outcome top = bpfvm("--help");
  EXPECT_NE(top.out.find("object"), std::string::npos);
  Outcome object_help = bpfvm("object --help");
  EXPECT_EQ(object_help.status, 0);
  EXPECT_NE(object_help.out.find("show"), std::string::npos);
  Outcome show_help = bpfvm("object show --help");
  EXPECT_EQ(show_help.status, 0);
  EXPECT_NE(show_help.out.find("Usage"), std::string::npos);
  EXPECT_NE(show_help.out.find("--json"), std::string::npos);
  EXPECT_EQ(bpfvm("object").status, 2);  // a subcommand is required
}

TEST_F(ObjectCommandTest, ListsProgramsWithSectionTypeAndInstructionCount) {
  Outcome outcome = bpfvm("object show " + object("subprograms"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  auto spec = bpfvm::ObjectSpec::parse_file(object("subprograms"));
  ASSERT_TRUE(spec.ok());
  EXPECT_NE(outcome.out.find("license: GPL\n"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("programs: 9\n"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("maps: 0\n"), std::string::npos) << outcome.out;
  std::size_t insns = spec->program("xdp_drop")->insns.size();
  std::string row = "  xdp_drop";
  std::size_t at = outcome.out.find(row);
  ASSERT_NE(at, std::string::npos) << outcome.out;
  std::string line = outcome.out.substr(at, outcome.out.find('\n', at) - at);
  EXPECT_NE(line.find(" xdp "), std::string::npos) << line;
  EXPECT_NE(line.find(" " + std::to_string(insns)), std::string::npos) << line;
  EXPECT_NE(outcome.out.find("call       square"), std::string::npos) << outcome.out;
}

TEST_F(ObjectCommandTest, ListsMapsAndRelocations) {
  Outcome outcome = bpfvm("object show " + object("globals"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("maps: 5\n"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find(".rodata.str1.1"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("map_value  .bss+8"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("0x80  data"), std::string::npos) << outcome.out;  // rdonly_prog
}

TEST_F(ObjectCommandTest, JsonMatchesTheLibrary) {
  Outcome outcome = bpfvm("object show --json " + object("btf_maps"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  auto json = nlohmann::json::parse(outcome.out);
  auto spec = bpfvm::ObjectSpec::parse_file(object("btf_maps"));
  ASSERT_TRUE(spec.ok());
  ASSERT_EQ(json["programs"].size(), spec->programs.size());
  for (std::size_t i = 0; i < spec->programs.size(); ++i) {
    EXPECT_EQ(json["programs"][i]["name"], spec->programs[i].name);
    EXPECT_EQ(json["programs"][i]["section"], spec->programs[i].section);
    EXPECT_EQ(json["programs"][i]["insns"], spec->programs[i].insns.size());
    EXPECT_EQ(json["programs"][i]["relocations"].size(), spec->programs[i].relocations.size());
  }
  EXPECT_EQ(json["programs"][1]["type"], "xdp");
  ASSERT_EQ(json["maps"].size(), spec->maps.size());
  for (std::size_t i = 0; i < spec->maps.size(); ++i) {
    EXPECT_EQ(json["maps"][i]["name"], spec->maps[i].name);
    EXPECT_EQ(json["maps"][i]["key_size"], spec->maps[i].spec.key_size);
    EXPECT_EQ(json["maps"][i]["value_size"], spec->maps[i].spec.value_size);
    EXPECT_EQ(json["maps"][i]["max_entries"], spec->maps[i].spec.max_entries);
    EXPECT_EQ(json["maps"][i]["flags"], spec->maps[i].spec.flags);
  }
  auto outer = std::find_if(json["maps"].begin(), json["maps"].end(),
                            [](const auto& map) { return map["name"] == "outer"; });
  ASSERT_NE(outer, json["maps"].end());
  EXPECT_EQ((*outer)["type"], "array_of_maps");
  EXPECT_EQ((*outer)["inner"]["type"], "array");
  auto counters = std::find_if(json["maps"].begin(), json["maps"].end(),
                               [](const auto& map) { return map["name"] == "counters"; });
  EXPECT_EQ((*counters)["pinning"], "by_name");
}

TEST_F(ObjectCommandTest, MalformedObjectIsOneErrorLine) {
  std::ofstream(dir_ / "junk.o") << "not an object";
  Outcome outcome = bpfvm("object show " + (dir_ / "junk.o").string());
  EXPECT_EQ(outcome.status, 2);
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(outcome.err, "bpfvm: error: " + (dir_ / "junk.o").string() + ": not an ELF file\n");
  Outcome missing = bpfvm("object show " + (dir_ / "missing.o").string());
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos) << missing.err;
}

}  // namespace
