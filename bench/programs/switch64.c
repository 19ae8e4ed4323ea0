/* A 64-way switch: the memory holds s32 values in [0, 64) (len / 4 of them); each goes
 * through a 64-case switch that maps it to an arbitrary 32-bit constant, and the results are
 * XOR-ed. The BPF build uses -fno-jump-tables, so clang emits a tree of compares rather than
 * a lookup table in .rodata (which would need a relocation); the native twin is built with
 * the same restriction by default (BPFVM_BENCH_NATIVE_FLAGS). The constants are the low 32
 * bits of splitmix64 outputs from seed 0x5ee1; the runner recomputes them to check results. */
#include "bench_program.h"

BENCH_INLINE u32 map_value(s32 value) {
  switch (value) {
    case 0: return 0x55d86fdau;
    case 1: return 0xd3c15442u;
    case 2: return 0xdf4ea39bu;
    case 3: return 0x8a34c148u;
    case 4: return 0x6ffe0619u;
    case 5: return 0xef09dff1u;
    case 6: return 0x4806eafeu;
    case 7: return 0x51dbce57u;
    case 8: return 0xa539ceecu;
    case 9: return 0xe6afb021u;
    case 10: return 0x176adb19u;
    case 11: return 0x187d8c1fu;
    case 12: return 0x819f2eb1u;
    case 13: return 0x21f4413fu;
    case 14: return 0x10e4fb3bu;
    case 15: return 0x782ea450u;
    case 16: return 0x73aa1310u;
    case 17: return 0x52831f06u;
    case 18: return 0xeb6d16cdu;
    case 19: return 0x6a80f630u;
    case 20: return 0xd99f41b0u;
    case 21: return 0x886b078fu;
    case 22: return 0xb452a532u;
    case 23: return 0xe0e00a10u;
    case 24: return 0x4e277a9bu;
    case 25: return 0xf75c1783u;
    case 26: return 0xfad610feu;
    case 27: return 0xbc3078ddu;
    case 28: return 0x37deac9fu;
    case 29: return 0x36498980u;
    case 30: return 0xf4fc70eau;
    case 31: return 0x3efa8689u;
    case 32: return 0x4341b240u;
    case 33: return 0x20f0ae7fu;
    case 34: return 0x461d5d6eu;
    case 35: return 0x82547f3fu;
    case 36: return 0xc967d619u;
    case 37: return 0x113ca53eu;
    case 38: return 0xe3f8f4e3u;
    case 39: return 0xe1fffb49u;
    case 40: return 0x12c437edu;
    case 41: return 0xdd7edffeu;
    case 42: return 0x8097b171u;
    case 43: return 0x82be896bu;
    case 44: return 0xef0b3853u;
    case 45: return 0x075ddeb8u;
    case 46: return 0xde914979u;
    case 47: return 0xd23b87eeu;
    case 48: return 0x5b73eddau;
    case 49: return 0xed295ec5u;
    case 50: return 0xf33a8b2fu;
    case 51: return 0x9da66d30u;
    case 52: return 0x9430c8f6u;
    case 53: return 0x3f633eb0u;
    case 54: return 0x76748618u;
    case 55: return 0x4c4d3161u;
    case 56: return 0x56c25ad7u;
    case 57: return 0x8d2fd8a6u;
    case 58: return 0x350c7e68u;
    case 59: return 0x87809935u;
    case 60: return 0x0f38e038u;
    case 61: return 0x6314abfcu;
    case 62: return 0xba6d0338u;
    case 63: return 0xa159af6fu;
    default: return 0;
  }
}

unsigned long long bpf_main(void* mem, unsigned long long len) {
  const s32* values = (const s32*)mem;
  const u64 n = len / 4;
  u32 acc = 0;
  for (u64 i = 0; i < n; i++) acc ^= map_value(values[i]);
  return acc;
}
