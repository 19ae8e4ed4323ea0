// Helpers over strings and memory: bpf_probe_read (4), bpf_trace_printk (6),
// bpf_snprintf (165), bpf_strncmp (182).
#include "helpers/bprintf.hpp"
#include "helpers/helper_functions.hpp"
#include "helpers/helper_support.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace bpfvm::helpers {

// bpf_probe_read(dst, size, unsafe_ptr): a copy that cannot fault. Only memory the run
// admits is "mapped" here; anything else zero-fills dst and returns -EFAULT, as Linux does
// for an unmapped kernel address.
u64 probe_read(HelperCall& call, u64 dst, u64 size, u64 src, u64, u64) {
  const auto length = static_cast<std::uint32_t>(size);
  if (!check_pointer(call, "probe_read", "dst", dst, length, true)) return 0;
  if (length == 0) return 0;
  if (!call.accessible(src, length, false)) {
    std::memset(reinterpret_cast<void*>(dst), 0, length);
    return err(-EFAULT);
  }
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), length);
  return 0;
}

// bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3): formats into the kernel's 1024-byte
// buffer, hands it to the trace sink, and returns bstr_printf's result (the length of the
// whole text, even when the buffer truncated it) or -EINVAL.
u64 trace_printk(HelperCall& call, u64 fmt, u64 fmt_size, u64 a1, u64 a2, u64 a3) {
  const auto size = static_cast<std::uint32_t>(fmt_size);
  if (!check_pointer(call, "trace_printk", "fmt", fmt, size, false)) return 0;
  if (size == 0) return err(-EINVAL);
  const char* text = reinterpret_cast<const char*>(fmt);
  const void* nul = std::memchr(text, '\0', size);
  if (nul == nullptr) return err(-EINVAL);
  const u64 args[max_trace_printk_varargs] = {a1, a2, a3};
  std::string out;
  int error =
      bprintf(call, std::string_view(text, static_cast<const char*>(nul) - text), args, out);
  if (error < 0) return err(error);
  const std::string_view line(out.data(), std::min(out.size(), max_bprintf_buf - 1));
  const HelperState& state = helper_state(call);
  if (state.options.trace_sink)
    state.options.trace_sink(line);
  else
    std::fwrite(line.data(), 1, line.size(), stderr);
  return out.size();
}

// bpf_snprintf(str, str_size, fmt, data, data_len): Linux's bstr_printf into str (always
// NUL-terminated when str_size > 0); returns the length of the whole text plus its NUL.
u64 snprintf(HelperCall& call, u64 str, u64 str_size, u64 fmt, u64 data, u64 data_len) {
  const auto size = static_cast<std::uint32_t>(str_size);
  const auto data_size = static_cast<std::uint32_t>(data_len);
  if (!check_pointer(call, "snprintf", "str", str, size, true)) return 0;
  if (data_size % 8 != 0 || data_size > max_bprintf_varargs * 8 || (data_size != 0 && data == 0))
    return err(-EINVAL);
  if (!check_pointer(call, "snprintf", "data", data, data_size, false)) return 0;
  // ARG_PTR_TO_CONST_STR: Linux's verifier proves fmt NUL-terminated (in read-only map
  // data); checked mode looks for the NUL in memory the run admits.
  std::int64_t fmt_length = readable_string_length(call, fmt, UINT32_MAX);
  if (fmt_length < 0) {
    if (call.checked()) {
      call.fail(
          fmt::format("snprintf: fmt at 0x{:x} is not a NUL-terminated string in memory "
                      "of this run",
                      fmt));
      return 0;
    }
    fmt_length = static_cast<std::int64_t>(std::strlen(reinterpret_cast<const char*>(fmt)));
  }
  u64 args[max_bprintf_varargs] = {};
  if (data_size != 0) std::memcpy(args, reinterpret_cast<const void*>(data), data_size);
  std::string out;
  int error = bprintf(
      call,
      std::string_view(reinterpret_cast<const char*>(fmt), static_cast<std::size_t>(fmt_length)),
      std::span<const u64>(args, data_size / 8), out);
  if (error < 0) return err(error);
  if (size != 0) {
    std::size_t n = std::min<std::size_t>(out.size(), size - 1);
    std::memcpy(reinterpret_cast<void*>(str), out.data(), n);
    reinterpret_cast<char*>(str)[n] = '\0';
  }
  return out.size() + 1;
}

// bpf_strncmp(s1, s1_sz, s2): the kernel's strncmp(s1, s2, s1_sz), which returns -1, 0 or 1.
u64 strncmp(HelperCall& call, u64 s1, u64 s1_size, u64 s2, u64, u64) {
  const auto count = static_cast<std::uint32_t>(s1_size);
  if (!check_pointer(call, "strncmp", "s1", s1, count, false)) return 0;
  if (call.checked() && readable_string_length(call, s2, UINT32_MAX) < 0) {
    call.fail(
        fmt::format("strncmp: s2 at 0x{:x} is not a NUL-terminated string in memory of "
                    "this run",
                    s2));
    return 0;
  }
  const auto* a = reinterpret_cast<const unsigned char*>(s1);
  const auto* b = reinterpret_cast<const unsigned char*>(s2);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (a[i] != b[i]) return a[i] < b[i] ? err(-1) : 1;
    if (a[i] == 0) break;
  }
  return 0;
}

}  // namespace bpfvm::helpers
