// Filters: a loaded classic program bound to one engine.
#include <bpfvm/classic.hpp>

#include <bpfvm/jit.hpp>

#include "classic/branch_free.hpp"
#include "classic/vector_filter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <limits>
#include <mutex>

namespace bpfvm::classic {
namespace {

using Form = detail::BranchFreeFilter::Form;

// One packet per call: which form of the branch-free code runs (branch_free_choice.cpp),
// decided once from the first `per_call_sample` packets it takes. Batches decide for themselves
// (Filter::run(span, span)).
// (The chosen form's function is Filter::FastPath::entry: null while sampling.)
struct PerCallChoice {
  std::mutex mutex;  // guards the profile (only while sampling)
  detail::BranchFreeFilter::FormProfile profile;
};

// Batches: one packet in every `batch_sample_every` is profiled (spread over each batch, at
// least one per batch once that many have gone by; one in `batch_sample_settled_every` once
// the profile holds `batch_profile_settled` packets), into a profile shared by every batch of
// the filter, in which old traffic fades (counts halve past `batch_profile_span` packets); the
// form is chosen again when a batch took samples or its cache estimate changed.
struct BatchChoice {
  std::mutex mutex;  // guards the rest
  detail::BranchFreeFilter::FormProfile profile;
  std::size_t unsampled = 0;  // packets since the last sample
  std::uint64_t random = 0x9e3779b97f4a7c15;
  // The sampled packets' bytes and count, halved with the profile: their average size.
  double sampled_bytes = 0, sampled = 0;
  // The last choice, and whether it was made for a batch out of the caches.
  detail::BranchFreeFilter::Form form = detail::BranchFreeFilter::Form::straight;
  bool chosen = false, chosen_out_of_cache = false;
  // The vector code against that form: which one is faster on this machine and traffic is
  // measured rather than modelled (how fast gathers are, and mask registers, varies more
  // between processors than anything the profile sees). A trial times batches of each in
  // turn; its winner runs until the form changes or `vector_trial_every` batches have gone.
  struct VectorTrial {
    Form against = Form::straight;
    int left = 0;                       // batches of the running trial still to time; 0: decided
    std::size_t until_next = 0;         // batches until the next trial
    double vector_ns = 0, form_ns = 0;  // the best ns per packet of each in the trial
    bool vector = false;                // the decision
  } trial;
};

}  // namespace

struct Filter::Compiled {
  std::optional<bpfvm::Program> ebpf;  // the translation, for the eBPF engines
  std::optional<JitProgram> jit;       // its machine code, for the JIT
  bool direct = false;                 // jit->direct_supported(), asked once
  // Engine::jit: the branch-free code, for packets of at least its min_caplen().
  std::optional<detail::BranchFreeFilter> branch_free;
  // And for batches, on hosts with AVX-512, the vector code (when it compiles the program).
  std::optional<detail::VectorFilter> vector;
  // run()'s fast path: the per-call choice's function, min_caplen, and whether the
  // branch-free code needs packets without ancillary values (it loads them as packet bytes).
  mutable FastPath fast;
  mutable PerCallChoice per_call;
  mutable BatchChoice batches;
};

namespace {

constexpr std::uint32_t per_call_sample = 1024;
constexpr std::size_t batch_sample_every = 256;
// A sample costs 65-100 ns (walking the program in C++), 0.3-0.4 ns per packet at one in 256,
// a tenth of what the code itself takes on packets in the caches: once the profile has
// settled, one in 2048 keeps following the traffic (its counts still halve every 1,024
// samples, two million packets) for an eighth of that.
constexpr std::size_t batch_sample_settled_every = 2048;
constexpr std::uint32_t batch_profile_settled = 256;
// At most this many per batch: a large batch needs no more for its decision, and on a capture
// larger than the caches each sample is a miss to memory.
constexpr std::size_t batch_sample_most = 64;
constexpr std::uint32_t batch_profile_span = 1024;
// A batch with more packet data than this is taken to be read from memory, not the caches
// (BranchFreeFilter::choose's out_of_cache): several times a core's L2 and share of a shared
// L3. The bench's 20,000 packets (5 MB, the forms' speeds set by their code) stay below it, its
// million (248 MB, set by the lines they read) far above.
constexpr double batch_cached_bytes = 32e6;
// The vector code's trials: this many batches timed (half each way, alternating), one every
// so many batches, on batches of at least so many packets (smaller ones run the form; their
// time says little).
constexpr int vector_trial_batches = 16;
constexpr std::size_t vector_trial_every = 1024;
constexpr std::size_t vector_smallest_batch = 64;

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

// A packet the branch-free code takes, while the per-call form is not chosen yet: profiled,
// then run by the straight-line code.
template <class Entry>
std::uint32_t sample_and_run(const detail::BranchFreeFilter& code, PerCallChoice& state,
                             std::atomic<Entry>& chosen, const Packet& packet) {
  {
    std::lock_guard lock(state.mutex);
    if (chosen.load(std::memory_order_relaxed) == nullptr) {
      code.profile(packet, state.profile);
      if (state.profile.packets == per_call_sample) {
        chosen.store(code.entry(code.choose(state.profile)), std::memory_order_release);
      }
    }
  }
  return code.run(packet.data.data(), packet.data.size(), packet.wire_length);
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
        compiled->fast.min_caplen = branch_free->min_caplen();
        compiled->fast.needs_no_ancillary = options.ancillary && branch_free->reads_ancillary();
        compiled->branch_free.emplace(std::move(*branch_free));
        if (options.vector && detail::VectorFilter::host_supported()) {
          auto vector = detail::VectorFilter::compile(program);
          if (vector) compiled->vector.emplace(std::move(*vector));
        }
      }
    }
  }
  return Filter(program, engine, std::move(compiled));
}

