// Verifying the programs of an ELF object as bpfvm loads them (docs/verifier.md): the
// program's type from its section, the object's map shapes for the `lddw` pseudo sources, the
// helpers bpfvm gives programs of that type, and Linux's prototypes for the helpers it does
// not implement. `bpfvm verify OBJ`, `bpfvm run OBJ`, the corpus test and the verifier
// benchmark all build their options here, so that they judge a program the same way.
//
//   auto spec = ObjectSpec::parse_file("prog.o");
//   auto helpers = object_program_helpers(*spec, 0);
//   auto result = verifier::verify(spec->programs[0].insns,
//                                  verify_options_for(*spec, 0, &*helpers));
#pragma once

#include <bpfvm/helper.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/result.hpp>
#include <bpfvm/verifier.hpp>

#include <cstddef>

namespace bpfvm {

// The helpers program `program` of `spec` may call when bpfvm runs it: program_helpers() of
// its type (progtypes.hpp: linux_helpers(), the packet helpers of the type and bpfvm's
// built-ins, as Object::load gives them by default). Fails only if those registries clash.
Result<HelperRegistry> object_program_helpers(const ObjectSpec& spec, std::size_t program);

// The options to verify `spec.programs[program].insns`: its type, `maps` holding the shape of
// every map of the object at the index the loader put in each `lddw` imm (ObjectSpec::maps),
// `helpers` (which must outlive the options; object_program_helpers gives the registry bpfvm
// runs the program with) and `linux_prototypes`. The other fields keep their defaults.
// `program` must be an index into spec.programs.
verifier::VerifyOptions verify_options_for(const ObjectSpec& spec, std::size_t program,
                                           const HelperRegistry* helpers);

}  // namespace bpfvm
