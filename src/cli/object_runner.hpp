// What `bpfvm run OBJ` and `bpfvm map dump OBJ` share: load a clang-built object with Linux's
// helpers and the packet helpers of its program types, pick a program, run it on packets,
// and show maps as tables or JSON.
#pragma once

#include <bpfvm/jit.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/result.hpp>
#include <bpfvm/vm.hpp>

#include "cli/verify_report.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bpfvm::cli {

// Whether `bytes` start with the ELF magic: `bpfvm run` takes objects and bytecode alike.
bool is_elf(const std::vector<std::uint8_t>& bytes);

// The program named `name` (its function name, or its section name when unique), or the first
// program when `name` is empty. The error lists the programs there are.
Result<const ObjectProgram*> find_object_program(const ObjectSpec& spec, const std::string& name);

class LoadedObject {
 public:
  static Result<LoadedObject> load(const std::string& path);

  const Object& object() const { return *object_; }
  // find_object_program over the object's programs.
  Result<const ObjectProgram*> find_program(const std::string& name) const;
  // Verifies `program` as `bpfvm verify` does (verify_options_for).
  TimedVerification verify(const ObjectProgram& program) const;
  // Runs `program` on `packet` with the engine (a JIT is compiled once per program and kept),
  // with memory checks or, for a program the verifier accepted, without.
  Result<PacketRunOutput> run(const ObjectProgram& program, const std::vector<std::uint8_t>& packet,
                              Engine engine, MemoryMode memory_mode = MemoryMode::checked,
                              const Network* network = nullptr);

 private:
  std::unique_ptr<HelperRegistry> helpers_;
  std::unique_ptr<Object> object_;
  std::vector<std::unique_ptr<JitProgram>> jit_;  // parallel to the object's programs
};

// One run of a program of the object, as `run` and `map dump` ask for it.
struct ObjectRunRequest {
  std::string program;  // function or section name; empty: the first program
  std::string packet_file;
  std::string packet_hex;
  Engine engine = Engine::automatic;
  // Verify first: a program the verifier accepts runs unchecked, one it rejects runs checked
  // (with a note on stderr saying why). false (--no-verify): checked, not verified.
  bool verify = true;
  std::string network_file = {};  // the host network (Network::add_lines); empty: loopback
};
struct ObjectRun {
  const ObjectProgram* program = nullptr;
  std::vector<std::uint8_t> packet;  // as given
  PacketRunOutput output;
  std::optional<TimedVerification> verification;  // nothing: --no-verify
  MemoryMode memory_mode = MemoryMode::checked;   // what the run used
  std::shared_ptr<const Network> network = {};    // the run's network; null: loopback
  bool verified() const { return verification && verification->result.ok(); }
};
// The "verified" and "verify_error" fields `bpfvm run --json` adds.
void add_verification_json(nlohmann::json& out, const ObjectRun& run);
// Finds the program, verifies it (unless the request says not to), reads the packet and runs
// it once. On failure prints the error (prefixed
// with the file at fault) and sets `exit_status`: exit_bad_input, or exit_run_failed when the
// run itself failed.
std::optional<ObjectRun> run_once(LoadedObject& loaded, const std::string& object_path,
                                  const ObjectRunRequest& request, int& exit_status);

// Reads a Network::add_lines file over Network::loopback().
Result<std::shared_ptr<const Network>> read_network(const std::string& path);

// "XDP_PASS", "TC_ACT_SHOT", ... for a program type's return value; "" when it has no name.
std::string action_name(ProgramType type, std::uint64_t value);

// Every element of every map (or of the one named `only`), as rows of hex keys and values.
std::string maps_as_text(const Object& object, const std::string& only = "");
nlohmann::json maps_as_json(const Object& object, const std::string& only = "");

// The packet a command runs on: the bytes of `file`, or `hex` parsed, or (neither given) a
// zeroed 64-byte Ethernet frame (BPF_PROG_TEST_RUN needs at least 14 bytes).
Result<std::vector<std::uint8_t>> read_packet(const std::string& file, const std::string& hex);

}  // namespace bpfvm::cli
