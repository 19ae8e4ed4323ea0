// Filters: a loaded classic program bound to one engine.
#include <bpfvm/classic.hpp>

#include <bpfvm/jit.hpp>

#include "classic/branch_free.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>

namespace bpfvm::classic {
namespace {

// With a dispatch (branch_free_dispatch.hpp), one packet per call: whether the dispatched code
// runs, decided once from where the first `per_call_sample` packets went. Batches decide for
// themselves (Filter::run(span, span)).
struct PerCallChoice {
  std::atomic<int> choice{0};  // 0 undecided, 1 the straight-line code, 2 the dispatched code
  std::atomic<std::uint32_t> sampled{0};
  std::array<std::atomic<std::uint32_t>, 2 * detail::max_dispatch_tests> histogram{};
};

}  // namespace

struct Filter::Compiled {
  std::optional<bpfvm::Program> ebpf;  // the translation, for the eBPF engines
  std::optional<JitProgram> jit;       // its machine code, for the JIT
  bool direct = false;                 // jit->direct_supported(), asked once
  // Engine::jit: the branch-free code, for packets of at least its min_caplen().
  std::optional<detail::BranchFreeFilter> branch_free;
  // It loads ancillary values as packet bytes: only right for packets without them.
  bool branch_free_needs_no_ancillary = false;
  mutable PerCallChoice per_call;
};

namespace {

constexpr std::uint32_t per_call_sample = 1024;
// A batch samples this many of its packets (spread over it) when it has at least
// batch_sample_from; a smaller one goes by the per-call decision.
constexpr std::size_t batch_sample = 128;
constexpr std::size_t batch_sample_from = 512;

// The first 64 bytes of a packet, where the headers are; they often straddle two cache lines.
// The second address is computed as an integer: it may lie past a short packet, which a
// prefetch (a hint, never a fault) does not mind, but pointer arithmetic would. No branch on
// the packet's length either: lengths are random, and a mispredicted clamp cost more than the
// filter (written out rather than as a lambda with an early return, which GCC 12 compiled
// to no prefetch at all).
inline void prefetch_headers(const Packet& packet) {
  const std::uintptr_t data = reinterpret_cast<std::uintptr_t>(packet.data.data());
  __builtin_prefetch(reinterpret_cast<const void*>(data));
  __builtin_prefetch(reinterpret_cast<const void*>(data + 63));
}

}  // namespace

std::string_view engine_name(Engine engine) {
  switch (engine) {
    case Engine::interpreter: return "interp";
    case Engine::ebpf_interpreter: return "ebpf";
    case Engine::jit: return "jit";
  }
  return "?";
}

namespace {

std::uint32_t run_branch_free(const detail::BranchFreeFilter& code, PerCallChoice& state,
                              const Packet& packet) {
  const std::uint8_t* data = packet.data.data();
  if (code.has_dispatch()) {
    const int choice = state.choice.load(std::memory_order_relaxed);
    if (choice == 2) return code.run_dispatched(data, packet.data.size(), packet.wire_length);
    if (choice == 0) {
      // The first packets: count where the dispatch sends them (racing threads may count a
      // few more or fewer; either code gives the same verdicts).
      const std::uint32_t n = state.sampled.fetch_add(1, std::memory_order_relaxed);
      if (n < per_call_sample) {
        state.histogram[code.exit_of(data)].fetch_add(1, std::memory_order_relaxed);
        if (n + 1 == per_call_sample) {
          std::array<std::uint32_t, 2 * detail::max_dispatch_tests> counts{};
          for (std::size_t e = 0; e < code.exit_count(); ++e)
            counts[e] = state.histogram[e].load(std::memory_order_relaxed);
          state.choice.store(code.dispatch_pays(std::span(counts).first(code.exit_count())) ? 2 : 1,
                             std::memory_order_relaxed);
        }
      }
    }
  }
  return code.run(data, packet.data.size(), packet.wire_length);
}

}  // namespace

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
    return run_branch_free(*compiled_->branch_free, compiled_->per_call, packet);
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
  // How far ahead to prefetch (as the generated loop does).
  constexpr std::size_t ahead = detail::loop_prefetch_ahead;
  const std::size_t n = packets.size();
  for (std::size_t i = 0; i < std::min(ahead, n); ++i) prefetch_headers(packets[i]);
  const detail::BranchFreeFilter* code =
      engine_ == Engine::jit && compiled_->branch_free ? &*compiled_->branch_free : nullptr;
  if (code == nullptr) {
    for (std::size_t i = 0; i < n; ++i) {
      if (i + ahead < n) prefetch_headers(packets[i + ahead]);
      verdicts[i] = run(packets[i]);
    }
    return;
  }
  const std::uint64_t min_caplen = code->min_caplen();
  const bool no_ancillary = compiled_->branch_free_needs_no_ancillary;
  auto takes = [&](const Packet& packet) {
    return packet.data.size() >= min_caplen && (packet.ancillary == nullptr || !no_ancillary);
  };
  // With a dispatch, a large batch samples where its own packets go (a header field of every
  // packet_count / batch_sample-th packet) to choose between the two codes; a small one goes
  // by the per-call decision.
  bool dispatched = false;
  if (code->has_dispatch()) {
    if (packets.size() >= batch_sample_from) {
      std::array<std::uint32_t, 2 * detail::max_dispatch_tests> counts{};
      const std::size_t stride = packets.size() / batch_sample;
      for (std::size_t i = 0; i < packets.size(); i += stride)
        if (takes(packets[i])) ++counts[code->exit_of(packets[i].data.data())];
      dispatched = code->dispatch_pays(std::span(counts).first(code->exit_count()));
    } else {
      dispatched = compiled_->per_call.choice.load(std::memory_order_relaxed) == 2;
    }
  }
  // The loop generated with the filter: no call and no register saving per packet. It stops
  // at each packet it does not take, which run() filters instead.
  if (const detail::BranchFreeFilter::Loop loop = code->loop(dispatched)) {
    const Packet* const first = packets.data();
    const Packet* const end = first + n;
    const Packet* const prefetch_end =
        n > detail::loop_prefetch_ahead ? end - detail::loop_prefetch_ahead : first;
    std::size_t i = 0;
    while (i < n) {
      i = static_cast<std::size_t>(loop(first + i, end, verdicts.data() + i, prefetch_end) - first);
      if (i < n) {
        if (i + ahead < n) prefetch_headers(packets[i + ahead]);
        verdicts[i] = run(packets[i]);
        ++i;
      }
    }
    return;
  }
  const detail::BranchFreeFilter::Entry entry = code->entry(dispatched);
  for (std::size_t i = 0; i < n; ++i) {
    if (i + ahead < n) prefetch_headers(packets[i + ahead]);
    const Packet& packet = packets[i];
    if (takes(packet))
      verdicts[i] = entry(packet.data.data(), packet.data.size(), packet.wire_length);
    else
      verdicts[i] = run(packet);
  }
}

bool Filter::branch_free() const { return compiled_->branch_free.has_value(); }

std::uint64_t Filter::branch_free_min_caplen() const {
  return compiled_->branch_free ? compiled_->branch_free->min_caplen() : 0;
}

}  // namespace bpfvm::classic
