#include "support/kernel_bpf.hpp"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bpfvm::test::kernel {
namespace {

static_assert(sizeof(Insn) == sizeof(struct bpf_insn), "same encoding as the kernel's");

std::uint64_t ptr_to_u64(const void* pointer) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(pointer));
}

// The raw syscall, retried on EINTR; returns the result or -1 with errno set.
long sys_bpf(int command, union bpf_attr* attr) {
  long result;
  do {
    result = syscall(__NR_bpf, command, attr, sizeof(*attr));
  } while (result < 0 && errno == EINTR);
  return result;
}

SysError last_error(std::string operation, std::string log = {}) {
  return SysError{std::move(operation), errno, std::move(log)};
}

const char* errno_name(int error_number) {
  switch (error_number) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case E2BIG: return "E2BIG";
    case ENOSPC: return "ENOSPC";
    case ENOMEM: return "ENOMEM";
    case EFAULT: return "EFAULT";
    case ENOENT: return "ENOENT";
    case 524: return "ENOTSUPP";  // kernel-internal, yet returned by some commands
    default: return "errno";
  }
}

long prog_load(std::span<const Insn> insns, const ProgLoadOptions& options, std::uint32_t level,
               char* log, std::size_t log_size) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.prog_type = static_cast<std::uint32_t>(options.type);
  attr.insns = ptr_to_u64(insns.data());
  attr.insn_cnt = static_cast<std::uint32_t>(insns.size());
  attr.license = ptr_to_u64(options.license);
  attr.expected_attach_type = options.expected_attach_type;
  if (level != 0) {
    attr.log_level = level;
    attr.log_buf = ptr_to_u64(log);
    attr.log_size = static_cast<std::uint32_t>(log_size);
    log[0] = '\0';
  }
  return sys_bpf(BPF_PROG_LOAD, &attr);
}

}  // namespace

std::string SysError::to_string() const {
  std::string text =
      operation + ": " + std::strerror(error_number) + " (" + errno_name(error_number) + ")";
  if (!verifier_log.empty()) text += "\nverifier log:\n" + verifier_log;
  return text;
}

bool SysError::is_refusal() const {
  return error_number == EPERM || error_number == EACCES || error_number == ENOSYS;
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

SysResult<Fd> load_program(std::span<const Insn> insns, const ProgLoadOptions& options) {
  long fd = prog_load(insns, options, 0, nullptr, 0);
  if (fd >= 0) return Fd(static_cast<int>(fd));
  const int first_errno = errno;
  if (first_errno == EPERM || first_errno == ENOSYS || !options.retry_with_log)
    return last_error("BPF_PROG_LOAD");

  // Rejected: load again with a log to say why. The second load may even succeed (it
  // should not); the first answer stands either way.
  std::vector<char> log(options.log_size, '\0');
  fd = prog_load(insns, options, 1, log.data(), log.size());
  if (fd >= 0) close(static_cast<int>(fd));
  log.back() = '\0';
  return SysError{"BPF_PROG_LOAD", first_errno, std::string(log.data())};
}

SysResult<std::string> verifier_stats(std::span<const Insn> insns, const ProgLoadOptions& options) {
  std::vector<char> log(options.log_size, '\0');
  // BPF_LOG_STATS (4): only the summary lines, not the per-instruction trace.
  const long fd = prog_load(insns, options, 4, log.data(), log.size());
  if (fd < 0) {
    const int error_number = errno;
    log.back() = '\0';
    return SysError{"BPF_PROG_LOAD", error_number, std::string(log.data())};
  }
  close(static_cast<int>(fd));
  log.back() = '\0';
  return std::string(log.data());
}

SysResult<TestRunOutput> test_run(const Fd& program, const TestRunRequest& request) {
  TestRunOutput output;
  output.data_out.resize(request.data_out_size != 0 ? request.data_out_size
                                                    : request.data_in.size());
  output.ctx_out.resize(request.ctx_out_size);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.test.prog_fd = static_cast<std::uint32_t>(program.get());
  attr.test.data_in = ptr_to_u64(request.data_in.data());
  attr.test.data_size_in = static_cast<std::uint32_t>(request.data_in.size());
  attr.test.data_out = ptr_to_u64(output.data_out.data());
  attr.test.data_size_out = static_cast<std::uint32_t>(output.data_out.size());
  if (!request.ctx_in.empty()) {
    attr.test.ctx_in = ptr_to_u64(request.ctx_in.data());
    attr.test.ctx_size_in = static_cast<std::uint32_t>(request.ctx_in.size());
  }
  if (!output.ctx_out.empty()) {
    attr.test.ctx_out = ptr_to_u64(output.ctx_out.data());
    attr.test.ctx_size_out = static_cast<std::uint32_t>(output.ctx_out.size());
  }
  attr.test.repeat = request.repeat;
  if (sys_bpf(BPF_PROG_TEST_RUN, &attr) < 0) return last_error("BPF_PROG_TEST_RUN");
  output.retval = attr.test.retval;
  output.duration_ns = attr.test.duration;
  if (attr.test.data_size_out < output.data_out.size())
    output.data_out.resize(attr.test.data_size_out);
  if (attr.test.ctx_size_out < output.ctx_out.size()) output.ctx_out.resize(attr.test.ctx_size_out);
  return output;
}

SysResult<Fd> create_map(std::uint32_t map_type, std::uint32_t key_size, std::uint32_t value_size,
                         std::uint32_t max_entries) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = map_type;
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  const long fd = sys_bpf(BPF_MAP_CREATE, &attr);
  if (fd < 0) return last_error("BPF_MAP_CREATE");
  return Fd(static_cast<int>(fd));
}

