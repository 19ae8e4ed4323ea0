#include "jit/exec_memory.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace bpfvm::jit {

ExecMemory::ExecMemory(ExecMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

ExecMemory& ExecMemory::operator=(ExecMemory&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, mapped_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

ExecMemory::~ExecMemory() {
  if (data_ != nullptr) munmap(data_, mapped_);
}

Result<ExecMemory> ExecMemory::create(
    std::size_t size,
    const std::function<Status(std::uint8_t* data, std::uint64_t address)>& fill) {
  auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::size_t mapped = (size + page - 1) / page * page;
  if (mapped == 0) mapped = page;
  void* pages = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pages == MAP_FAILED)
    return make_error(Error::Kind::io, fmt::format("cannot map {} bytes for machine code: {}",
                                                   mapped, std::strerror(errno)));
  ExecMemory memory;
  memory.data_ = static_cast<std::uint8_t*>(pages);
  memory.size_ = size;
  memory.mapped_ = mapped;
  // int3 everywhere the code does not reach, so a stray jump traps.
  std::memset(memory.data_, 0xcc, mapped);
  Status filled = fill(memory.data_, reinterpret_cast<std::uint64_t>(memory.data_));
  if (!filled) return filled.error();
  if (mprotect(pages, mapped, PROT_READ | PROT_EXEC) != 0)
    return make_error(Error::Kind::io, fmt::format("cannot make machine code executable: {}",
                                                   std::strerror(errno)));
  return memory;
}

}  // namespace bpfvm::jit
