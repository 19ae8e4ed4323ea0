// Soundness on programs of random instructions from the whole opcode table (not the
// structured generator's shapes): any row but packet loads, helper, kfunc and indirect
// calls; random registers (r1 the context, r10 the frame), offsets near the edges of the
// frame and of a 32-byte context, jumps forward and back (loops), local calls. Most are
// rejected; the accepted ones must run in checked mode, on random memory, to the end: no
// fault, no instruction budget exhausted (exploration that ends proves termination). And the
// verifier never crashes or exceeds its own budget on any of them.
#include "verifier/verify.hpp"

#include "isa/opcode_table.hpp"
#include "support/random_program.hpp"

#include <bpfvm/disassembler.hpp>
#include <bpfvm/program.hpp>
#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>

#include <iostream>

namespace bpfvm::verifier::testing {
namespace {

constexpr std::size_t context_bytes = 32;

bool usable(const OpcodeInfo& row) {
  switch (row.shape) {
    case Shape::LdAbs:
    case Shape::LdInd:
    case Shape::CallHelper:
    case Shape::CallBtf:
    case Shape::Callx: return false;
    default: return true;
  }
}

std::vector<Insn> random_program(bpfvm::test::Rng& rng) {
  std::vector<const OpcodeInfo*> rows;
  for (const auto& row : opcode_rows)
    if (usable(row)) rows.push_back(&row);
  static constexpr std::int16_t offsets[] = {-520, -512, -16, -12, -8, -4, -2, -1,
                                             0,    1,    4,   8,   24, 28, 31, 32};
  std::vector<Insn> out;
  // A prologue that initialises some registers and stack, so that not everything fails.
  for (int r = 0; r < 10; ++r)
    if (r != 1 && rng.chance(90))
      out.push_back({0xb7, static_cast<std::uint8_t>(r), 0, 0,
                     static_cast<std::int32_t>(rng.between(-20, 40))});
  for (int off = -8; off >= -32; off -= 8)
    if (rng.chance(60)) out.push_back({0x7a, 10, 0, static_cast<std::int16_t>(off), 0});
  const std::size_t body = 4 + rng.below(14);
  const std::size_t first = out.size();
  for (std::size_t k = 0; k < body; ++k) {
    const OpcodeInfo& row = *rows[rng.below(rows.size())];
    Insn insn;
    insn.opcode = row.opcode;
    insn.dst = static_cast<std::uint8_t>(rng.below(rng.chance(20) ? 11 : 10));
    insn.src = static_cast<std::uint8_t>(rng.below(11));
    insn.offset = offsets[rng.below(std::size(offsets))];
    insn.imm = static_cast<std::int32_t>(rng.between(-4, 40));
    // RFC 9669: fields a shape does not use are zero (the decoder's table, restated).
    switch (row.shape) {
      case Shape::AluImm:
        insn.src = 0;
        insn.offset = 0;
        break;
      case Shape::AluReg:
        insn.imm = 0;
        insn.offset = 0;
        break;
      case Shape::AluUnary:
        insn.src = 0;
        insn.offset = 0;
        insn.imm = 0;
        break;
      case Shape::Endian:
        insn.src = 0;
        insn.offset = 0;
        break;
      case Shape::MovSx: insn.imm = 0; break;
      case Shape::Load: insn.imm = 0; break;
      case Shape::StoreImm: insn.src = 0; break;
      case Shape::StoreReg: insn.imm = 0; break;
      case Shape::Ja:
        insn.dst = 0;
        insn.src = 0;
        insn.imm = 0;
        break;
      case Shape::Ja32:
        insn.dst = 0;
        insn.src = 0;
        insn.offset = 0;
        break;
      case Shape::JmpImm: insn.src = 0; break;
      case Shape::JmpReg: insn.imm = 0; break;
      case Shape::CallLocal:
        insn.dst = 0;
        insn.offset = 0;
        break;
      case Shape::Exit:
        insn = Insn{};
        insn.opcode = row.opcode;
        break;
      default: break;
    }
    switch (row.variant) {
      case Variant::Off: insn.offset = static_cast<std::int16_t>(row.variant_value); break;
      case Variant::Imm: insn.imm = row.variant_value; break;
      case Variant::Src: insn.src = static_cast<std::uint8_t>(row.variant_value); break;
      case Variant::None: break;
    }
    if (row.shape == Shape::Lddw) {
      insn.src = 0;
      insn.offset = 0;
      out.push_back(insn);
      out.push_back(Insn{0, 0, 0, 0, static_cast<std::int32_t>(rng.between(-1, 1))});
      continue;
    }
    out.push_back(insn);
  }
  out.push_back({0x95, 0, 0, 0, 0});    // exit
  if (rng.chance(30)) {                 // a subprogram for local calls
    out.push_back({0xbf, 0, 1, 0, 0});  // mov r0, r1
    out.push_back({0x95, 0, 0, 0, 0});
  }
  // Jump and call targets anywhere in the body (back edges included); the decoder drops
  // programs where they land badly.
  for (std::size_t i = first; i < out.size(); ++i) {
    const OpcodeInfo* row = find_row(out[i].opcode, out[i].offset, out[i].imm, out[i].src);
    if (row == nullptr) continue;
    const auto target = static_cast<std::int64_t>(first + rng.below(out.size() - first));
    const auto rel = target - static_cast<std::int64_t>(i) - 1;
    if (row->shape == Shape::Ja || row->shape == Shape::JmpImm || row->shape == Shape::JmpReg)
      out[i].offset = static_cast<std::int16_t>(rel);
    else if (row->shape == Shape::Ja32 || row->shape == Shape::CallLocal)
      out[i].imm = static_cast<std::int32_t>(rel);
  }
  return out;
}

#ifdef NDEBUG
constexpr int program_count = 60000;
#else
constexpr int program_count = 8000;
#endif

TEST(VerifierRandomIsa, AcceptedProgramsRunToTheEnd) {
  bpfvm::test::Rng rng(0x697361ULL);
  int decoded = 0, accepted = 0, budget = 0;
  for (int k = 0; k < program_count; ++k) {
    const auto insns = random_program(rng);
    auto program = Program::load(insns);
    if (!program) continue;
    ++decoded;
    VerifyOptions options;
    options.context_size = context_bytes;
    options.budget = 20000;
    const VerifyResult r = verify(insns, options);
    if (!r.ok()) {
      budget += r.error->reason.find("too large") != std::string::npos;
      continue;
    }
    ++accepted;
    for (int run = 0; run < 2; ++run) {
      std::vector<std::uint8_t> memory(context_bytes);
      for (auto& b : memory) b = static_cast<std::uint8_t>(rng.next());
      RunOptions ro;
      ro.budget = 10'000'000;
      auto ran = interpret(*program, RunInput::raw(memory), ro);
      ASSERT_TRUE(ran) << "program " << k << ": accepted, then " << ran.error().to_string() << "\n"
                       << disassemble(insns, Syntax::llvm);
    }
  }
  std::cout << program_count << " random programs: " << decoded << " decode, " << accepted
            << " accepted and ran clean twice, " << budget << " ran out of verifier budget\n";
  EXPECT_GT(accepted, program_count / 100);
}

}  // namespace
}  // namespace bpfvm::verifier::testing