SysResult<TestRunOutput> test_run(const Fd& program, std::span<const std::uint8_t> data_in,
                                  std::uint32_t repeat) {
  TestRunOutput output;
  output.data_out.resize(data_in.size());
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.test.prog_fd = static_cast<std::uint32_t>(program.get());
  attr.test.data_in = ptr_to_u64(data_in.data());
  attr.test.data_size_in = static_cast<std::uint32_t>(data_in.size());
  attr.test.data_out = ptr_to_u64(output.data_out.data());
  attr.test.data_size_out = static_cast<std::uint32_t>(output.data_out.size());
  attr.test.repeat = repeat;
  if (sys_bpf(BPF_PROG_TEST_RUN, &attr) < 0) return last_error("BPF_PROG_TEST_RUN");
  output.retval = attr.test.retval;
  output.duration_ns = attr.test.duration;
  if (attr.test.data_size_out < output.data_out.size()) {
    output.data_out.resize(attr.test.data_size_out);
  }
  return output;
}

SysResult<Fd> create_array_map(std::uint32_t value_size, std::uint32_t max_entries) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = sizeof(std::uint32_t);
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  const long fd = sys_bpf(BPF_MAP_CREATE, &attr);
  if (fd < 0) return last_error("BPF_MAP_CREATE");
  return Fd(static_cast<int>(fd));
}

SysResult<Done> map_lookup(const Fd& map, std::uint32_t key, std::span<std::uint8_t> value) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<std::uint32_t>(map.get());
  attr.key = ptr_to_u64(&key);
  attr.value = ptr_to_u64(value.data());
  if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) < 0) return last_error("BPF_MAP_LOOKUP_ELEM");
  return Done{};
}

SysResult<Done> map_update(const Fd& map, std::uint32_t key, std::span<const std::uint8_t> value) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<std::uint32_t>(map.get());
  attr.key = ptr_to_u64(&key);
  attr.value = ptr_to_u64(value.data());
  attr.flags = BPF_ANY;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0) return last_error("BPF_MAP_UPDATE_ELEM");
  return Done{};
}

SysResult<Done> probe() {
  // mov64 r0, 42; exit
  const Insn insns[] = {{.opcode = 0xb7, .dst = 0, .src = 0, .offset = 0, .imm = 42},
                        {.opcode = 0x95, .dst = 0, .src = 0, .offset = 0, .imm = 0}};
  auto program = load_program(insns);
  if (!program) return program.error();
  const std::uint8_t packet[64] = {};
  auto run = test_run(*program, packet);
  if (!run) return run.error();
  if (run->retval != 42) {
    return SysError{
        "probe: {mov r0, 42; exit} returned " + std::to_string(run->retval), EINVAL, {}};
  }
  return Done{};
}

}  // namespace bpfvm::test::kernel
