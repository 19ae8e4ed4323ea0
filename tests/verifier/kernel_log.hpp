// The Linux verifier as an oracle: load a socket filter with log_level 2 (BPF_LOG_LEVEL2, the
// per-instruction state trace) and read back the abstract value it printed for a register.
#pragma once

#include <bpfvm/insn.hpp>

#include <map>
#include <optional>
#include <span>
#include <string>

namespace bpfvm::verifier::testing {

struct KernelLog {
  bool loaded = false;  // the kernel accepted the program
  int error_number = 0;
  std::string text;
};

// BPF_PROG_LOAD of a socket filter with the full log. Never throws; errno on failure.
KernelLog kernel_verify(std::span<const Insn> insns);

// Whether bpf(2) may be used here (false when refused: EPERM, EACCES, ENOSYS).
bool kernel_available(std::string* why);

// The value the log shows for register `reg` after each instruction index, from lines like
// "3: (57) r0 &= 255   ; R0_w=scalar(...)"; and, for each "from A to B:" line, the state at
// the start of B's path under the key -B - 1.
std::map<int, std::string> register_trace(const std::string& log, int reg);

}  // namespace bpfvm::verifier::testing
