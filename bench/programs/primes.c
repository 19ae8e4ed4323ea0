/* Count the primes below a limit by trial division, counting 1 as well (the classic uBPF
 * benchmark): limit 10000 gives 1230. The limit is read from the first u32 of the memory so
 * that no compiler folds the answer at build time. */
#include "bench_program.h"

BENCH_INLINE u32 is_prime(u32 n) {
  for (u32 d = 2; d * d <= n; d++) {
    if (n % d == 0) return 0;
  }
  return 1;
}

unsigned long long bpf_main(void* mem, unsigned long long len) {
  (void)len;
  const u32 limit = *(const u32*)mem;
  u64 count = 0;
  for (u32 i = 1; i < limit; i++) count += is_prime(i);
  return count;
}
