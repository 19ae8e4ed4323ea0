#include "classic/assemble.hpp"

#include <fmt/format.h>

namespace bpfvm::classic::detail {
namespace {

class ErrorRecorder : public asmjit::ErrorHandler {
 public:
  void handleError(asmjit::Error, const char* message, asmjit::BaseEmitter*) override {
    if (message_.empty()) message_ = message;
  }
  const std::string& message() const { return message_; }

 private:
  std::string message_ = {};
};

}  // namespace

Result<jit::ExecMemory> assemble(
    std::string_view who,
    const std::function<void(asmjit::x86::Assembler&, std::vector<asmjit::Label>&)>& emit,
    std::vector<std::size_t>& offsets, std::string* log) {
  asmjit::CodeHolder holder;
  holder.init(asmjit::Environment(asmjit::Arch::kX64));
  ErrorRecorder errors;
  holder.setErrorHandler(&errors);
  asmjit::StringLogger logger;
  if (log != nullptr) holder.setLogger(&logger);
  asmjit::x86::Assembler assembler(&holder);
  std::vector<asmjit::Label> labels;
  emit(assembler, labels);
  auto failed = [&](std::string_view what) {
    return make_error(Error::Kind::invalid_program,
                      fmt::format("{}: asmjit failed while {}: {}", who, what, errors.message()));
  };
  if (!errors.message().empty()) return failed("emitting");
  if (holder.flatten() != asmjit::kErrorOk || holder.resolveUnresolvedLinks() != asmjit::kErrorOk)
    return failed("resolving labels");
  if (log != nullptr) *log += std::string(logger.data(), logger.dataSize());
  offsets.clear();
  for (const asmjit::Label& label : labels)
    offsets.push_back(static_cast<std::size_t>(holder.labelOffsetFromBase(label)));
  const std::size_t size = holder.codeSize();
  return jit::ExecMemory::create(size, [&](std::uint8_t* data, std::uint64_t address) -> Status {
    if (holder.relocateToBase(address) != asmjit::kErrorOk) return failed("relocating");
    if (holder.copyFlattenedData(data, size, asmjit::CopySectionFlags::kPadTargetBuffer) !=
        asmjit::kErrorOk)
      return failed("copying the code");
    return Ok{};
  });
}

}  // namespace bpfvm::classic::detail
