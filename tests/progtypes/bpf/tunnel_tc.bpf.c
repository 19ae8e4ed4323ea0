// bpf_skb_set_tunnel_key then bpf_skb_get_tunnel_key from tc. After the Ethernet header: the
// set size selector, set flags, get size selector, get flags (u32s), then the 44-byte struct
// bpf_tunnel_key to set. The program stores both results and the key read back into the
// packet in place of the arguments (tests/progtypes/resize_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SIZES(X) X(0, 44) X(1, 28) X(2, 24) X(3, 22) X(4, 8) X(5, 12) X(6, 40)

static __always_inline long set_key(struct __sk_buff *skb, struct bpf_tunnel_key *key,
                                    __u32 which, __u32 flags) {
#define SET(n, size) \
  if (which == n) return bpf_skb_set_tunnel_key(skb, key, size, flags);
  SIZES(SET)
  return -1000;
}

static __always_inline long get_key(struct __sk_buff *skb, struct bpf_tunnel_key *key,
                                    __u32 which, __u32 flags) {
#define GET(n, size) \
  if (which == n) return bpf_skb_get_tunnel_key(skb, key, size, flags);
  SIZES(GET)
  return -1000;
}

SEC("tc")
int tunnel_tc(struct __sk_buff *skb) {
  struct bpf_tunnel_key key;
  __u32 args[4];
  if (bpf_skb_load_bytes(skb, 14, args, sizeof(args)) != 0) return -1;
  if (bpf_skb_load_bytes(skb, 30, &key, sizeof(key)) != 0) return -1;
  long results[2];
  results[0] = set_key(skb, &key, args[0], args[1]);
  __builtin_memset(&key, 0x5a, sizeof(key));
  results[1] = get_key(skb, &key, args[2], args[3]);
  bpf_skb_store_bytes(skb, 14, results, sizeof(results), 0);
  bpf_skb_store_bytes(skb, 30, &key, sizeof(key), 0);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
