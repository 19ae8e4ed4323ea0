// The running kernel's verifier on a program of a parsed object, for comparison.
#pragma once

#include <bpfvm/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>

// Loads program `index` of `spec` into the kernel (BPF_PROG_LOAD, log_level BPF_LOG_STATS)
// with the object's maps created in the kernel (once per object) and its `lddw` map
// references pointed at them, and returns the "verification time N usec" the kernel logged.
// Nothing when the kernel refuses the program or a map (bpf(2) not allowed, a program type
// that needs an attach target, a map type that needs an inner map, ...) or has no such line.
std::optional<double> kernel_verification_seconds(const bpfvm::ObjectSpec& spec, std::size_t index);

// The same, with the kernel's "processed N insns" beside its time; `untyped` is the type of a
// program whose section names none (tc's sections: sched_cls), as the corpus test gives it.
struct KernelVerification {
  double seconds = 0;
  std::uint64_t insns_processed = 0;
};
std::optional<KernelVerification> kernel_verification(
    const bpfvm::ObjectSpec& spec, std::size_t index,
    std::optional<bpfvm::ProgramType> untyped = std::nullopt);
