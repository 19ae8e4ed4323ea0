// Random typed programs shaped the way clang writes packet and map code, for the soundness
// and kernel-agreement tests (typed_soundness_test.cpp): xdp, socket_filter and sched_cls
// programs that load data/data_end from the context, bounds-check them (usually right,
// sometimes one byte short, sometimes not at all), read and write packet bytes at constant
// and variable offsets, look up array and hash maps (null-checked or not) and use the value
// at checked or unchecked offsets, run bounded loops, call helpers with stack buffers and
// call local functions.
//
// The program is generated as assembly in the verifier cases' syntax (case_maps.hpp:
// `ldmap %rN, I` names map I of typed_program_maps()), so a failure prints readable source.
// Registers by convention: r6 the context, r7 data, r8 data_end (both reloaded after any
// helper that may move the packet), r9 an accumulator every read flows into; r0-r5 scratch.
// Every choice that makes a block unsafe is taken with a small probability, so about four
// in ten programs break some rule (`unsafe_choices` counts them: a program with none
// is meant to pass both verifiers).
//
// Generation is a pure function of (type, seed), the same on every platform (test::Rng).
#pragma once

#include "support/random_program.hpp"

#include <bpfvm/insn.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/program_type.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace bpfvm::verifier::testing {

struct TypedProgram {
  ProgramType type = ProgramType::raw;
  std::uint64_t seed = 0;
  std::string source;      // assembly (case syntax)
  int unsafe_choices = 0;  // blocks generated with a deliberate flaw
};

// The maps every generated program may name (ldmap index): 0 an array (key 4, value 16,
// 8 entries), 1 a hash (key 4, value 24, 16 entries), 2 a hash with 8-byte keys and
// 8-byte values.
std::vector<MapSpec> typed_program_maps();

// xdp, socket_filter or sched_cls by the seed.
TypedProgram generate_typed_program(std::uint64_t seed);

// One to three random changes of the kind a wrong program has: an access moved or resized, a
// comparison turned or its operands swapped, an immediate (bounds, masks, sizes, offsets)
// changed a little, an instruction dropped (`ja +0`), a register operand swapped.
// lddw's slots and the final exit are left alone.
std::vector<Insn> mutate_typed_program(std::vector<Insn> insns, test::Rng& rng);

}  // namespace bpfvm::verifier::testing
