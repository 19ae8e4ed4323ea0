#include "helpers/bprintf.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace bpfvm::helpers {
namespace {

// MAX_BPRINTF_BIN_ARGS: what the kernel's buffer holds of the strings and addresses copied
// for one call.
constexpr std::size_t max_bin_args = 512;

bool printable(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x80 && (std::isprint(u) || std::isspace(u));
}

// A C printf conversion with the kernel's flags and width.
template <class T>
std::string c_format(std::string_view flags_width, std::string_view length, char conversion,
                     T value) {
  std::string spec = "%";
  spec.append(flags_width);
  spec.append(length);
  spec.push_back(conversion);
  char buffer[96];
  int n = std::snprintf(buffer, sizeof buffer, spec.c_str(), value);
  return n < 0 ? std::string() : std::string(buffer, std::min<std::size_t>(n, sizeof buffer - 1));
}

// Pads `text` to the width in `flags_width` (left when it has '-'), as %s and %c do.
std::string pad(std::string_view flags_width, std::string text) {
  std::size_t width = 0;
  bool left = false;
  for (char c : flags_width) {
    if (c == '-') left = true;
    if (c >= '0' && c <= '9' && !(width == 0 && c == '0')) width = width * 10 + (c - '0');
  }
  if (text.size() >= width) return text;
  std::string padding(width - text.size(), ' ');
  return left ? text + padding : padding + text;
}

}  // namespace

std::int64_t readable_string_length(const HelperCall& call, std::uint64_t address,
                                    std::uint64_t limit) {
  for (std::uint64_t i = 0; i < limit; ++i) {
    if (!call.accessible(address + i, 1, false)) return -1;
    if (*reinterpret_cast<const char*>(address + i) == '\0') return static_cast<std::int64_t>(i);
  }
  return -1;
}

int bprintf(const HelperCall& call, std::string_view fmt, std::span<const std::uint64_t> args,
            std::string& out) {
  out.clear();
  std::size_t bin_used = 0;
  std::size_t num_spec = 0;
  auto at = [&](std::size_t i) { return i < fmt.size() ? fmt[i] : '\0'; };
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    if (!printable(fmt[i])) return -EINVAL;
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (at(i + 1) == '%') {
      out.push_back('%');
      ++i;
      continue;
    }
    if (num_spec >= args.size()) return -EINVAL;
    const std::uint64_t arg = args[num_spec];
    ++i;
    // "[0 +-][num]": flags, then a width that does not start with 0.
    const std::size_t spec_begin = i;
    while (at(i) == '0' || at(i) == '+' || at(i) == '-' || at(i) == ' ') ++i;
    if (at(i) >= '1' && at(i) <= '9') {
      ++i;
      while (at(i) >= '0' && at(i) <= '9') ++i;
    }
    const std::string_view flags_width = fmt.substr(spec_begin, i - spec_begin);
    auto read_string = [&]() -> std::string {
      // The kernel copies the string into its buffer with a nofault copy: an unreadable
      // string becomes empty.
      std::size_t room = max_bin_args - bin_used;
      std::string text;
      for (std::size_t k = 0; k + 1 < room; ++k) {
        if (!call.accessible(arg + k, 1, false)) {
          text.clear();
          break;
        }
        char c = *reinterpret_cast<const char*>(arg + k);
        if (c == '\0') break;
        text.push_back(c);
      }
      bin_used += text.size() + 1;
      return text;
    };
    auto string_end_ok = [&](std::size_t next) {
      char c = at(next);
      return c == '\0' || std::isspace(static_cast<unsigned char>(c)) ||
             std::ispunct(static_cast<unsigned char>(c));
    };
    const char c = at(i);
    if (c == 'p') {
      const char m = at(i + 1);
      if ((m == 'k' || m == 'u') && at(i + 2) == 's') {
        i += 2;
        if (!string_end_ok(i + 1)) return -EINVAL;
        if (bin_used >= max_bin_args) return -ENOSPC;
        out += pad(flags_width, read_string());
      } else if (m == '\0' || std::isspace(static_cast<unsigned char>(m)) ||
                 std::ispunct(static_cast<unsigned char>(m)) || m == 'K' || m == 'x' || m == 's' ||
                 m == 'S') {
        // Kernel pointers: %p hashes and %ps/%pS resolve symbols in Linux; we print the
        // value as %px does (docs/helpers.md).
        if (m == 'K' || m == 'x' || m == 's' || m == 'S') ++i;
        out += flags_width.empty()
                   ? fmt::format("{:016x}", arg)
                   : c_format(flags_width, "ll", 'x', static_cast<unsigned long long>(arg));
      } else if ((m == 'i' || m == 'I') && (at(i + 2) == '4' || at(i + 2) == '6')) {
        const std::size_t size = at(i + 2) == '4' ? 4 : 16;
        i += 2;
        if (bin_used + size > max_bin_args) return -ENOSPC;
        bin_used += size;
        std::uint8_t ip[16] = {};
        if (call.accessible(arg, size, false))
          std::memcpy(ip, reinterpret_cast<const void*>(arg), size);
        std::string text;
        if (size == 4) {
          for (std::size_t k = 0; k < 4; ++k)
            text += m == 'i' ? fmt::format("{}{:03}", k ? "." : "", ip[k])
                             : fmt::format("{}{}", k ? "." : "", ip[k]);
        } else {
          for (std::size_t k = 0; k < 16; k += 2)
            text += fmt::format("{}{:02x}{:02x}", (k && m == 'I') ? ":" : "", ip[k], ip[k + 1]);
        }
        out += pad(flags_width, text);
      } else {
        return -EINVAL;
      }
    } else if (c == 's') {
      if (!string_end_ok(i + 1)) return -EINVAL;
      if (bin_used >= max_bin_args) return -ENOSPC;
      out += pad(flags_width, read_string());
    } else if (c == 'c') {
      if (bin_used >= max_bin_args) return -ENOSPC;
      ++bin_used;
      out += pad(flags_width, std::string(1, static_cast<char>(arg)));
    } else {
      std::string_view length;
      if (at(i) == 'l') {
        ++i;
        length = "l";
        if (at(i) == 'l') {
          ++i;
          length = "ll";
        }
      }
      const char conversion = at(i);
      if (conversion != 'i' && conversion != 'd' && conversion != 'u' && conversion != 'x' &&
          conversion != 'X')
        return -EINVAL;
      const bool is_signed = conversion == 'i' || conversion == 'd';
      if (length.empty()) {
        out += is_signed ? c_format(flags_width, "", conversion,
                                    static_cast<int>(static_cast<std::uint32_t>(arg)))
                         : c_format(flags_width, "", conversion, static_cast<unsigned>(arg));
      } else {
        out += is_signed
                   ? c_format(flags_width, "ll", conversion, static_cast<long long>(arg))
                   : c_format(flags_width, "ll", conversion, static_cast<unsigned long long>(arg));
      }
    }
    ++num_spec;
  }
  return 0;
}

}  // namespace bpfvm::helpers
