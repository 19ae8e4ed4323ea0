// What `bpfvm verify` and `bpfvm run` print about a verification: the verdict, the error
// (instruction, its disassembly, the reason, the registers involved), the statistics line,
// and the same as JSON.
#pragma once

#include <bpfvm/insn.hpp>
#include <bpfvm/verifier.hpp>

#include <nlohmann/json.hpp>

#include <span>
#include <string>

namespace bpfvm::cli {

struct TimedVerification {
  verifier::VerifyResult result;
  double seconds = 0;  // wall-clock time of verifier::verify
};

TimedVerification verify_timed(std::span<const Insn> insns, const verifier::VerifyOptions& options);

// "processed 42 insns, 5 states kept, 3 pruned, peak 2 pending, stack 16 bytes, 0.051 ms"
std::string stats_line(const TimedVerification& verification);

// {"verified", "error": {"insn", "disassembly", "reason", "registers", "message"} (when
// rejected), "stats": {...}, "time_ms", "log" (when the options asked for one)}.
nlohmann::json verification_json(const TimedVerification& verification);

}  // namespace bpfvm::cli
