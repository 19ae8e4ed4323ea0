/* bpfvm's C API: load eBPF programs and clang-built objects, run them on the interpreter or
 * the JIT, share maps with them and give them helper functions, from C or any language with
 * a C FFI.
 *
 * Every call that can fail returns an int: 0 on success or a negative errno value (-EINVAL
 * for bad arguments, -ENOENT for a name that is not there, -ENOMEM, -EACCES for a program
 * that fails a check, -EFAULT for a run that faults in checked mode, ...). The message of the
 * last failure on a VM is in ebpf_vm_error(). No C++ exception crosses this interface.
 *
 *   ebpf_vm *vm = ebpf_vm_alloc();
 *   if (ebpf_load_prog(vm, code, sizeof code, EBPF_PROG_TYPE_RAW) != 0) puts(ebpf_vm_error(vm));
 *   uint64_t r0;
 *   ebpf_vm_run(vm, memory, sizeof memory, &r0);
 *   ebpf_vm_free(vm);
 */
#ifndef BPFVM_BPFVM_H
#define BPFVM_BPFVM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ebpf_vm ebpf_vm;
/* A map of the VM's loaded object, or one created with ebpf_map_create. Owned by the VM
 * (object maps) or by the caller (created maps: ebpf_map_free). */
typedef struct ebpf_map ebpf_map;

/* Program types, numbered as Linux's enum bpf_prog_type; RAW is bpfvm's own: r1 points at
 * the memory given to ebpf_vm_run and r2 holds its size. */
enum {
  EBPF_PROG_TYPE_RAW = 0,
  EBPF_PROG_TYPE_SOCKET_FILTER = 1,
  EBPF_PROG_TYPE_SCHED_CLS = 3,
  EBPF_PROG_TYPE_XDP = 6,
};

enum ebpf_engine {
  EBPF_ENGINE_AUTO = 0, /* the JIT where it works on this machine, else the interpreter */
  EBPF_ENGINE_INTERPRETER = 1,
  EBPF_ENGINE_JIT = 2,
};

/* A helper: five 64-bit arguments (r1-r5), a 64-bit result (r0). `user` is what was given
 * at registration. */
typedef uint64_t (*ebpf_helper_fn)(void* user, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
                                   uint64_t r5);

/* A new VM with Linux's helpers registered (map access, ktime, trace_printk, ringbuf, ...).
 * NULL only when memory is exhausted. */
ebpf_vm* ebpf_vm_alloc(void);
void ebpf_vm_free(ebpf_vm* vm);

/* The message of the last failed call on `vm`; "" when none failed. Valid until the next
 * call on the VM. */
const char* ebpf_vm_error(const ebpf_vm* vm);

/* Engine for the next load (default EBPF_ENGINE_AUTO). */
int ebpf_vm_set_engine(ebpf_vm* vm, enum ebpf_engine engine);
/* Stop runs after `max_insns` executed instructions (0: no limit, the default). Runs that
 * exhaust it fail with -ETIME. */
int ebpf_vm_set_budget(ebpf_vm* vm, uint64_t max_insns);

/* Registers (or replaces a Linux helper with) a helper of your own under `id`. Call before
 * loading: programs bind their calls at load. */
int ebpf_register_helper(ebpf_vm* vm, uint32_t id, const char* name, ebpf_helper_fn function,
                         void* user);

/* Loads raw bytecode (little-endian 8-byte instructions) of the given program type. Replaces
 * what the VM held before. Fails with -EINVAL and a message naming the instruction. */
int ebpf_load_prog(ebpf_vm* vm, const void* code, size_t code_size, uint32_t prog_type);

/* Loads a clang-built BPF object (`clang -target bpf`): its maps, global data and programs.
 * `program` names the one to run (its function name); NULL picks the first. */
int ebpf_load_object(ebpf_vm* vm, const char* path, const char* program);

/* Runs the loaded program; its return value (r0) goes to `*result`. RAW programs get
 * r1 = memory and r2 = memory_size. Packet programs (socket_filter, sched_cls, xdp) get
 * `memory` as their packet; what they write to it is copied back when its length stays the
 * same (ebpf_vm_run_packet handles programs that grow or shrink the packet). */
int ebpf_vm_run(ebpf_vm* vm, void* memory, size_t memory_size, uint64_t* result);

/* Runs a packet program on `packet` (`*packet_size` bytes of a buffer of `capacity` bytes);
 * on return the buffer holds the packet as the program left it and `*packet_size` its new
 * length (xdp_adjust_head/tail). */
int ebpf_vm_run_packet(ebpf_vm* vm, void* packet, size_t* packet_size, size_t capacity,
                       uint64_t* result);

/* ---- Maps. Keys and values are copied; per-CPU maps take and give one value per possible
 * CPU, each padded to 8 bytes (ebpf_map_value_size gives the whole size). Operations return
 * Linux's errors: -ENOENT (no such key), -EEXIST (BPF_NOEXIST and present), -E2BIG (full). */
enum { EBPF_ANY = 0, EBPF_NOEXIST = 1, EBPF_EXIST = 2 };

/* A map of the loaded object by name (global data maps are named ".data", ".rodata",
 * ".bss"). */
int ebpf_vm_find_map(ebpf_vm* vm, const char* name, ebpf_map** map);
int ebpf_map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                    uint32_t flags, ebpf_map** map);
void ebpf_map_free(ebpf_map* map);
int ebpf_map_info(const ebpf_map* map, uint32_t* type, uint32_t* key_size, uint32_t* value_size,
                  uint32_t* max_entries);
size_t ebpf_map_value_size(const ebpf_map* map);
int ebpf_map_lookup(ebpf_map* map, const void* key, void* value);
int ebpf_map_update(ebpf_map* map, const void* key, const void* value, uint64_t flags);
int ebpf_map_delete(ebpf_map* map, const void* key);
/* `key` NULL gives the first key; -ENOENT after the last. */
int ebpf_map_next_key(ebpf_map* map, const void* key, void* next_key);

/* Batches (BPF_MAP_LOOKUP_BATCH / BPF_MAP_UPDATE_BATCH). Lookup: `cursor` NULL starts a
 * walk, `next_cursor` (key_size bytes) continues it; up to `*count` keys and values are
 * written and `*count` says how many; -ENOENT means the walk is complete (`*count` may still
 * be > 0). Update: writes `*count` pairs, and `*count` says how many were written. */
int ebpf_map_lookup_batch(ebpf_map* map, const void* cursor, void* next_cursor, void* keys,
                          void* values, uint32_t* count);
int ebpf_map_update_batch(ebpf_map* map, const void* keys, const void* values, uint32_t* count,
                          uint64_t flags);

/* Pinning by name, as bpffs paths: a pinned map outlives the VM or handle that made it.
 * ebpf_map_get_pinned gives a new handle (free it with ebpf_map_free). */
int ebpf_map_pin(ebpf_map* map, const char* name);
int ebpf_map_get_pinned(const char* name, ebpf_map** map);
int ebpf_map_unpin(const char* name);

/* Makes a created map reachable from the next loaded raw program: `lddw rX, map` with
 * src 1 and imm = the returned index, as a map fd. */
int ebpf_vm_add_map(ebpf_vm* vm, ebpf_map* map, uint32_t* index);

#ifdef __cplusplus
}
#endif

#endif /* BPFVM_BPFVM_H */