Filter::Filter(Program program, Engine engine, std::shared_ptr<const Compiled> compiled)
    : program_(std::move(program)),
      engine_(engine),
      compiled_(std::move(compiled)),
      fast_(&compiled_->fast) {}

// run() inline calls the chosen form of the branch-free code on a packet it takes; the rest
// comes here. (The filter's flag is tested before the packet's pointer: for the usual program
// without ancillary loads that is one branch not taken, not a load and a taken one.)
std::uint32_t Filter::run_other(const Packet& packet) const {
  const Compiled& compiled = *compiled_;
  auto takes = [&compiled](const Packet& p) {
    return p.data.size() >= compiled.fast.min_caplen &&
           (!compiled.fast.needs_no_ancillary || p.ancillary == nullptr);
  };
  if (engine_ == Engine::interpreter) return classic::run(program_, packet);
  // Everything else out of line (a lambda, which may use the members), so that the fast path
  // above does not pay for the slow one's stack frame and saved registers.
  auto slow = [ this, &packet, takes ]() __attribute__((noinline))->std::uint32_t {
    const Compiled& compiled = *compiled_;
    if (compiled.branch_free && takes(packet))
      return sample_and_run(*compiled.branch_free, compiled.per_call, compiled.fast.entry, packet);
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
  };
  return slow();
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
  const bool no_ancillary = compiled_->fast.needs_no_ancillary;
  auto takes = [&](const Packet& packet) {
    return packet.data.size() >= min_caplen && (packet.ancillary == nullptr || !no_ancillary);
  };
  Form form = Form::straight;
  {
    BatchChoice& choice = compiled_->batches;
    std::lock_guard lock(choice.mutex);
    detail::BranchFreeFilter::FormProfile& profile = choice.profile;
    if (profile.packets >= batch_profile_span) {
      profile.fade();
      choice.sampled_bytes /= 2, choice.sampled /= 2;
    }
    choice.unsampled += n;
    const std::size_t every =
        profile.packets < batch_profile_settled ? batch_sample_every : batch_sample_settled_every;
    const std::size_t samples = std::min(choice.unsampled / every, batch_sample_most);
    choice.unsampled = samples == batch_sample_most ? 0 : choice.unsampled % every;
    if (samples > 0) {
      // One packet from each of `samples` equal parts, at a pseudo-random place in it: a fixed
      // stride could fall in step with periodic traffic and see only one kind of packet.
      const std::size_t stride = n / samples;
      for (std::size_t s = 0; s < samples; ++s) {
        choice.random ^= choice.random << 13, choice.random ^= choice.random >> 7,
            choice.random ^= choice.random << 17;  // xorshift64
        const Packet& packet = packets[s * stride + choice.random % stride];
        choice.sampled_bytes += static_cast<double>(packet.data.size());
        ++choice.sampled;
        if (takes(packet)) code->profile(packet, profile);
      }
    }
    // The batch's packet data, estimated from the samples' average size (this batch's and
    // earlier ones', as a batch may have none): past the caches, the cache lines each form
    // reads count in the choice.
    const bool out_of_cache =
        choice.sampled > 0 &&
        choice.sampled_bytes * static_cast<double>(n) / choice.sampled > batch_cached_bytes;
    // Chosen again only when the profile or the cache estimate changed: most batches of a
    // settled profile take no sample.
    if (samples > 0 || !choice.chosen || out_of_cache != choice.chosen_out_of_cache) {
      choice.form = code->choose(profile, out_of_cache);
      choice.chosen = true, choice.chosen_out_of_cache = out_of_cache;
    }
    form = choice.form;
  }
  if (compiled_->vector && n >= vector_smallest_batch &&
      run_vector_or(static_cast<int>(form), packets, verdicts))
    return;
  run_form(static_cast<int>(form), packets, verdicts);
}

