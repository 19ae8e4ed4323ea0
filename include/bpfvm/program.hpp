// A loaded eBPF program: decoded, field-checked and pre-decoded for the engines.
#pragma once

#include <bpfvm/helper.hpp>
#include <bpfvm/insn.hpp>
#include <bpfvm/program_type.hpp>
#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace bpfvm {

class Map;

namespace detail {
struct Code;
}

struct LoadOptions {
  // Helpers that `call` and `callx` may reach. Null means no helpers. The registry is copied.
  const HelperRegistry* helpers = nullptr;
  // Reject programs longer than this many instruction slots.
  std::size_t max_insns = max_program_insns;
  // The program type: its context layout (and the kernel's context-access rewriting), the
  // helpers it may call.
  ProgramType type = ProgramType::raw;
  // The maps `lddw` pseudo sources name, like the fd table the kernel resolves them against:
  // src 1 (BPF_PSEUDO_MAP_FD) and 5 (BPF_PSEUDO_MAP_IDX) load maps[imm] itself; src 2
  // (BPF_PSEUDO_MAP_VALUE) and 6 (BPF_PSEUDO_MAP_IDX_VALUE) load the address of its value
  // plus the second slot's imm. The program keeps the maps alive.
  std::vector<std::shared_ptr<Map>> maps = {};
};

// Immutable once loaded; copies share the same code, and one program may run on many
// threads at once.
class Program {
 public:
  // Checks every field (RFC 9669: unused fields zero, registers valid, jump targets in range
  // and not inside lddw) and pre-decodes, binding each `call N` to helper N. Errors name the
  // instruction. A `call N` of an id the registry lacks loads, as Linux loads one its
  // verifier never reaches: the verifier refuses it where some path reaches it, and a run
  // that makes the call fails there (Error::Kind::helper, as callx of an unknown id).
  static Result<Program> load(std::span<const Insn> insns, const LoadOptions& options = {});
  // The same from raw little-endian bytes; the size must be a multiple of 8.
  static Result<Program> load_bytes(std::span<const std::uint8_t> bytes,
                                    const LoadOptions& options = {});

  std::span<const Insn> insns() const;
  std::size_t size() const { return insns().size(); }

  // Engine-facing form; not part of the stable API.
  const detail::Code& code() const { return *code_; }

 private:
  explicit Program(std::shared_ptr<const detail::Code> code) : code_(std::move(code)) {}
  std::shared_ptr<const detail::Code> code_;
};

// Splits raw bytes into instruction slots (little-endian); fails if not a multiple of 8.
Result<std::vector<Insn>> insns_from_bytes(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> bytes_from_insns(std::span<const Insn> insns);

}  // namespace bpfvm
