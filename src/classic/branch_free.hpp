// Classic filters compiled straight to x86-64 without data-dependent branches.
//
// A filter from pcap_compile is a forward DAG of comparisons of packet fields against
// constants. On mixed traffic its branches depend on random header values (EtherType, IP
// protocol, ports), and each mispredicted one costs more than the whole comparison; the eBPF
// translation on the JIT and libpcap's interpreter take the same branches, so they run at
// about the same speed. This compiler if-converts the whole program instead: every
// instruction runs, in order, and a 0/1 "reached" flag per instruction, copied from its
// predecessors' with cmov (cleared when a jump's condition goes the other way) and or,
// says whether the packet's path goes through it. A `ret` sets the result with cmov when its
// flag is set (exactly one `ret` is reached, or none when the packet is rejected). Values that
// differ between paths (A, X, M[k] live at a join and overwritten by the instructions skipped by a
// jump) are saved at the jump and restored with cmov when that edge was the one taken.
//
// Packet loads must not fault on paths not taken: the code requires caplen >= min_caplen()
// (the furthest end of every absolute load, checked once by the caller, which runs the
// branchy engine on shorter packets). When min_caplen() >= 4 the first indirect load after
// each write of X compares X + the furthest end of the indirect loads that run with that X
// with caplen once, and branches out to the branchy form's code for the whole packet when it
// is beyond (rare: a capture cutting the transport header); the loads then read the packet
// directly. Otherwise an indirect load compares X + k + size with caplen, reads a stack slot
// instead of the packet when it is out of bounds, and clears the flag of its path (the packet
// is rejected when that path is the one taken). Division and modulo by
// X divide by 1 when X is 0 and clear the flag the same way.
//
// A Linux ancillary load (k >= SKF_AD_OFF) is compiled as an ordinary load checked like an
// indirect one, which is what it is on a packet without ancillary values: callers must not
// run such code on packets that carry them (reads_ancillary()).
//
// Programs with backward jumps (protochain), absolute loads ending beyond 2^31 (other than
// ancillary ones), more than max_branch_free_insns instructions or a frame larger than
// max_branch_free_frame are not compiled: compile()
// says why, and the caller keeps the translation on the eBPF JIT for them.
//
// Beside this straight-line form the compiler emits a dispatched one (branch_free_dispatch.hpp)
// and a branchy one (the program with real branches, for traffic whose branches are
// predictable); each has a one-packet function and a batch loop that walks Packet descriptors
// itself. Which runs is chosen from a profile of the traffic (branch_free_choice.cpp).
#pragma once

#include <bpfvm/classic.hpp>
#include <bpfvm/result.hpp>

#include "classic/branch_free_dispatch.hpp"
#include "jit/exec_memory.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bpfvm::classic::detail {

// Longer programs usually take a short path through many instructions: evaluating all of them
// would cost more than the branches it saves.
inline constexpr std::size_t max_branch_free_insns = 256;

// Jumps that skip stores to many scratch words live at their target each save them all: a
// program of 256 instructions could need 17 KB of stack. The code runs on the caller's stack,
// which may be a small thread's: larger frames are not compiled.
inline constexpr std::int32_t max_branch_free_frame = 4096;

// Where a classic::Packet keeps its fields, for the batch loop, which reads the descriptors
// itself: found once by looking at a Packet's bytes (std::span's members are the standard
// library's business), so a layout other than {pointer, size} is noticed, not misread.
struct PacketLayout {
  std::int32_t stride = 0;  // sizeof(Packet)
  std::int32_t data = 0, size = 0, wire = 0, ancillary = 0;
};
// The layout, or nothing when a field was not found where a load of its width could read it.
const std::optional<PacketLayout>& packet_layout();

// The batch loop prefetches the headers of the packet this many places ahead: far enough for
// a miss to the last-level cache (or memory) to land before the filter gets there, near enough
// to stay in L1 meanwhile.
inline constexpr std::size_t loop_prefetch_ahead = 16;

class BranchFreeFilter {
 public:
  // The code run over a batch of packets in one call (Filter::run(span, span)): the packets
  // from `first` up to `end`, each verdict written to `verdicts` and on, with the headers of
  // the packet loop_prefetch_ahead places on prefetched while the current one is below
  // `prefetch_end`. It stops at the first packet it does not take (shorter than min_caplen(),
  // or with ancillary values when reads_ancillary()) and returns that packet's address, or
  // `end`: the caller runs that one otherwise and calls again from the next.
  using Loop = const Packet* (*)(const Packet* first, const Packet* end, std::uint32_t* verdicts,
                                 const Packet* prefetch_end);

  // data, caplen (at least min_caplen()), wire length; returns the verdict.
  using Entry = std::uint32_t (*)(const std::uint8_t* data, std::uint64_t caplen,
                                  std::uint32_t wire_length);

  // Compiles `program`, or says why it does not (Error::Kind::usage for a program outside
  // what this compiler handles, see above).
  // `log`, when not null, receives the generated code as assembly text.
  static Result<BranchFreeFilter> compile(const Program& program, std::string* log = nullptr);

  // The shortest captured length the code may run on: packets shorter than this go to
  // another engine.
  std::uint64_t min_caplen() const { return min_caplen_; }

