// Choosing the form of a filter's code for a batch (branch_free.hpp, BranchFreeFilter::choose).
//
// The three forms compute the same verdicts; their speed depends on the traffic, which the
// compiler cannot see. The straight-line code costs the same on every packet; the dispatched
// code skips the parts of the program that a packet's link type does not need and pays a
// mispredicted branch whenever the link type changes; the branchy code runs only the
// instructions on the packet's path and pays a misprediction for every branch that goes the
// less common way. A sample of the batch's own packets is walked through the program here (in
// C++: which instructions run, which way each jump goes), and each form's cost is estimated in
// code bytes, the unit of the dispatch's cost model (branch_free_dispatch.hpp): the bytes of
// host code a packet runs, plus mispredict_bytes per expected misprediction, plus, on a batch
// larger than the caches, line_bytes per cache line of packet data the form reads.
#include "classic/branch_free.hpp"

#include "classic/branch_free_dispatch.hpp"
#include "classic/code.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <limits>
#include <vector>

namespace bpfvm::classic::detail {
namespace {

std::uint32_t load_be(const std::uint8_t* p, int size) {
  std::uint32_t value = 0;
  for (int b = 0; b < size; ++b) value = (value << 8) | p[b];
  return value;
}

constexpr std::uint64_t line_size = 64;

// The cache lines holding bytes [from, to) of the packet at `data`, as bits from the line of its
// first byte (lines past the 64th are left out: filters read headers).
std::uint64_t lines_of(const std::uint8_t* data, std::uint64_t from, std::uint64_t to) {
  if (to <= from) return 0;
  const std::uint64_t base = reinterpret_cast<std::uintptr_t>(data) % line_size;
  const std::uint64_t first = (base + from) / line_size, last = (base + to - 1) / line_size;
  std::uint64_t bits = 0;
  for (std::uint64_t line = first; line <= last && line < 64; ++line)
    bits |= std::uint64_t{1} << line;
  return bits;
}

// Walks `packet` through the program as the classic interpreter would (libpcap's semantics;
// an ancillary load is an out-of-bounds load, as in the code the batch runs), counting per
// conditional jump how often it is taken and not, and returns the instructions executed.
// `lines`, when not null, gets a bit for each cache line of the packet the walk reads (bit 0:
// the line holding the packet's first byte; loads 4 KB or further in are not counted).
std::uint32_t walk(const Program& program, const Packet& packet, std::vector<std::uint32_t>& taken,
                   std::vector<std::uint32_t>& not_taken, std::uint64_t* lines = nullptr) {
  std::span<const Step> steps = program.code().steps;
  const std::uint8_t* data = packet.data.data();
  const std::uint64_t caplen = packet.data.size();
  std::uint32_t a = 0, x = 0, m[scratch_words] = {};
  std::uint32_t executed = 0;
  auto load = [&](std::uint64_t at, int size, std::uint32_t& out) {
    if (at + static_cast<std::uint64_t>(size) > caplen) return false;
    out = load_be(data + at, size);
    if (lines != nullptr) *lines |= lines_of(data, at, at + static_cast<std::uint64_t>(size));
    return true;
  };
  for (std::size_t i = 0; i < steps.size();) {
    const Step& s = steps[i];
    const std::uint32_t k = s.k;
    ++executed;
    std::size_t next = i + 1;
    bool condition = false, conditional = false;
    switch (s.op) {
      case Exec::LD_W_ABS:
      case Exec::LD_W_ABS_PROVEN:
        if (!load(k, 4, a)) return executed;
        break;
      case Exec::LD_H_ABS:
      case Exec::LD_H_ABS_PROVEN:
        if (!load(k, 2, a)) return executed;
        break;
      case Exec::LD_B_ABS:
      case Exec::LD_B_ABS_PROVEN:
        if (!load(k, 1, a)) return executed;
        break;
      case Exec::LD_W_IND:
        if (!load(std::uint64_t{x} + k, 4, a)) return executed;
        break;
      case Exec::LD_H_IND:
        if (!load(std::uint64_t{x} + k, 2, a)) return executed;
        break;
      case Exec::LD_B_IND:
        if (!load(std::uint64_t{x} + k, 1, a)) return executed;
        break;
      case Exec::LD_ANCILLARY:
        if (!load(k, s.size, a)) return executed;
        break;
      case Exec::LDX_B_MSH:
      case Exec::LDX_B_MSH_PROVEN: {
        std::uint32_t byte = 0;
        if (!load(k, 1, byte)) return executed;
        x = (byte & 0xf) << 2;
        break;
      }
      case Exec::LD_W_LEN: a = packet.wire_length; break;
      case Exec::LDX_W_LEN: x = packet.wire_length; break;
      case Exec::LD_IMM: a = k; break;
      case Exec::LDX_IMM: x = k; break;
      case Exec::LD_MEM: a = m[k & 15]; break;
      case Exec::LDX_MEM: x = m[k & 15]; break;
      case Exec::ST: m[k & 15] = a; break;
      case Exec::STX: m[k & 15] = x; break;
      case Exec::ADD_K: a += k; break;
      case Exec::SUB_K: a -= k; break;
      case Exec::MUL_K: a *= k; break;
      case Exec::DIV_K: a = k != 0 ? a / k : 0; break;
      case Exec::MOD_K: a = k != 0 ? a % k : 0; break;
      case Exec::AND_K: a &= k; break;
      case Exec::OR_K: a |= k; break;
      case Exec::XOR_K: a ^= k; break;
      case Exec::LSH_K: a <<= (k & 31); break;
      case Exec::RSH_K: a >>= (k & 31); break;
      case Exec::ADD_X: a += x; break;
      case Exec::SUB_X: a -= x; break;
      case Exec::MUL_X: a *= x; break;
      case Exec::DIV_X:
        if (x == 0) return executed;
        a /= x;
        break;
      case Exec::MOD_X:
        if (x == 0) return executed;
        a %= x;
        break;
      case Exec::AND_X: a &= x; break;
      case Exec::OR_X: a |= x; break;
      case Exec::XOR_X: a ^= x; break;
      case Exec::LSH_X: a = x < 32 ? a << x : 0; break;
      case Exec::RSH_X: a = x < 32 ? a >> x : 0; break;
      case Exec::NEG: a = 0u - a; break;
      case Exec::TAX: x = a; break;
      case Exec::TXA: a = x; break;
      case Exec::JA: next = s.jt; break;
      case Exec::JEQ_K: conditional = true, condition = a == k; break;
      case Exec::JGT_K: conditional = true, condition = a > k; break;
      case Exec::JGE_K: conditional = true, condition = a >= k; break;
      case Exec::JSET_K: conditional = true, condition = (a & k) != 0; break;
      case Exec::JEQ_X: conditional = true, condition = a == x; break;
      case Exec::JGT_X: conditional = true, condition = a > x; break;
      case Exec::JGE_X: conditional = true, condition = a >= x; break;
      case Exec::JSET_X: conditional = true, condition = (a & x) != 0; break;
      case Exec::RET_K:
      case Exec::RET_A:
      case Exec::JA_BACKWARD:  // not compiled (plan_branch_free refuses it)
        return executed;
    }
    if (conditional) {
      if (s.jt != s.jf) ++(condition ? taken : not_taken)[i];
      next = condition ? s.jt : s.jf;
    }
    i = next;
  }
  return executed;
}

}  // namespace

void BranchFreeFilter::FormProfile::fade() {
  for (std::uint32_t& count : taken) count /= 2;
  for (std::uint32_t& count : not_taken) count /= 2;
  for (std::uint32_t& count : exits) count /= 2;
  executed /= 2;
  path_lines /= 2;
  straight_lines /= 2;
  packets /= 2;
}

void BranchFreeFilter::profile(const Packet& packet, FormProfile& into) const {
  const std::size_t n = program_.code().steps.size();
  if (into.taken.size() != n) into.taken.assign(n, 0), into.not_taken.assign(n, 0);
  std::uint64_t path_lines = 0;
  into.executed += walk(program_, packet, into.taken, into.not_taken, &path_lines);
  // The straight-line code reads every absolute offset on every packet (besides the indirect
  // loads on the packet's path); the other forms only the loads on the path.
  const std::uint64_t all_lines =
      path_lines | lines_of(packet.data.data(), absolute_from_,
                            std::min<std::uint64_t>(absolute_to_, packet.data.size()));
  into.path_lines += static_cast<double>(std::popcount(path_lines));
  into.straight_lines += static_cast<double>(std::popcount(all_lines));
  if (dispatch_) ++into.exits[exit_of(packet.data.data())];
  ++into.packets;
}

BranchFreeFilter::Form BranchFreeFilter::choose(const FormProfile& profile,
                                                bool out_of_cache) const {
  if (profile.packets == 0) return Form::straight;
  const std::size_t n = program_.code().steps.size();
  const double packets = static_cast<double>(profile.packets);
  // A jump that goes both ways is assumed mispredicted on its less common way (the predictor
  // learns the common one); global history does better on some traffic, never much worse.
  double mispredicted = 0;
  for (std::size_t i = 0; i < profile.taken.size(); ++i)
    mispredicted += std::min(profile.taken[i], profile.not_taken[i]);
  // Out of the caches a packet's time is mostly its header lines' (see line_bytes); the
  // dispatched code reads the loads of its exit's part, close to the packet's path.
  const double per_line = out_of_cache ? line_bytes : 0;
  const double straight =
      static_cast<double>(straight_bytes_) + per_line * profile.straight_lines / packets;
  const double path_lines = per_line * profile.path_lines / packets;
  const double branchy =
      (profile.executed * static_cast<double>(branchy_bytes_) / static_cast<double>(n) +
       mispredicted * mispredict_bytes) /
          packets +
      path_lines;
  const double dispatched =
      dispatch_
          ? dispatch_cost(std::span(profile.exits).first(dispatch_->exits.size()), exit_bytes_) +
                path_lines
          : std::numeric_limits<double>::infinity();
  // A margin of a fifth of the straight-line code: when the costs are close, that code, whose
  // time does not depend on the traffic, is the safer choice. (A fifth of its code, not of its
  // total: out of the caches the lines, which every form pays, would otherwise hide a real
  // difference, as on `tcp and port 80`, whose straight-line code also reads the IPv6 ports.)
  const double best = std::min(branchy, dispatched);
  if (best >= straight - 0.2 * static_cast<double>(straight_bytes_)) return Form::straight;
  return branchy <= dispatched ? Form::branchy : Form::dispatched;
}

}  // namespace bpfvm::classic::detail
