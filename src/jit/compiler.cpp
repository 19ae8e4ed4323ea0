#include "jit/compiler.hpp"

#include <fmt/format.h>

namespace bpfvm::jit {
namespace {

// Keeps the first error asmjit reports (an instruction it cannot encode, out of memory).
class ErrorRecorder : public asmjit::ErrorHandler {
 public:
  void handleError(asmjit::Error error, const char* message, asmjit::BaseEmitter*) override {
    if (error_ == asmjit::kErrorOk) {
      error_ = error;
      message_ = message;
    }
  }
  bool failed() const { return error_ != asmjit::kErrorOk; }
  const std::string& message() const { return message_; }

 private:
  asmjit::Error error_ = asmjit::kErrorOk;
  std::string message_;
};

Error asmjit_error(std::string_view what, const std::string& message) {
  return make_error(Error::Kind::invalid_program,
                    fmt::format("JIT: asmjit failed while {}: {}", what, message));
}

}  // namespace

Result<CompiledCode> compile_code(const detail::Code& code, const EmitOptions& options,
                                  std::string* log) {
  asmjit::CodeHolder holder;
  holder.init(asmjit::Environment(asmjit::Arch::kX64));
  ErrorRecorder errors;
  holder.setErrorHandler(&errors);
  asmjit::StringLogger logger;
  if (log != nullptr) {
    logger.addFlags(asmjit::FormatFlags::kMachineCode);
    holder.setLogger(&logger);
  }
  x86::Assembler assembler(&holder);
  Emitter emitter(code, options, assembler, default_bridges(),
                  log != nullptr ? &logger.content() : nullptr);
  Status emitted = emitter.emit();
  if (!emitted) return emitted.error();
  if (errors.failed()) return asmjit_error("emitting", errors.message());
  if (holder.flatten() != asmjit::kErrorOk || holder.resolveUnresolvedLinks() != asmjit::kErrorOk ||
      errors.failed())
    return asmjit_error("resolving labels", errors.message());
  if (log != nullptr) *log = std::string(logger.data(), logger.dataSize());

  const std::size_t size = holder.codeSize();
  auto memory = ExecMemory::create(size, [&](std::uint8_t* data, std::uint64_t address) -> Status {
    // The code is position-independent (labels are relative, bridges are absolute
    // immediates), so relocation only fixes asmjit's idea of the base address.
    if (holder.relocateToBase(address) != asmjit::kErrorOk)
      return asmjit_error("relocating", errors.message());
    if (holder.copyFlattenedData(data, size, asmjit::CopySectionFlags::kPadTargetBuffer) !=
        asmjit::kErrorOk)
      return asmjit_error("copying the code", errors.message());
    return Ok{};
  });
  if (!memory) return memory.error();
  return CompiledCode{std::move(*memory), emitter.layout()};
}

}  // namespace bpfvm::jit
