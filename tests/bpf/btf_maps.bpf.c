// Maps defined with BTF in .maps: sizes from __type and from __uint, flags, pinning, a ring
// buffer, map-in-map with its inner map and initial slots, and a prog_array with programs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pair {
  __u64 packets;
  __u64 bytes;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, struct pair);
  __uint(max_entries, 1024);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, 16);
  __uint(max_entries, 4);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} events SEC(".maps");

struct inner {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 8);
};

struct inner inner_a SEC(".maps");
struct inner inner_b SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 4);
  __type(key, __u32);
  __array(values, struct inner);
} outer SEC(".maps") = {
    .values = {[0] = &inner_a, [2] = &inner_b},
};

SEC("xdp")
int tail(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_PASS;
}

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __array(values, int(void *));
} jumps SEC(".maps") = {
    .values = {[1] = (void *)&tail},
};

SEC("xdp")
int use_maps(struct xdp_md *ctx) {
  __u32 key = 0;
  struct pair *pair = bpf_map_lookup_elem(&flows, &key);
  if (pair) pair->packets++;
  void *slot = bpf_map_lookup_elem(&counters, &key);
  if (slot) *(__u64 *)slot += 1;
  void *inner = bpf_map_lookup_elem(&outer, &key);
  if (inner) {
    __u64 *value = bpf_map_lookup_elem(inner, &key);
    if (value) *value += 1;
  }
  bpf_ringbuf_output(&events, &key, sizeof key, 0);
  bpf_tail_call(ctx, &jumps, 1);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
