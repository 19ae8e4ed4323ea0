// Filters: a loaded classic program bound to one engine.
#include <bpfvm/classic.hpp>

#include <bpfvm/jit.hpp>

#include "classic/branch_free.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace bpfvm::classic {

struct Filter::Compiled {
  std::optional<bpfvm::Program> ebpf;  // the translation, for the eBPF engines
  std::optional<JitProgram> jit;       // its machine code, for the JIT
  bool direct = false;                 // jit->direct_supported(), asked once
  // Engine::jit: the branch-free code, for packets of at least its min_caplen().
  std::optional<detail::BranchFreeFilter> branch_free;
  // It loads ancillary values as packet bytes: only right for packets without them.
  bool branch_free_needs_no_ancillary = false;
};

std::string_view engine_name(Engine engine) {
  switch (engine) {
    case Engine::interpreter: return "interp";
    case Engine::ebpf_interpreter: return "ebpf";
    case Engine::jit: return "jit";
  }
  return "?";
}

std::optional<Engine> parse_engine(std::string_view name) {
  if (name == "interp" || name == "interpreter") return Engine::interpreter;
  if (name == "ebpf") return Engine::ebpf_interpreter;
  if (name == "jit") return Engine::jit;
  return std::nullopt;
}

Result<Filter> Filter::create(const Program& program, Engine engine,
                              const TranslateOptions& options) {
  auto compiled = std::make_shared<Compiled>();
  if (engine != Engine::interpreter) {
    auto ebpf = translate(program, options);
    if (!ebpf) return ebpf.error();
    compiled->ebpf = std::move(*ebpf);
  }
  if (engine == Engine::jit) {
    // The translation checks every packet access itself, so the unchecked variant is safe.
    JitOptions jit_options;
    jit_options.memory_mode = MemoryMode::unchecked;
    auto jit = JitProgram::compile(*compiled->ebpf, jit_options);
    if (!jit) return jit.error();
    compiled->jit = std::move(*jit);
    compiled->direct = compiled->jit->direct_supported();
    // The translation stays: it runs programs and packets the branch-free code does not take.
    if (options.branch_free) {
      auto branch_free = detail::BranchFreeFilter::compile(program);
      if (branch_free) {
        compiled->branch_free_needs_no_ancillary =
            options.ancillary && branch_free->reads_ancillary();
        compiled->branch_free.emplace(std::move(*branch_free));
      }
    }
  }
  return Filter(program, engine, std::move(compiled));
}

std::uint32_t Filter::run(const Packet& packet) const {
  if (engine_ == Engine::interpreter) return classic::run(program_, packet);
  if (compiled_->branch_free && packet.data.size() >= compiled_->branch_free->min_caplen() &&
      (packet.ancillary == nullptr || !compiled_->branch_free_needs_no_ancillary))
    return compiled_->branch_free->run(packet.data.data(), packet.data.size(), packet.wire_length);
  auto run_translated = [this](TranslatedContext& context) -> std::uint32_t {
    // Unchecked: the translation bounds-checks every packet access itself and reads the
    // context only at fixed offsets inside it, so the engines need no regions (and the JIT
    // then sets none up, which keeps the per-packet cost down).
    RunInput input;
    input.context = &context;
    static const RunOptions unchecked = [] {
      RunOptions options;
      options.memory_mode = MemoryMode::unchecked;
      return options;
    }();
    // The translation calls nothing, so the JIT's lean entry runs it: a direct call into the
    // code, without the per-run set-up run() does for errors, regions and budgets.
    if (compiled_->direct) return static_cast<std::uint32_t>(compiled_->jit->run_direct(input));
    auto result = engine_ == Engine::jit ? compiled_->jit->run(input, unchecked)
                                         : interpret(*compiled_->ebpf, input, unchecked);
    return result ? static_cast<std::uint32_t>(*result) : 0;
  };
  if (packet.ancillary != nullptr) {
    // set() calls Ancillary::value, which could run another filter on this thread: a context
    // of its own.
    TranslatedContext context;
    context.set(packet);
    return run_translated(context);
  }
  // Per thread rather than local: a local context's ancillary array would be zeroed on every
  // packet, which costs as much as a small filter on the JIT. Without ancillary values set()
  // writes every field the translation reads (it reads the ancillary values only when
  // has_ancillary says set() wrote them) and calls no user code, and a run calls nothing, so
  // nothing can re-enter this thread's context meanwhile.
  static thread_local TranslatedContext per_thread;
  per_thread.set(packet);
  return run_translated(per_thread);
}

void Filter::run(std::span<const Packet> packets, std::span<std::uint32_t> verdicts) const {
  // How far ahead to prefetch: far enough for a miss to the last-level cache (or memory) to
  // land before the filter gets there, near enough to stay in L1 meanwhile.
  constexpr std::size_t ahead = 16;
  auto prefetch = [&](std::size_t i) {
    if (i >= packets.size() || packets[i].data.empty()) return;
    std::span<const std::uint8_t> data = packets[i].data;
    __builtin_prefetch(data.data());
    // The headers often straddle two cache lines (pointers stay inside the packet).
    __builtin_prefetch(data.data() + std::min<std::size_t>(data.size() - 1, 63));
  };
  for (std::size_t i = 0; i < ahead; ++i) prefetch(i);
  const detail::BranchFreeFilter* code =
      engine_ == Engine::jit && compiled_->branch_free ? &*compiled_->branch_free : nullptr;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    prefetch(i + ahead);
    const Packet& packet = packets[i];
    if (code != nullptr && packet.data.size() >= code->min_caplen() &&
        (packet.ancillary == nullptr || !compiled_->branch_free_needs_no_ancillary))
      verdicts[i] = code->run(packet.data.data(), packet.data.size(), packet.wire_length);
    else
      verdicts[i] = run(packet);
  }
}

bool Filter::branch_free() const { return compiled_->branch_free.has_value(); }

std::uint64_t Filter::branch_free_min_caplen() const {
  return compiled_->branch_free ? compiled_->branch_free->min_caplen() : 0;
}

}  // namespace bpfvm::classic
