// A small wrapper over the Linux bpf(2) syscall for differential tests: load a program (with
// the verifier's log when it is rejected), run it with BPF_PROG_TEST_RUN, and create and
// access array maps. Every failure comes back as a value carrying errno, never as an abort.
#pragma once

#include <bpfvm/insn.hpp>
#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace bpfvm::test::kernel {

// A failed bpf(2) command: which one, its errno and, for BPF_PROG_LOAD, the verifier's log.
struct SysError {
  std::string operation;  // "BPF_PROG_LOAD", "BPF_PROG_TEST_RUN", ...
  int error_number = 0;   // errno
  std::string verifier_log;

  // "BPF_PROG_LOAD: Permission denied (EPERM)", followed by the log when there is one.
  std::string to_string() const;
  // EPERM, EACCES or ENOSYS: the caller may not use bpf() here (no privilege, seccomp,
  // kernel without CONFIG_BPF_SYSCALL), as opposed to a rejected program or bad arguments.
  bool is_refusal() const;
};

template <class T>
using SysResult = Result<T, SysError>;

struct Done {};

// An owned file descriptor (program or map), closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Linux's enum bpf_prog_type values we use (uapi/linux/bpf.h).
enum class ProgType : std::uint32_t {
  socket_filter = 1,
  sched_cls = 3,
  xdp = 6,
};

// BPF_MAP_CREATE of any type with the given sizes.
SysResult<Fd> create_map(std::uint32_t map_type, std::uint32_t key_size, std::uint32_t value_size,
                         std::uint32_t max_entries);

struct ProgLoadOptions {
  ProgType type = ProgType::socket_filter;
  const char* license = "GPL";
  // BPF_PROG_LOAD's expected_attach_type (enum bpf_attach_type); some types need one.
  std::uint32_t expected_attach_type = 0;
  // Verifier log buffer size used when a load fails and is retried for its log.
  std::size_t log_size = 1 << 20;
  // Whether a rejected load is retried with log_level 1 to carry the verifier's log (tests
  // that probe hundreds of rejections turn it off).
  bool retry_with_log = true;
};

// BPF_PROG_LOAD. On rejection the load is retried once with log_level 1 so the error
// carries the verifier's log (loading without a log first keeps the common path fast).
SysResult<Fd> load_program(std::span<const Insn> insns, const ProgLoadOptions& options = {});

// BPF_PROG_LOAD with log_level 4 (BPF_LOG_STATS) on success: the "processed N insns" line.
SysResult<std::string> verifier_stats(std::span<const Insn> insns,
                                      const ProgLoadOptions& options = {});

struct TestRunOutput {
  std::uint32_t retval = 0;  // the kernel keeps only the low 32 bits of r0
  std::uint32_t duration_ns = 0;
  std::vector<std::uint8_t> data_out;
  std::vector<std::uint8_t> ctx_out;  // when TestRunRequest::ctx_out_size was not 0
};

// BPF_PROG_TEST_RUN with every input: the packet, room for a grown packet, and the context
// (struct __sk_buff or struct xdp_md) in and out.
struct TestRunRequest {
  std::span<const std::uint8_t> data_in;
  std::size_t data_out_size = 0;  // 0: data_in.size()
  std::span<const std::uint8_t> ctx_in;
  std::size_t ctx_out_size = 0;
  std::uint32_t repeat = 1;
};
SysResult<TestRunOutput> test_run(const Fd& program, const TestRunRequest& request);

// BPF_PROG_TEST_RUN with `data_in` as the packet (socket filters need at least 14 bytes,
// an Ethernet header). data_out is sized like data_in.
SysResult<TestRunOutput> test_run(const Fd& program, std::span<const std::uint8_t> data_in,
                                  std::uint32_t repeat = 1);

// BPF_MAP_CREATE of a BPF_MAP_TYPE_ARRAY with 4-byte keys.
SysResult<Fd> create_array_map(std::uint32_t value_size, std::uint32_t max_entries);
// BPF_MAP_LOOKUP_ELEM / BPF_MAP_UPDATE_ELEM (BPF_ANY); `value` must be value_size bytes.
SysResult<Done> map_lookup(const Fd& map, std::uint32_t key, std::span<std::uint8_t> value);
SysResult<Done> map_update(const Fd& map, std::uint32_t key, std::span<const std::uint8_t> value);

// Whether this process may load and run programs: loads {mov r0, 42; exit} as a socket
// filter and runs it. The error says why not (refused, or unexpected result).
SysResult<Done> probe();

}  // namespace bpfvm::test::kernel
