// Maps the pre-BTF way: struct bpf_map_def in the "maps" section (libbpf_legacy.h), with
// samples/bpf's inner_map_idx for a map-in-map.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def_legacy {
  unsigned int type;
  unsigned int key_size;
  unsigned int value_size;
  unsigned int max_entries;
  unsigned int map_flags;
  unsigned int inner_map_idx;
  unsigned int numa_node;
};

struct bpf_map_def_legacy packets SEC("maps") = {
    .type = BPF_MAP_TYPE_ARRAY,
    .key_size = sizeof(__u32),
    .value_size = sizeof(__u64),
    .max_entries = 256,
};

struct bpf_map_def_legacy sockets SEC("maps") = {
    .type = BPF_MAP_TYPE_LRU_HASH,
    .key_size = 8,
    .value_size = 12,
    .max_entries = 100,
    .map_flags = BPF_F_NO_COMMON_LRU,
};

struct bpf_map_def_legacy of_packets SEC("maps") = {
    .type = BPF_MAP_TYPE_HASH_OF_MAPS,
    .key_size = sizeof(__u32),
    .max_entries = 16,
    .inner_map_idx = 0,
};

SEC("socket")
int count(struct __sk_buff *skb) {
  __u32 key = skb->protocol & 0xff;
  __u64 *value = bpf_map_lookup_elem(&packets, &key);
  if (value) __sync_fetch_and_add(value, 1);
  __u64 sk = 7;
  bpf_map_lookup_elem(&sockets, &sk);
  bpf_map_lookup_elem(&of_packets, &key);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
