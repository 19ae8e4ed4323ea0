// Map operations from inside a program, 64 per run, for bench/objects/kernel_compare_bench: each program
// runs on a packet whose first byte seeds the keys, so that nothing folds at compile time.
// `empty` measures what a run costs without them; the bench subtracts it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define OPS 64
#define ENTRIES 1024

struct key16 {
  __u64 high;
  __u64 low;
};

struct lpm_key {
  __u32 prefix_length;
  __u32 address;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, ENTRIES);
  __type(key, __u32);
  __type(value, __u64);
} array SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, ENTRIES);
  __type(key, __u32);
  __type(value, __u64);
} hash4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, ENTRIES);
  __type(key, struct key16);
  __type(value, __u64);
} hash16 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, ENTRIES);
  __type(key, __u32);
  __type(value, __u64);
} lru SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, ENTRIES);
  __type(key, struct lpm_key);
  __type(value, __u64);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} lpm SEC(".maps");

__u32 lru_base = 0;

static __always_inline __u32 seed(struct xdp_md *ctx) {
  __u8 *data = (void *)(long)ctx->data;
  if ((void *)(data + 1) > (void *)(long)ctx->data_end) return 0;
  return *data;
}

SEC("xdp")
int empty(struct xdp_md *ctx) { return seed(ctx) == 0xff ? XDP_DROP : XDP_PASS; }

SEC("xdp")
int array_lookup(struct xdp_md *ctx) {
  __u32 base = seed(ctx);
  __u64 sum = 0;
  for (__u32 i = 0; i < OPS; i++) {
    __u32 key = (base + i * 7) % ENTRIES;
    __u64 *value = bpf_map_lookup_elem(&array, &key);
    if (value) sum += *value;
  }
  return sum == 12345 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int hash4_lookup(struct xdp_md *ctx) {
  __u32 base = seed(ctx);
  __u64 sum = 0;
  for (__u32 i = 0; i < OPS; i++) {
    __u32 key = (base + i * 7) % ENTRIES;
    __u64 *value = bpf_map_lookup_elem(&hash4, &key);
    if (value) sum += *value;
  }
  return sum == 12345 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int hash16_lookup(struct xdp_md *ctx) {
  __u32 base = seed(ctx);
  __u64 sum = 0;
  for (__u32 i = 0; i < OPS; i++) {
    struct key16 key = {(base + i * 7) % ENTRIES, 0x5a5a5a5a5a5a5a5aull};
    __u64 *value = bpf_map_lookup_elem(&hash16, &key);
    if (value) sum += *value;
  }
  return sum == 12345 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int hash4_update(struct xdp_md *ctx) {
  __u32 base = seed(ctx);
  for (__u32 i = 0; i < OPS; i++) {
    __u32 key = (base + i * 7) % ENTRIES;
    __u64 value = i;
    bpf_map_update_elem(&hash4, &key, &value, BPF_ANY);
  }
  return XDP_PASS;
}

SEC("xdp")
int hash16_update(struct xdp_md *ctx) {
  __u32 base = seed(ctx);
  for (__u32 i = 0; i < OPS; i++) {
    struct key16 key = {(base + i * 7) % ENTRIES, 0x5a5a5a5a5a5a5a5aull};
    __u64 value = i;
    bpf_map_update_elem(&hash16, &key, &value, BPF_ANY);
  }
  return XDP_PASS;
}

// New keys every run, so the LRU map evicts once it is full.
SEC("xdp")
int lru_update(struct xdp_md *ctx) {
  __u32 base = lru_base + seed(ctx);
  lru_base += OPS;
  for (__u32 i = 0; i < OPS; i++) {
    __u32 key = base + i;
    __u64 value = i;
    bpf_map_update_elem(&lru, &key, &value, BPF_ANY);
  }
  return XDP_PASS;
}

SEC("xdp")
int lpm_lookup(struct xdp_md *ctx) {
  __u32 base = seed(ctx);
  __u64 sum = 0;
  for (__u32 i = 0; i < OPS; i++) {
    struct lpm_key key = {32, (10u << 24) | ((base + i * 7) % 256) << 16 | i << 8 | 1};
    __u64 *value = bpf_map_lookup_elem(&lpm, &key);
    if (value) sum += *value;
  }
  return sum == 12345 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