  std::uint32_t run(const std::uint8_t* data, std::uint64_t caplen,
                    std::uint32_t wire_length) const {
    return entry_(data, caplen, wire_length);
  }

  // The branchy form: the program with real branches, for packets of at least min_caplen()
  // bytes like the others; cheaper than both branch-free forms on traffic whose branches the
  // predictor gets right. (The name is the compiler's: this one form has branches.)
  std::uint32_t run_branchy(const std::uint8_t* data, std::uint64_t caplen,
                            std::uint32_t wire_length) const {
    return branchy_entry_(data, caplen, wire_length);
  }

  // Whether the program has ancillary loads, which this code treats as packet loads.
  bool reads_ancillary() const { return reads_ancillary_; }

  std::size_t code_size() const { return memory_.size(); }

  // The same function with the program's first tests as real branches in front
  // (branch_free_dispatch.hpp), when the program starts with a dispatch: for traffic that
  // mostly takes one way there.
  bool has_dispatch() const { return dispatch_.has_value(); }
  std::uint32_t run_dispatched(const std::uint8_t* data, std::uint64_t caplen,
                               std::uint32_t wire_length) const {
    return dispatched_entry_(data, caplen, wire_length);
  }
  // has_dispatch(): the number of ways out of the dispatch, and the one a packet (of at least
  // min_caplen() bytes) takes.
  Entry entry(bool dispatched) const { return dispatched ? dispatched_entry_ : entry_; }
  std::size_t exit_count() const { return dispatch_ ? dispatch_->exits.size() : 0; }
  std::size_t exit_of(const std::uint8_t* data) const;
  // The dispatch itself, or null (for bench/classic's partition prototype).
  const BranchFreeDispatch* dispatch() const { return dispatch_ ? &*dispatch_ : nullptr; }

  // The batch loop around the straight-line or the dispatched code; null when there is none
  // (no dispatch, or no packet layout it can read).
  Loop loop(bool dispatched) const { return dispatched ? dispatched_loop_ : loop_; }

  // The three forms; which one a batch runs is chosen from a sample of its packets.
  enum class Form { straight, dispatched, branchy };
  Entry entry(Form form) const {
    return form == Form::branchy ? branchy_entry_ : entry(form == Form::dispatched);
  }
  Loop loop(Form form) const {
    return form == Form::branchy ? branchy_loop_ : loop(form == Form::dispatched);
  }
  // Sampling traffic (branch_free_choice.cpp): profile() walks a packet (of at least
  // min_caplen() bytes, without ancillary values if reads_ancillary()) through the program and
  // counts where it went; choose() names the form expected to be the fastest on such packets.
  struct FormProfile {
    std::vector<std::uint32_t> taken, not_taken;  // per instruction: conditional jumps
    std::array<std::uint32_t, 2 * max_dispatch_tests> exits{};  // per dispatch exit
    double executed = 0;                                        // instructions, all packets
    // Cache lines of packet data read, all packets: by the straight-line code, and by the
    // loads on each packet's path (the branchy and, nearly, the dispatched code).
    double straight_lines = 0, path_lines = 0;
    std::uint32_t packets = 0;
    // Halves every count, so that newer traffic weighs more.
    void fade();
  };
  void profile(const Packet& packet, FormProfile& into) const;
  // `out_of_cache`: the batch's packet data is larger than the caches, so that the lines each
  // form reads weigh in (line_bytes each).
  Form choose(const FormProfile& profile, bool out_of_cache = false) const;

 private:
  BranchFreeFilter(Program program, jit::ExecMemory memory, std::uint64_t min_caplen,
                   bool reads_ancillary)
      : program_(std::move(program)),
        memory_(std::move(memory)),
        entry_(reinterpret_cast<Entry>(const_cast<std::uint8_t*>(memory_.data()))),
        min_caplen_(min_caplen),
        reads_ancillary_(reads_ancillary) {}

  Program program_;  // for exit_of()
  jit::ExecMemory memory_;
  Entry entry_;
  std::uint64_t min_caplen_;
  bool reads_ancillary_;
  // The dispatched form, when there is a dispatch.
  std::optional<BranchFreeDispatch> dispatch_;
  jit::ExecMemory dispatched_memory_;
  Entry dispatched_entry_ = nullptr;
  std::vector<std::size_t> exit_bytes_;  // per exit: the size of the code it runs
  // The batch loops, one per form.
  jit::ExecMemory loop_memory_, dispatched_loop_memory_;
  Loop loop_ = nullptr, dispatched_loop_ = nullptr;
  // The branchy form (function and loop).
  jit::ExecMemory branchy_memory_, branchy_loop_memory_;
  Entry branchy_entry_ = nullptr;
  Loop branchy_loop_ = nullptr;
  std::size_t branchy_bytes_ = 0;
  // The bytes of the straight-line function a packet runs (without the branchy code a packet
  // whose indexed loads may be out of bounds branches out to), for the cost model.
  std::size_t straight_bytes_ = 0;
  // The bytes from absolute_from_ up to absolute_to_ hold every absolute load (the straight-line
  // code reads them all, for the cost model's cache lines); both 0 without absolute loads.
  std::uint64_t absolute_from_ = 0, absolute_to_ = 0;
};

}  // namespace bpfvm::classic::detail
