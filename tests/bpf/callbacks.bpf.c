// Callbacks: function addresses loaded with lddw (BPF_PSEUDO_FUNC) for bpf_loop and
// bpf_for_each_map_elem, static callbacks in .text.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 4);
} values SEC(".maps");

struct loop_state {
  __u64 sum;
};

static long add_index(__u32 index, void *data) {
  struct loop_state *state = data;
  state->sum += index;
  return 0;
}

static long add_value(void *map, __u32 *key, __u64 *value, void *data) {
  (void)map;
  (void)key;
  struct loop_state *state = data;
  state->sum += *value;
  return 0;
}

SEC("tc")
int loops(struct __sk_buff *skb) {
  (void)skb;
  struct loop_state state = {0};
  bpf_loop(10, add_index, &state, 0);
  bpf_for_each_map_elem(&values, add_value, &state, 0);
  return (int)state.sum;
}

char LICENSE[] SEC("license") = "GPL";
