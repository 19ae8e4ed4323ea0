#include "cli/verify_report.hpp"

#include <fmt/format.h>

#include <chrono>

namespace bpfvm::cli {

TimedVerification verify_timed(std::span<const Insn> insns,
                               const verifier::VerifyOptions& options) {
  auto start = std::chrono::steady_clock::now();
  TimedVerification out{verifier::verify(insns, options), 0};
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::string stats_line(const TimedVerification& verification) {
  const verifier::VerifyStats& stats = verification.result.stats;
  return fmt::format(
      "processed {} insns, {} states kept, {} pruned, peak {} pending, stack {} bytes, {:.3f} ms",
      stats.insns_processed, stats.states_kept, stats.states_pruned, stats.peak_pending,
      stats.max_stack_depth, verification.seconds * 1000);
}

nlohmann::json verification_json(const TimedVerification& verification) {
  const verifier::VerifyResult& result = verification.result;
  nlohmann::json out{{"verified", result.ok()}};
  if (result.error) {
    const verifier::VerifyError& error = *result.error;
    out["error"] = {{"insn", error.insn},
                    {"disassembly", error.disassembly},
                    {"reason", error.reason},
                    {"registers", error.registers},
                    {"message", error.to_string()}};
  }
  out["stats"] = {{"insns_processed", result.stats.insns_processed},
                  {"states_kept", result.stats.states_kept},
                  {"states_pruned", result.stats.states_pruned},
                  {"peak_pending", result.stats.peak_pending},
                  {"max_stack_depth", result.stats.max_stack_depth}};
  out["time_ms"] = verification.seconds * 1000;
  if (!result.log.empty()) out["log"] = result.log;
  return out;
}

}  // namespace bpfvm::cli
