// The probe_read family past bpf_probe_read (4): bpf_probe_read_str (45),
// bpf_probe_read_user (112), bpf_probe_read_kernel (113), bpf_probe_read_user_str (114),
// bpf_probe_read_kernel_str (115), and bpf_get_current_task (35).
//
// bpfvm has one address space, so "user" and "kernel" memory are the same thing here: what the
// run admits (its stack, context, packet, map values, regions granted to it). Every read is a
// copy that cannot fault, as Linux's copy_from_*_nofault: an address the run does not admit
// zero-fills the destination and returns -EFAULT instead of crashing the host.
#include "helpers/helper_functions.hpp"
#include "helpers/helper_support.hpp"

#include <cerrno>
#include <cstring>

namespace bpfvm::helpers {
namespace {

// strncpy_from_{kernel,user}_nofault: copies up to size - 1 bytes and a NUL, stops after the
// source's NUL. Returns the bytes written with the NUL, or -EFAULT (dst then all zeros, as
// bpf_probe_read_kernel_str_common clears it on error).
u64 read_str(HelperCall& call, std::string_view helper, u64 dst, u64 size, u64 src) {
  const auto length = static_cast<std::uint32_t>(size);
  if (!check_pointer(call, helper, "dst", dst, length, true)) return 0;
  if (length == 0) return 0;
  auto* out = reinterpret_cast<char*>(dst);
  for (std::uint32_t i = 0; i < length; ++i) {
    if (!call.accessible(src + i, 1, false)) {
      std::memset(out, 0, length);
      return err(-EFAULT);
    }
    char c = *reinterpret_cast<const char*>(src + i);
    if (i + 1 == length) c = '\0';  // truncated: the last byte becomes the NUL
    out[i] = c;
    if (c == '\0') return i + 1;
  }
  return length;
}

}  // namespace

u64 probe_read_kernel(HelperCall& call, u64 dst, u64 size, u64 src, u64 r4, u64 r5) {
  return probe_read(call, dst, size, src, r4, r5);
}

u64 probe_read_user(HelperCall& call, u64 dst, u64 size, u64 src, u64 r4, u64 r5) {
  return probe_read(call, dst, size, src, r4, r5);
}

u64 probe_read_str(HelperCall& call, u64 dst, u64 size, u64 src, u64, u64) {
  return read_str(call, "probe_read_str", dst, size, src);
}

u64 probe_read_kernel_str(HelperCall& call, u64 dst, u64 size, u64 src, u64, u64) {
  return read_str(call, "probe_read_kernel_str", dst, size, src);
}

u64 probe_read_user_str(HelperCall& call, u64 dst, u64 size, u64 src, u64, u64) {
  return read_str(call, "probe_read_user_str", dst, size, src);
}

// bpf_get_current_task: Linux returns the address of the current task_struct, which programs
// only hand back to bpf_probe_read_kernel. bpfvm has no task_struct; it returns
// HelperOptions::current_task (0 by default: reading through it fails with -EFAULT, as a
// probe read of an address nothing maps does).
u64 get_current_task(HelperCall& call, u64, u64, u64, u64, u64) {
  return helper_state(call).options.current_task;
}

}  // namespace bpfvm::helpers
