// Several programs per section, and bpf-to-bpf calls: global and static subprograms in .text,
// one subprogram calling another, and a static function inside a program section.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__attribute__((noinline)) static int square(int x) { return x * x; }

__attribute__((noinline)) int sum_of_squares(int a, int b) { return square(a) + square(b); }

__attribute__((noinline)) int triple(int x) { return x + x + x; }

// Runs as a raw program: r1 points at memory, r2 holds its length.
SEC("bpfvm/raw")
int compute(void *memory) {
  (void)memory;
  return sum_of_squares(3, 4) + triple(2);  // 25 + 6 = 31
}

SEC("bpfvm/raw")
int compute_again(void *memory) {
  (void)memory;
  return triple(square(2));  // 12
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx) {
  (void)ctx;
  return triple(0) == 0 ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int tc_one(struct __sk_buff *skb) { return skb->len > 100; }

SEC("tc")
int tc_two(struct __sk_buff *skb) { return sum_of_squares(skb->len, 1); }

SEC("kprobe/do_sys_open")
int probe(void *ctx) {
  (void)ctx;
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint(void *ctx) {
  (void)ctx;
  return 1;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx) {
  (void)ctx;
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
