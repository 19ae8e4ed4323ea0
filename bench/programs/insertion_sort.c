/* Insertion sort, in place, of the u32 array that fills the memory buffer (len / 4 values),
 * then a position-weighted checksum of the sorted array so the result depends on the order. */
#include "bench_program.h"

BENCH_INLINE void insertion_sort(u32* a, u64 n) {
  for (u64 i = 1; i < n; i++) {
    const u32 key = a[i];
    u64 j = i;
    while (j > 0 && a[j - 1] > key) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = key;
  }
}

BENCH_INLINE u64 checksum(const u32* a, u64 n) {
  u64 sum = 0;
  for (u64 i = 0; i < n; i++) sum = sum * 31 + a[i];
  return sum;
}

unsigned long long bpf_main(void* mem, unsigned long long len) {
  u32* a = (u32*)mem;
  const u64 n = len / 4;
  insertion_sort(a, n);
  return checksum(a, n);
}
