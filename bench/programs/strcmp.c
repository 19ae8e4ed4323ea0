/* strcmp over a megabyte: the memory holds two NUL-terminated strings of (len / 2 - 1)
 * characters, the second starting at len / 2. They are equal until near the end. Returns the
 * strcmp difference (sign-extended) in the low 32 bits and the index of the first difference
 * in the high 32, so the result says where the comparison stopped. */
#include "bench_program.h"

BENCH_INLINE u64 compare_strings(const u8* a, const u8* b) {
  u64 i = 0;
  while (a[i] != 0 && a[i] == b[i]) i++;
  const s32 difference = (s32)a[i] - (s32)b[i];
  return (i << 32) | (u32)difference;
}

unsigned long long bpf_main(void* mem, unsigned long long len) {
  const u8* first = (const u8*)mem;
  return compare_strings(first, first + len / 2);
}
