#include "verifier/kernel_log.hpp"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <sstream>
#include <vector>

namespace bpfvm::verifier::testing {

KernelLog kernel_verify(std::span<const Insn> insns) {
  std::vector<char> log(1 << 22, '\0');
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<std::uint64_t>(insns.data());
  attr.insn_cnt = static_cast<std::uint32_t>(insns.size());
  static const char license[] = "GPL";
  attr.license = reinterpret_cast<std::uint64_t>(license);
  attr.log_level = 2;
  attr.log_buf = reinterpret_cast<std::uint64_t>(log.data());
  attr.log_size = static_cast<std::uint32_t>(log.size());
  const long fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
  KernelLog out;
  out.error_number = fd < 0 ? errno : 0;
  out.loaded = fd >= 0;
  if (fd >= 0) close(static_cast<int>(fd));
  log.back() = '\0';
  out.text = log.data();
  return out;
}

bool kernel_available(std::string* why) {
  const Insn insns[] = {Insn{0xb7, 0, 0, 0, 0}, Insn{0x95, 0, 0, 0, 0}};
  const KernelLog log = kernel_verify(insns);
  if (log.loaded) return true;
  *why = std::string("BPF_PROG_LOAD refused: ") + std::strerror(log.error_number);
  return false;
}

namespace {

// The value after "R<reg>=" or "R<reg>_w=" in `line`: up to the first blank outside
// parentheses. A leading "P" (precision mark) is dropped.
std::optional<std::string> value_in(const std::string& line, int reg) {
  for (const std::string& key :
       {"R" + std::to_string(reg) + "_w=", "R" + std::to_string(reg) + "="}) {
    std::size_t at = 0;
    while ((at = line.find(key, at)) != std::string::npos) {
      if (at > 0 && line[at - 1] != ' ' && line[at - 1] != ':' && line[at - 1] != ';') {
        ++at;
        continue;
      }
      std::size_t end = at + key.size();
      int depth = 0;
      while (end < line.size() && (depth > 0 || line[end] != ' ')) {
        if (line[end] == '(') ++depth;
        if (line[end] == ')') --depth;
        ++end;
      }
      std::string v = line.substr(at + key.size(), end - at - key.size());
      if (!v.empty() && v[0] == 'P') v.erase(0, 1);
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace

std::map<int, std::string> register_trace(const std::string& log, int reg) {
  std::map<int, std::string> out;
  std::istringstream in(log);
  std::string line;
  static const std::regex insn_line(R"(^(\d+): \([0-9a-f]{2}\) [^;]*; (.*)$)");
  static const std::regex from_line(R"(^from \d+ to (\d+): (.*)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, insn_line)) {
      if (auto v = value_in(" " + m[2].str(), reg)) out[std::stoi(m[1].str())] = *v;
    } else if (std::regex_match(line, m, from_line)) {
      if (auto v = value_in(" " + m[2].str(), reg)) out[-std::stoi(m[1].str()) - 1] = *v;
    }
  }
  return out;
}

}  // namespace bpfvm::verifier::testing
