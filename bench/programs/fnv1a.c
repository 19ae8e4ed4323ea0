/* FNV-1a, 64-bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3), over the whole
 * memory buffer, one byte per step: a serial multiply chain. */
#include "bench_program.h"

BENCH_INLINE u64 fnv1a64(const u8* p, u64 n) {
  u64 hash = 0xcbf29ce484222325ULL;
  for (u64 i = 0; i < n; i++) {
    hash ^= p[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

unsigned long long bpf_main(void* mem, unsigned long long len) {
  return fnv1a64((const u8*)mem, len);
}
