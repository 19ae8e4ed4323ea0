// Helpers about time, randomness and the calling thread (Linux's "current task"):
// bpf_ktime_get_ns (5), bpf_get_prandom_u32 (7), bpf_get_smp_processor_id (8),
// bpf_get_current_pid_tgid (14), bpf_get_current_uid_gid (15), bpf_get_current_comm (16),
// bpf_ktime_get_boot_ns (125), bpf_jiffies64 (118).
#include "helpers/helper_functions.hpp"
#include "helpers/helper_support.hpp"
#include "helpers/kernel_config.hpp"

#include <sched.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bpfvm::helpers {
namespace {

u64 clock_ns(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<u64>(now.tv_sec) * 1'000'000'000u + static_cast<u64>(now.tv_nsec);
}

}  // namespace

u64 ktime_get_ns(HelperCall&, u64, u64, u64, u64, u64) { return clock_ns(CLOCK_MONOTONIC); }

u64 ktime_get_boot_ns(HelperCall&, u64, u64, u64, u64, u64) { return clock_ns(CLOCK_BOOTTIME); }

// bpf_jiffies64: get_jiffies_64(), the timer tick count. Linux starts it at INITIAL_JIFFIES
// ((unsigned long)(unsigned int)(-300 * HZ), so that 32-bit jiffies wrap five minutes after
// boot) and advances it HZ times a second along CLOCK_MONOTONIC (tick_do_update_jiffies64);
// bpfvm derives it from CLOCK_MONOTONIC the same way. HZ is HelperOptions::config_hz, or the
// running kernel's CONFIG_HZ (250 when unknown).
u64 jiffies64(HelperCall& call, u64, u64, u64, u64, u64) {
  std::uint32_t hz = helper_state(call).options.config_hz;
  if (hz == 0) hz = host_config_hz();
  const u64 initial = static_cast<std::uint32_t>(-300 * static_cast<std::int64_t>(hz));
  const u64 ns = clock_ns(CLOCK_MONOTONIC);
  const u64 tick_ns = 1'000'000'000u / hz;
  return initial + ns / tick_ns;
}

// splitmix64 over a shared counter: thread-safe, and reproducible given a seed.
u64 get_prandom_u32(HelperCall& call, u64, u64, u64, u64, u64) {
  u64 z = helper_state(call).prandom.fetch_add(0x9e3779b97f4a7c15ull, std::memory_order_relaxed) +
          0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return static_cast<std::uint32_t>(z ^ (z >> 31));
}

u64 get_smp_processor_id(HelperCall&, u64, u64, u64, u64, u64) {
  int cpu = sched_getcpu();
  return cpu < 0 ? 0 : static_cast<u64>(cpu);
}

// Linux: tgid (the process id) in the upper half, pid (the thread id) in the lower.
u64 get_current_pid_tgid(HelperCall&, u64, u64, u64, u64, u64) {
  return (static_cast<u64>(static_cast<std::uint32_t>(getpid())) << 32) |
         static_cast<std::uint32_t>(gettid());
}

u64 get_current_uid_gid(HelperCall&, u64, u64, u64, u64, u64) {
  return (static_cast<u64>(getgid()) << 32) | getuid();
}

// bpf_get_current_comm(buf, size): the thread's name (task->comm, 16 bytes with its NUL)
// copied as strscpy_pad does: truncated to size - 1, NUL-terminated, the rest zeroed.
u64 get_current_comm(HelperCall& call, u64 buf, u64 size, u64, u64, u64) {
  const auto length = static_cast<std::uint32_t>(size);
  if (!check_pointer(call, "get_current_comm", "buf", buf, length, true)) return 0;
  if (length == 0) return 0;
  char comm[17] = {};
  auto* out = reinterpret_cast<char*>(buf);
  if (prctl(PR_GET_NAME, comm) != 0) {
    std::memset(out, 0, length);
    return err(-EINVAL);
  }
  std::size_t n = std::min<std::size_t>(std::strlen(comm), length - 1);
  std::memcpy(out, comm, n);
  std::memset(out + n, 0, length - n);
  return 0;
}

}  // namespace bpfvm::helpers
