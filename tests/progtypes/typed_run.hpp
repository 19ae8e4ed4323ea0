// Loads a typed program through the whole pipeline (helper check, context rewriting, load,
// packet helpers) and runs it through the harness.
#pragma once

#include <bpfvm/packet_run.hpp>
#include <bpfvm/progtypes.hpp>

#include <vector>

namespace bpfvm::test {

inline Result<Program> load_typed(ProgramType type, const std::vector<Insn>& insns) {
  HelperRegistry registry;
  if (auto ok = add_packet_helpers(registry, type); !ok) return ok.error();
  LoadOptions options;
  options.type = type;
  options.helpers = &registry;
  return load_typed_program(insns, options);
}

inline Result<PacketRunOutput> run_typed(ProgramType type, const std::vector<Insn>& insns,
                                         const std::vector<std::uint8_t>& packet,
                                         const SkbMetadata& skb = {}, const XdpMetadata& xdp = {},
                                         Engine engine = Engine::interpreter) {
  auto program = load_typed(type, insns);
  if (!program) return program.error();
  PacketRunInput input{.type = type, .packet = packet, .skb = skb, .xdp = xdp};
  return run_packet(*program, input, engine);
}

}  // namespace bpfvm::test
