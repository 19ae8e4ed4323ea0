/* A byte-by-byte copy of the first half of the memory into the second half (1 MiB). Built
 * with -fno-builtin (and, natively, without loop-to-memcpy rewriting) so that both builds
 * run the loop as written. Returns a few copied bytes and the length. */
#include "bench_program.h"

BENCH_INLINE void copy_bytes(u8* dst, const u8* src, u64 n) {
  for (u64 i = 0; i < n; i++) dst[i] = src[i];
}

unsigned long long bpf_main(void* mem, unsigned long long len) {
  const u64 n = len / 2;
  const u8* src = (const u8*)mem;
  u8* dst = (u8*)mem + n;
  copy_bytes(dst, src, n);
  return (n << 24) | ((u64)dst[n - 1] << 16) | ((u64)dst[n / 2] << 8) | dst[0];
}
