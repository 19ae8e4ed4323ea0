// The partitioned batch loop prototype (partition_prototype.hpp).
#include "partition_prototype.hpp"

#include <algorithm>

namespace bpfvm::bench {

std::optional<PartitionPrototype> PartitionPrototype::make(
    const classic::Program& program, const classic::detail::BranchFreeFilter& code) {
  const classic::detail::BranchFreeDispatch* dispatch = code.dispatch();
  const auto branchy = code.loop(classic::detail::BranchFreeFilter::Form::branchy);
  if (dispatch == nullptr || dispatch->load_size > 2 || branchy == nullptr ||
      dispatch->exits.size() >= 255)
    return std::nullopt;
  PartitionPrototype prototype;
  prototype.branchy_ = branchy;
  prototype.min_caplen_ = code.min_caplen();
  prototype.load_k_ = dispatch->load_k;
  prototype.wide_ = dispatch->load_size == 2;
  const std::size_t values = std::size_t{1} << (8 * dispatch->load_size);
  std::vector<std::uint8_t> bytes(std::size_t{dispatch->load_k} + 2, 0);
  prototype.table_.resize(values);
  for (std::size_t v = 0; v < values; ++v) {
    for (int b = 0; b < dispatch->load_size; ++b)
      bytes[dispatch->load_k + static_cast<std::size_t>(b)] =
          static_cast<std::uint8_t>(v >> (8 * (dispatch->load_size - 1 - b)));
    prototype.table_[v] = static_cast<std::uint8_t>(code.exit_of(bytes.data()));
  }
  for (std::uint32_t t : dispatch->exits) {
    const classic::Insn& insn = program.insns()[t];
    prototype.returns_.push_back(insn.code == 0x06 ? 1 : 0);  // BPF_RET | BPF_K
    prototype.verdict_.push_back(insn.k);
  }
  return prototype;
}

void PartitionPrototype::run(std::span<const classic::Packet> batch,
                             std::uint32_t* verdicts) const {
  const classic::Packet* const end = batch.data() + batch.size();
  for (std::size_t from = 0; from < batch.size(); from += chunk)
    run_chunk(batch.data() + from, std::min(chunk, batch.size() - from), verdicts + from, end);
}

void PartitionPrototype::run_chunk(const classic::Packet* first, std::size_t count,
                                   std::uint32_t* verdicts,
                                   const classic::Packet* prefetch_end) const {
  const std::size_t exits = returns_.size();
  static constexpr std::uint8_t nothing[2] = {};
  // Pass 1: each packet's index appended to its exit's list (`exits`: too short), with
  // selects rather than branches.
  std::uint8_t lists[2 * classic::detail::max_dispatch_tests + 1][chunk];
  std::uint32_t counts[2 * classic::detail::max_dispatch_tests + 1] = {};
  for (std::size_t i = 0; i < count; ++i) {
    const classic::Packet& packet = first[i];
    if (first + i + chunk < prefetch_end)
      __builtin_prefetch(first[i + chunk].data.data() + load_k_);
    const bool takes = packet.data.size() >= min_caplen_;
    const std::uint8_t* field = takes ? packet.data.data() + load_k_ : nothing;
    const std::uint32_t value = wide_ ? (std::uint32_t{field[0]} << 8) | field[1] : field[0];
    const std::uint8_t e = takes ? table_[value] : static_cast<std::uint8_t>(exits);
    if (exit_only_) {
      lists[0][i] = e;
      continue;
    }
    lists[e][counts[e]++] = static_cast<std::uint8_t>(i);
  }
  if (exit_only_) {
    verdicts[0] = lists[0][count - 1];
    return;
  }
  // Pass 2, per exit.
  classic::Packet sorted[chunk];
  std::uint32_t sorted_verdicts[chunk];
  for (std::size_t e = 0; e <= exits; ++e) {
    const std::size_t n = counts[e];
    const std::uint8_t* index = lists[e];
    if (e == exits || returns_[e] != 0) {
      const std::uint32_t verdict = e == exits ? 0 : verdict_[e];
      for (std::size_t j = 0; j < n; ++j) verdicts[index[j]] = verdict;
      continue;
    }
    if (n == 0) continue;
    for (std::size_t j = 0; j < n; ++j) sorted[j] = first[index[j]];
    // Every packet here is at least min_caplen long: the loop runs them all.
    branchy_(sorted, sorted + n, sorted_verdicts, sorted);
    for (std::size_t j = 0; j < n; ++j) verdicts[index[j]] = sorted_verdicts[j];
  }
}

}  // namespace bpfvm::bench
