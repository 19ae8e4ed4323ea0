// Calls to memset, memcpy, memmove and memcmp left as calls to functions the object lacks
// (built with -fno-builtin, tests/bpf/CMakeLists.txt, as older clang left Falco's probe): the
// loader resolves them to bpfvm's built-in functions (include/bpfvm/builtin_helpers.hpp).
#include "common.h"

void* memset(void* dst, int c, unsigned long n);
void* memcpy(void* dst, const void* src, unsigned long n);
void* memmove(void* dst, const void* src, unsigned long n);
int memcmp(const void* a, const void* b, unsigned long n);

#include "builtin_calls.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct builtin_block);
} blocks SEC(".maps");

// 1 KiB map values set, copied, moved and compared.
SEC("xdp")
int map_blocks(struct xdp_md* ctx) {
  __u32 first = 0, second = 1;
  struct builtin_block* a = bpf_map_lookup_elem(&blocks, &first);
  struct builtin_block* b = bpf_map_lookup_elem(&blocks, &second);
  if (!a || !b) return XDP_ABORTED;
  return builtin_blocks(a, b, ctx->ingress_ifindex);
}

// Stack buffers never written before memset fills them.
SEC("xdp")
int stack_buffers(struct xdp_md* ctx) { return builtin_stack(ctx->ingress_ifindex); }

// The first 32 bytes of the packet (when there are that many) copied to the stack and
// compared with a pattern set there.
SEC("xdp")
int packet_prefix(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  unsigned char head[32];
  unsigned char pattern[32];
  if (data + sizeof(head) > data_end) return XDP_PASS;
  memcpy(head, data, sizeof(head));
  memset(pattern, 0xab, sizeof(pattern));
  int order = memcmp(head, pattern, sizeof(head));
  return order == 0 ? 7 : order < 0 ? 8 : 9;
}

char LICENSE[] SEC("license") = "GPL";
