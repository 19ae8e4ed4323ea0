// The public JIT API: compile, run (variants compiled on first use), and engine choice.
#include <bpfvm/jit.hpp>

#include "jit/compiler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace bpfvm {

// Four variants of machine code: checked or not, counting instructions or not. compile()
// builds the one its options name; run() builds any other the first time it needs it.
struct JitProgram::Impl {
  struct Variant {
    std::once_flag once;
    // Set once the variant is settled: runs then skip std::call_once (a call into the
    // threads library on every run).
    std::atomic<bool> settled{false};
    std::optional<jit::CompiledCode> code;
    std::optional<Error> error;
  };

  Program program;
  JitOptions options;
  std::uint64_t blinding_seed = 0;
  Variant variants[4];
  // run_direct's code: set by compile() when the program qualifies (jit.hpp).
  jit::CompiledCode::Entry direct = nullptr;

  Impl(Program p, const JitOptions& o) : program(std::move(p)), options(o) {}

  static int variant_index(bool checked, bool counting) {
    return (checked ? 1 : 0) | (counting ? 2 : 0);
  }

  const Variant& variant(bool checked, bool counting) {
    Variant& v = variants[variant_index(checked, counting)];
    if (v.settled.load(std::memory_order_acquire)) return v;
    std::call_once(v.once, [&] {
      jit::EmitOptions emit;
      emit.checked = checked;
      emit.count_instructions = counting;
      emit.blind_constants = options.blind_constants;
      auto compiled = jit::compile_code(program.code(), emit);
      if (compiled)
        v.code.emplace(std::move(*compiled));
      else
        v.error = compiled.error();
      v.settled.store(true, std::memory_order_release);
    });
    return v;
  }
};

bool jit_supported() {
#if defined(__x86_64__)
  return true;
#else
  return false;
#endif
}

namespace {
Error unsupported_host() {
  return make_error(Error::Kind::usage, "the JIT compiles for x86-64 hosts only");
}

// Whether no run of `code` can leave its code early: no helper, callx or local call (the only
// stops of unchecked, uncounted code), so run_direct needs no error path.
bool calls_nothing(const detail::Code& code) {
  return std::none_of(code.slots.begin(), code.slots.end(), [](const detail::CodeInsn& insn) {
    return insn.op == Op::CALL_HELPER || insn.op == Op::CALLX || insn.op == Op::CALL_LOCAL ||
           insn.op == Op::CALL_BTF;
  });
}
}  // namespace

Result<JitProgram> JitProgram::compile(const Program& program, const JitOptions& options) {
  if (!jit_supported()) return unsupported_host();
  auto impl = std::make_shared<Impl>(program, options);
  bool counting = options.count_instructions || options.budget_guard.has_value();
  const Impl::Variant& variant =
      impl->variant(options.memory_mode == MemoryMode::checked, counting);
  if (!variant.code) return *variant.error;
  if (options.memory_mode == MemoryMode::unchecked && !counting && calls_nothing(program.code()))
    impl->direct = variant.code->entry();
  return JitProgram(std::move(impl));
}

bool JitProgram::direct_supported() const { return impl_->direct != nullptr; }

std::uint64_t JitProgram::run_direct(const RunInput& input) const {
  return jit::run_direct(impl_->direct, input);
}

Result<std::uint64_t> JitProgram::run(const RunInput& input, const RunOptions& options) const {
  std::optional<std::uint64_t> budget = options.budget;
  if (impl_->options.budget_guard)
    budget = std::min(budget.value_or(*impl_->options.budget_guard), *impl_->options.budget_guard);
  bool checked = options.memory_mode == MemoryMode::checked;
  const Impl::Variant& variant = impl_->variant(checked, budget.has_value());
  if (!variant.code) {
    // This variant did not compile (out of memory, most likely): the interpreter runs the
    // same program with the same semantics.
    RunOptions fallback = options;
    fallback.budget = budget;
    return interpret(impl_->program, input, fallback);
  }
  return jit::run_compiled(*variant.code, impl_->program.code(), input, options, budget);
}

const Program& JitProgram::program() const { return impl_->program; }
const JitOptions& JitProgram::options() const { return impl_->options; }

std::size_t JitProgram::code_size() const {
  const JitOptions& o = impl_->options;
  bool counting = o.count_instructions || o.budget_guard.has_value();
  const Impl::Variant& v = impl_->variant(o.memory_mode == MemoryMode::checked, counting);
  return v.code ? v.code->memory.size() : 0;
}

Result<std::uint64_t> run_program(Engine engine, const Program& program, const RunInput& input,
                                  const RunOptions& options, std::string* note) {
  if (engine == Engine::interpreter) return interpret(program, input, options);
  JitOptions jit_options;
  jit_options.memory_mode = options.memory_mode;
  jit_options.count_instructions = options.budget.has_value();
  auto compiled = JitProgram::compile(program, jit_options);
  if (compiled) return compiled->run(input, options);
  if (engine == Engine::jit) return compiled.error();
  if (note != nullptr)
    *note = "the JIT did not compile the program, so the interpreter runs it: " +
            compiled.error().to_string();
  return interpret(program, input, options);
}

}  // namespace bpfvm
