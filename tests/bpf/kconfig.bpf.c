// `.kconfig` externs as libbpf resolves them: the running kernel's version and config values,
// zero for a __weak option the config does not set, and a strong one it does not set, which
// only the program using it cannot load.
#include "common.h"

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern int CONFIG_HZ __kconfig __weak;
extern _Bool CONFIG_BPFVM_NOT_AN_OPTION __kconfig __weak;
extern int CONFIG_BPFVM_STRONG_NOT_AN_OPTION __kconfig;

SEC("bpfvm/raw")
int read_kconfig(__u64 *out) {
  out[0] = LINUX_KERNEL_VERSION;
  out[1] = CONFIG_BPF_SYSCALL;
  out[2] = CONFIG_HZ;
  out[3] = CONFIG_BPFVM_NOT_AN_OPTION;
  return 0;
}

SEC("bpfvm/raw")
int strong_missing(void *memory) { return CONFIG_BPFVM_STRONG_NOT_AN_OPTION; }

char LICENSE[] SEC("license") = "GPL";
