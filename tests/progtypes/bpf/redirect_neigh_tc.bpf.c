// bpf_redirect_neigh (op 0) and bpf_redirect_peer (op 1) from tc. After the Ethernet header,
// u32s: op, ifindex, plen selector (0: NULL and 0; 1: 20 bytes; 2: 24; 3: 8; 4: 19), the two
// halves of flags; then struct bpf_redir_neigh's bytes. Returns the helper's result
// (tests/progtypes/resize_redirect_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int redirect_neigh_tc(struct __sk_buff *skb) {
  __u32 args[5];
  __u8 params[24];
  if (bpf_skb_load_bytes(skb, 14, args, sizeof(args)) != 0) return -1;
  if (bpf_skb_load_bytes(skb, 34, params, sizeof(params)) != 0) return -1;
  __u64 flags = args[3] | (__u64)args[4] << 32;
  if (args[0] == 1) return bpf_redirect_peer(args[1], flags);
  switch (args[2]) {
    case 0: return bpf_redirect_neigh(args[1], 0, 0, flags);
    case 1: return bpf_redirect_neigh(args[1], (void *)params, 20, flags);
    case 2: return bpf_redirect_neigh(args[1], (void *)params, 24, flags);
    case 3: return bpf_redirect_neigh(args[1], (void *)params, 8, flags);
    default: return bpf_redirect_neigh(args[1], (void *)params, 19, flags);
  }
}

char LICENSE[] SEC("license") = "GPL";
