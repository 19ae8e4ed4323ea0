// Reading the kernel's configuration (kernel_config.hpp).
#include "helpers/kernel_config.hpp"

#include <sys/utsname.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>

namespace bpfvm::helpers {
namespace {

// name -> value as the config file writes it ("y", "m", "42", "\"text\"").
std::map<std::string, std::string> parse_config(const std::string& text) {
  std::map<std::string, std::string> values;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with("CONFIG_")) continue;  // comments: "# CONFIG_X is not set"
    std::size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    values[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return values;
}

std::string read_gzip(const char* path) {
  std::string text;
  gzFile file = gzopen(path, "rb");
  if (file == nullptr) return text;
  char buffer[1 << 14];
  int got;
  while ((got = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, got);
  gzclose(file);
  return text;
}

std::string read_plain(const std::string& path) {
  std::string text;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return text;
  char buffer[1 << 14];
  std::size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, got);
  std::fclose(file);
  return text;
}

}  // namespace

const std::map<std::string, std::string>& host_kernel_config() {
  static const std::map<std::string, std::string> config = [] {
    std::string text = read_gzip("/proc/config.gz");
    if (text.empty()) {
      utsname names{};
      if (uname(&names) == 0) text = read_plain(std::string("/boot/config-") + names.release);
    }
    return parse_config(text);
  }();
  return config;
}

std::uint32_t host_config_hz() {
  static const std::uint32_t hz = [] {
    constexpr std::uint32_t default_hz = 250;
    auto found = host_kernel_config().find("CONFIG_HZ");
    if (found == host_kernel_config().end()) return default_hz;
    char* end = nullptr;
    unsigned long value = std::strtoul(found->second.c_str(), &end, 10);
    if (end == found->second.c_str() || *end != '\0' || value == 0 || value > 100000)
      return default_hz;
    return static_cast<std::uint32_t>(value);
  }();
  return hz;
}

}  // namespace bpfvm::helpers
