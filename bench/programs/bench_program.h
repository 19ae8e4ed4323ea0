/* Shared by the benchmark programs. Each program is one C file built twice from the same
 * source: for BPF (clang -target bpf, entry symbol bpf_main, the .text section run as raw
 * bytecode) and natively (host compiler, -Dbpf_main=native_<name>).
 *
 * The entry follows the raw calling convention of RunInput::raw: r1 = the memory buffer,
 * r2 = its length in bytes. The BPF build must contain no calls and no relocations, so every
 * helper is BENCH_INLINE and nothing lives outside .text (no globals, no constant tables). */
#ifndef BPFVM_BENCH_PROGRAM_H
#define BPFVM_BENCH_PROGRAM_H

#define BENCH_INLINE static inline __attribute__((always_inline))

typedef unsigned char u8;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;

_Static_assert(sizeof(u32) == 4 && sizeof(u64) == 8, "benchmark programs assume LP64 or BPF");

unsigned long long bpf_main(void* mem, unsigned long long len);

#endif
