// Per-CPU counters in a percpu_array and a percpu_hash keyed by EtherType; the host sums the
// slots (which CPU a test run uses is not part of the contract).
#include "common.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} totals SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 16);
  __type(key, __u16);
  __type(value, __u64);
} per_ethertype SEC(".maps");

SEC("xdp")
int count_per_cpu(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_PASS;
  __u32 key = 0;
  __u64 *packets = bpf_map_lookup_elem(&totals, &key);
  if (packets) *packets += 1;
  key = 1;
  __u64 *bytes = bpf_map_lookup_elem(&totals, &key);
  if (bytes) *bytes += data_end - data;

  __u16 type = bpf_ntohs(eth->h_proto);
  __u64 *count = bpf_map_lookup_elem(&per_ethertype, &type);
  if (count) {
    *count += 1;
  } else {
    __u64 one = 1;
    bpf_map_update_elem(&per_ethertype, &type, &one, BPF_ANY);
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
