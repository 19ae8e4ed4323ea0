#include "jit/exec_memory.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace bpfvm::jit {
namespace {

// Retired small mappings, kept read-execute for the next compilation: mmap, munmap and the
// first-touch page faults cost more than compiling a small program. A reused mapping goes
// read-execute -> read-write -> read-execute, so it is still never both writable and
// executable. Its old code stays in place, unreachable, until it is overwritten.
class MappingCache {
 public:
  static constexpr std::size_t max_entries = 64;
  static constexpr std::size_t max_pages = 4;

  std::uint8_t* take(std::size_t mapped) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].second == mapped) {
        std::uint8_t* data = entries_[i].first;
        entries_[i] = entries_.back();
        entries_.pop_back();
        return data;
      }
    }
    return nullptr;
  }
  bool keep(std::uint8_t* data, std::size_t mapped, std::size_t page) {
    if (mapped > max_pages * page) return false;
    std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries) return false;
    entries_.emplace_back(data, mapped);
    return true;
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<std::uint8_t*, std::size_t>> entries_;
};

// Never destroyed: programs may be freed during static destruction.
MappingCache& cache() {
  static MappingCache* instance = new MappingCache;
  return *instance;
}

std::size_t page_size() {
  static const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

thread_local bool injected_failure = false;

void release(std::uint8_t* data, std::size_t mapped) {
  if (!cache().keep(data, mapped, page_size())) munmap(data, mapped);
}

}  // namespace

void ExecMemory::inject_failure_for_testing(bool fail) { injected_failure = fail; }

ExecMemory::ExecMemory(ExecMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

ExecMemory& ExecMemory::operator=(ExecMemory&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) release(data_, mapped_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

ExecMemory::~ExecMemory() {
  if (data_ != nullptr) release(data_, mapped_);
}

Result<ExecMemory> ExecMemory::create(
    std::size_t size,
    const std::function<Status(std::uint8_t* data, std::uint64_t address)>& fill) {
  if (injected_failure)
    return make_error(Error::Kind::io, "cannot map memory for machine code: injected failure");
  const std::size_t page = page_size();
  std::size_t mapped = (size + page - 1) / page * page;
  if (mapped == 0) mapped = page;
  void* pages = cache().take(mapped);
  if (pages != nullptr && mprotect(pages, mapped, PROT_READ | PROT_WRITE) != 0) {
    munmap(pages, mapped);
    pages = nullptr;
  }
  if (pages == nullptr) {
    pages = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED)
      return make_error(Error::Kind::io, fmt::format("cannot map {} bytes for machine code: {}",
                                                     mapped, std::strerror(errno)));
  }
  ExecMemory memory;
  memory.data_ = static_cast<std::uint8_t*>(pages);
  memory.size_ = size;
  memory.mapped_ = mapped;
  Status filled = fill(memory.data_, reinterpret_cast<std::uint64_t>(memory.data_));
  // int3 after the code, to the end of the page, so a stray jump there traps.
  std::memset(memory.data_ + size, 0xcc, mapped - size);
  if (!filled) return filled.error();
  if (mprotect(pages, mapped, PROT_READ | PROT_EXEC) != 0)
    return make_error(Error::Kind::io,
                      fmt::format("cannot make machine code executable: {}", std::strerror(errno)));
  return memory;
}

}  // namespace bpfvm::jit
