/* Embedding bpfvm from C: the host gives a program a helper of its own and an array map,
 * runs it over a buffer, and reads its result back from the map.
 *
 * The program counts the bytes of its memory equal to a value it asks the host for (helper
 * 1000), stores the count in element 0 of the map (helper 1, bpf_map_lookup_elem), and
 * returns it. With an object file as argument, it also loads that object and runs its first
 * program on a zeroed 64-byte packet.
 *
 * Build against an installed bpfvm:
 *   cc embed.c $(pkg-config --cflags --libs bpfvm) -o embed
 * or with CMake: find_package(bpfvm) and target_link_libraries(embed bpfvm::bpfvm). */
#include <bpfvm/bpfvm.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct insn {
  uint8_t opcode;
  uint8_t registers; /* dst in the low nibble, src in the high one */
  int16_t offset;
  int32_t imm;
};
#define INSN(opcode, dst, src, offset, imm) {opcode, (dst) | ((src) << 4), offset, imm}

/* The opcodes used below (RFC 9669). */
enum {
  MOV64_REG = 0xbf, MOV64_IMM = 0xb7, ADD64_IMM = 0x07, SUB64_IMM = 0x17, LDXB = 0x71,
  STW = 0x62, STXDW = 0x7b, LDDW = 0x18, JA = 0x05, JEQ_IMM = 0x15, JNE_REG = 0x5d,
  CALL = 0x85, EXIT = 0x95,
};
enum { PSEUDO_MAP_FD = 1 }; /* lddw src 1: imm is the map's index (ebpf_vm_add_map) */

static uint64_t wanted_byte(void *user, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
                            uint64_t r5) {
  (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
  return *(const uint8_t *)user;
}

static int check(ebpf_vm *vm, int status, const char *what) {
  if (status != 0) fprintf(stderr, "embed: %s failed (%d): %s\n", what, status, ebpf_vm_error(vm));
  return status;
}

static int run_object(ebpf_vm *vm, const char *path) {
  uint8_t packet[64] = {0};
  size_t size = sizeof packet;
  uint64_t result = 0;
  if (check(vm, ebpf_load_object(vm, path, NULL), "ebpf_load_object") != 0) return 1;
  if (check(vm, ebpf_vm_run_packet(vm, packet, &size, sizeof packet, &result),
            "ebpf_vm_run_packet") != 0)
    return 1;
  printf("%s: first program returned %llu\n", path, (unsigned long long)result);
  return 0;
}

int main(int argc, char **argv) {
  const struct insn program[] = {
      INSN(MOV64_REG, 6, 1, 0, 0),     /* r6 = memory */
      INSN(MOV64_REG, 7, 2, 0, 0),     /* r7 = its length */
      INSN(CALL, 0, 0, 0, 1000),       /* r0 = wanted_byte() */
      INSN(MOV64_REG, 8, 0, 0, 0),     /* r8 = the byte to count */
      INSN(MOV64_IMM, 9, 0, 0, 0),     /* r9 = count */
      INSN(JEQ_IMM, 7, 0, 6, 0),       /* loop: if r7 == 0 goto done */
      INSN(LDXB, 1, 6, 0, 0),          /* r1 = *(u8 *)r6 */
      INSN(JNE_REG, 1, 8, 1, 0),       /* if r1 != r8 skip the increment */
      INSN(ADD64_IMM, 9, 0, 0, 1),     /* r9 += 1 */
      INSN(ADD64_IMM, 6, 0, 0, 1),     /* r6 += 1 */
      INSN(SUB64_IMM, 7, 0, 0, 1),     /* r7 -= 1 */
      INSN(JA, 0, 0, -7, 0),           /* goto loop */
      INSN(STW, 10, 0, -4, 0),         /* done: key = 0 on the stack */
      INSN(LDDW, 1, PSEUDO_MAP_FD, 0, 0), INSN(0, 0, 0, 0, 0), /* r1 = map 0 */
      INSN(MOV64_REG, 2, 10, 0, 0),    /* r2 = &key */
      INSN(ADD64_IMM, 2, 0, 0, -4),
      INSN(CALL, 0, 0, 0, 1),          /* r0 = bpf_map_lookup_elem(map, &key) */
      INSN(JEQ_IMM, 0, 0, 1, 0),
      INSN(STXDW, 0, 9, 0, 0),         /* *(u64 *)r0 = count */
      INSN(MOV64_REG, 0, 9, 0, 0),     /* return count */
      INSN(EXIT, 0, 0, 0, 0),
  };
  uint8_t wanted = 'a';
  char text[] = "a banana, a papaya and an apple";
  ebpf_map *counts = NULL;
  uint32_t map_index = 0;
  uint64_t result = 0, stored = 0;
  uint32_t key = 0;
  int status = 1;

  ebpf_vm *vm = ebpf_vm_alloc();
  if (vm == NULL) return 1;
  if (check(vm, ebpf_map_create(2 /* BPF_MAP_TYPE_ARRAY */, 4, 8, 1, 0, &counts),
            "ebpf_map_create") != 0 ||
      check(vm, ebpf_vm_add_map(vm, counts, &map_index), "ebpf_vm_add_map") != 0 ||
      check(vm, ebpf_register_helper(vm, 1000, "wanted_byte", wanted_byte, &wanted),
            "ebpf_register_helper") != 0 ||
      check(vm, ebpf_load_prog(vm, program, sizeof program, EBPF_PROG_TYPE_RAW),
            "ebpf_load_prog") != 0 ||
      check(vm, ebpf_vm_run(vm, text, strlen(text), &result), "ebpf_vm_run") != 0 ||
      check(vm, ebpf_map_lookup(counts, &key, &stored), "ebpf_map_lookup") != 0)
    goto out;
  printf("'%c' occurs %llu times in \"%s\"; the map holds %llu\n", wanted,
         (unsigned long long)result, text, (unsigned long long)stored);
  status = result == stored ? 0 : 1;
  if (status == 0 && argc > 1) status = run_object(vm, argv[1]);
out:
  ebpf_vm_free(vm);
  ebpf_map_free(counts);
  return status;
}
