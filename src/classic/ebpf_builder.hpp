// A small eBPF code builder for the translation: instructions by eBPF opcode-table row, and
// jumps to labels (a classic instruction's first eBPF instruction, or the shared reject
// block) patched once the whole program is laid out.
#pragma once

#include <bpfvm/insn.hpp>
#include <bpfvm/result.hpp>

#include "isa/opcode_table.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace bpfvm::classic::detail {

class EbpfBuilder {
 public:
  // Labels 0..n-1 are the classic instructions; `reject` is the block returning 0.
  explicit EbpfBuilder(std::size_t classic_count)
      : label_at_(classic_count + 1, unset), reject_(static_cast<std::uint32_t>(classic_count)) {}

  std::uint32_t reject() const { return reject_; }

  void bind(std::uint32_t label) { label_at_[label] = out_.size(); }

  void emit(bpfvm::Op op, std::uint8_t dst = 0, std::uint8_t src = 0, std::int16_t offset = 0,
            std::int32_t imm = 0) {
    bpfvm::Insn insn;
    insn.opcode = info(op).opcode;
    insn.dst = dst & 0x0f;
    insn.src = src & 0x0f;
    insn.offset = offset;
    insn.imm = imm;
    out_.push_back(insn);
  }

  // lddw dst, value (two slots).
  void emit_lddw(std::uint8_t dst, std::uint64_t value) {
    emit(bpfvm::Op::LDDW, dst, 0, 0, static_cast<std::int32_t>(static_cast<std::uint32_t>(value)));
    bpfvm::Insn high;
    high.imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(value >> 32));
    out_.push_back(high);
  }

  // A jump (ja, or a conditional one) whose offset is patched to reach `label`.
  void emit_jump(bpfvm::Op op, std::uint32_t label, std::uint8_t dst = 0, std::uint8_t src = 0,
                 std::int32_t imm = 0) {
    fixups_.push_back({out_.size(), label});
    emit(op, dst, src, 0, imm);
  }

  // Resolves every jump. Fails when an offset does not fit eBPF's 16 bits.
  Result<std::vector<bpfvm::Insn>> finish() && {
    for (const Fixup& fixup : fixups_) {
      auto target = static_cast<std::int64_t>(label_at_[fixup.label]);
      std::int64_t offset = target - static_cast<std::int64_t>(fixup.at) - 1;
      if (offset < std::numeric_limits<std::int16_t>::min() ||
          offset > std::numeric_limits<std::int16_t>::max())
        return make_error(Error::Kind::invalid_program,
                          fmt::format("the translated program is too long: a jump spans {} "
                                      "eBPF instructions (at most 32767)",
                                      offset));
      out_[fixup.at].offset = static_cast<std::int16_t>(offset);
    }
    return std::move(out_);
  }

 private:
  static constexpr std::size_t unset = static_cast<std::size_t>(-1);
  struct Fixup {
    std::size_t at;
    std::uint32_t label;
  };
  std::vector<bpfvm::Insn> out_;
  std::vector<std::size_t> label_at_;
  std::vector<Fixup> fixups_;
  std::uint32_t reject_;
};

}  // namespace bpfvm::classic::detail
