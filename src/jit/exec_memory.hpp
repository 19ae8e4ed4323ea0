// Executable memory that is never writable and executable at once (W^X): pages are mapped
// read-write, filled, then switched to read-execute for good, and unmapped with their owner.
#pragma once

#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

namespace bpfvm::jit {

class ExecMemory {
 public:
  ExecMemory() = default;
  ExecMemory(ExecMemory&& other) noexcept;
  ExecMemory& operator=(ExecMemory&& other) noexcept;
  ExecMemory(const ExecMemory&) = delete;
  ExecMemory& operator=(const ExecMemory&) = delete;
  ~ExecMemory();

  // Maps `size` bytes read-write, lets `fill` write the code (it receives the final address,
  // for code that needs it), then makes the pages read-execute. Fails, saying why, when a
  // system call does; the pages never are writable and executable together.
  static Result<ExecMemory> create(
      std::size_t size,
      const std::function<Status(std::uint8_t* data, std::uint64_t address)>& fill);

  // Tests: while set on this thread, create() fails as if the system had no memory left.
  static void inject_failure_for_testing(bool fail);

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;    // the code
  std::size_t mapped_ = 0;  // whole pages
};

}  // namespace bpfvm::jit