// The vector code on the batch, when its trial says it is faster than `form` (or a trial wants
// this batch timed): returns false when the caller is to run `form` itself (untimed).
bool Filter::run_vector_or(int form_index, std::span<const Packet> packets,
                           std::span<std::uint32_t> verdicts) const {
  const auto form = static_cast<Form>(form_index);
  BatchChoice::VectorTrial& trial = compiled_->batches.trial;
  bool timed = false, vector = false;
  {
    std::lock_guard lock(compiled_->batches.mutex);
    if (trial.left == 0 && (trial.until_next == 0 || trial.against != form)) {
      trial = {};
      trial.against = form;
      trial.left = vector_trial_batches;
      trial.vector_ns = trial.form_ns = std::numeric_limits<double>::infinity();
    }
    if (trial.left > 0) {
      timed = true;
      vector = trial.left % 2 == 0;
      --trial.left;
    } else {
      --trial.until_next;
      vector = trial.vector;
    }
  }
  if (!timed && !vector) return false;
  const auto start = std::chrono::steady_clock::now();
  if (vector)
    run_vector(packets, verdicts);
  else
    run_form(form_index, packets, verdicts);
  if (timed) {
    const double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
        static_cast<double>(packets.size());
    std::lock_guard lock(compiled_->batches.mutex);
    if (trial.against == form) {
      double& best = vector ? trial.vector_ns : trial.form_ns;
      best = std::min(best, ns);
      if (trial.left == 0) {
        trial.vector = trial.vector_ns < trial.form_ns;
        trial.until_next = vector_trial_every;
      }
    }
  }
  return true;
}

// The vector code on whole groups of eight; the packets it leaves (a group holding a packet it
// does not take, the last partial group) one by one.
void Filter::run_vector(std::span<const Packet> packets, std::span<std::uint32_t> verdicts) const {
  const detail::VectorFilter& vector = *compiled_->vector;
  const std::size_t n = packets.size();
  const Packet* const first = packets.data();
  const Packet* const end = first + n;
  for (std::size_t i = 0; i < n;) {
    i = static_cast<std::size_t>(vector.loop()(first + i, end, verdicts.data() + i, end) - first);
    for (const std::size_t stop = std::min(n, i + detail::VectorFilter::lanes); i < stop; ++i)
      verdicts[i] = run(packets[i]);
  }
}

// The branch-free code's `form` on the batch.
void Filter::run_form(int form_index, std::span<const Packet> packets,
                      std::span<std::uint32_t> verdicts) const {
  const auto form = static_cast<Form>(form_index);
  constexpr std::size_t ahead = detail::loop_prefetch_ahead;
  const std::size_t n = packets.size();
  const detail::BranchFreeFilter* code = &*compiled_->branch_free;
  // The loop generated with the filter: no call and no register saving per packet. It stops
  // at each packet it does not take, which run() filters instead.
  if (const detail::BranchFreeFilter::Loop loop = code->loop(form)) {
    const Packet* const first = packets.data();
    const Packet* const end = first + n;
    const Packet* const prefetch_end = n > ahead ? end - ahead : first;
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
  const std::uint64_t min_caplen = code->min_caplen();
  const bool no_ancillary = compiled_->fast.needs_no_ancillary;
  auto takes = [&](const Packet& packet) {
    return packet.data.size() >= min_caplen && (packet.ancillary == nullptr || !no_ancillary);
  };
  const detail::BranchFreeFilter::Entry entry = code->entry(form);
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
