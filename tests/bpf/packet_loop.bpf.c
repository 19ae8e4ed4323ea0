// bpf_loop with a callback that walks the packet and stops early at a zero byte. The walk
// carries the packet's bounds, not the context: bpfvm refuses programs whose callbacks could
// reach a context pointer spilled to the stack (docs/program-types.md).
#include "common.h"

struct walk {
  __u8 *data;
  __u8 *data_end;
  __u64 sum;
  __u32 visited;
};

__u64 last_sum;
__u32 last_visited;

static long add_byte(__u32 index, struct walk *walk) {
  __u8 *byte = walk->data + (index & 0xff);
  if ((void *)(byte + 1) > (void *)walk->data_end) return 1;
  if (*byte == 0) return 1;
  walk->sum = walk->sum * 33 + *byte;
  walk->visited++;
  return 0;
}

SEC("xdp")
int loop_over_packet(struct xdp_md *ctx) {
  struct walk walk = {(void *)(long)ctx->data, (void *)(long)ctx->data_end, 5381, 0};
  long iterations = bpf_loop(200, add_byte, &walk, 0);
  last_sum = walk.sum;
  last_visited = walk.visited;
  return iterations == walk.visited + 1 || iterations == 200 ? XDP_PASS : XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
