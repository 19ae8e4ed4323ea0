// Global data: .data, .rodata (const volatile configuration), .bss, a custom .data.* section
// and string constants, all reached through BPF_PSEUDO_MAP_VALUE.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int counter = 5;                          // .data
const volatile int threshold = 42;        // .rodata
__u64 total;                              // .bss
__u64 scratch[4];                         // .bss
int custom SEC(".data.custom") = 7;       // .data.custom

SEC("bpfvm/raw")
int globals(void *memory) {
  (void)memory;
  total += counter;
  scratch[2] = total;
  custom += 1;
  return threshold + counter + custom;  // 42 + 5 + 8
}

SEC("kprobe/sys_write")
int print(void *ctx) {
  (void)ctx;
  bpf_printk("total %llu", total);
  static const char message[] = "a constant string of some length";
  char copy[sizeof message];
  __builtin_memcpy(copy, message, sizeof message);
  char buffer[32];
  // A string literal passed by address lands in .rodata.str1.1, merged strings.
  bpf_probe_read_kernel_str(buffer, sizeof buffer, "a literal in .rodata.str1.1");
  return copy[3] + buffer[0];
}

char LICENSE[] SEC("license") = "GPL";
