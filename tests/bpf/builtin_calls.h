// What builtin_calls.bpf.c computes, shared with a native build of the same C
// (tests/loader/builtin_calls_test.cpp) so that the run on bpfvm's engines can be compared
// with what the C means. The includer declares memset, memcpy, memmove and memcmp: the BPF
// build as external functions (compiled with -fno-builtin, so that clang calls them instead
// of inlining or refusing them), the native build from <string.h>.
#pragma once

#define BUILTIN_BLOCK_SIZE 1024

struct builtin_block {
  unsigned char bytes[BUILTIN_BLOCK_SIZE];
};

// Fills a, copies it into b, shifts both with overlapping moves (forward and backward) and
// compares them; returns a number that depends on every step.
static inline int builtin_blocks(struct builtin_block* a, struct builtin_block* b,
                                 unsigned int seed) {
  memset(a, 0x5a, sizeof(*a));
  for (int i = 0; i < 16; i++) a->bytes[i * 61] = (unsigned char)(seed + i * 7);
  memcpy(b, a, sizeof(*b));
  memmove(b->bytes + 3, b->bytes, 700);  // forward overlap: as if through a temporary
  memmove(a->bytes, a->bytes + 5, 900);  // backward overlap
  int order = memcmp(a, b, sizeof(*a));
  int sign = order < 0 ? 1 : order > 0 ? 2 : 3;
  return sign * 1000 + a->bytes[0] + b->bytes[3] + b->bytes[700] + a->bytes[899];
}

// A 256-byte frame buffer: set where nothing was written before, then copied and compared.
static inline int builtin_stack(unsigned int seed) {
  unsigned char frame[128];
  unsigned char copy[128];
  memset(frame, (int)(seed & 0xff), sizeof(frame));
  frame[17] = 3;
  memcpy(copy, frame, sizeof(copy));
  copy[100] = (unsigned char)(copy[100] + 1);
  return memcmp(frame, copy, sizeof(frame)) < 0 ? copy[17] + copy[100] : -1;
}
