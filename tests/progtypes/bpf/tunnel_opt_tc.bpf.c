// bpf_skb_set_tunnel_opt and bpf_skb_get_tunnel_opt from tc. After the Ethernet header, u32s:
// whether to set a tunnel key first (1: IPv4, 2: IPv6), the options size selector, the get
// size selector and the get_tunnel_key flags; then 256 bytes of options. The program stores
// the results, the options read back (64 bytes) and the key's tunnel_flags into the packet
// (tests/progtypes/resize_redirect_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SET_SIZES(X) X(0, 4) X(1, 8) X(2, 12) X(3, 40) X(4, 6) X(5, 252) X(6, 256) X(7, 2)
#define GET_SIZES(X) X(0, 64) X(1, 4) X(2, 8) X(3, 12) X(4, 40) X(5, 2)

SEC("tc")
int tunnel_opt_tc(struct __sk_buff *skb) {
  __u32 args[4];
  __u8 options[256];
  __u8 back[64];
  struct bpf_tunnel_key key = {};
  if (bpf_skb_load_bytes(skb, 14, args, sizeof(args)) != 0) return -1;
  if (bpf_skb_load_bytes(skb, 30, options, sizeof(options)) != 0) return -1;
  long results[4];
  results[0] = results[1] = results[2] = -1000;  // not called (no .rodata: no relocation)
  key.tunnel_id = 7;
  key.remote_ipv4 = 0x0a000001;
  if (args[0] != 0)
    results[0] = bpf_skb_set_tunnel_key(skb, &key, sizeof(key), args[0] == 2 ? 1 : 0);
#define SET(n, size) \
  if (args[1] == n) results[1] = bpf_skb_set_tunnel_opt(skb, options, size);
  SET_SIZES(SET)
  __builtin_memset(back, 0x5a, sizeof(back));
#define GET(n, size) \
  if (args[2] == n) results[2] = bpf_skb_get_tunnel_opt(skb, back, size);
  GET_SIZES(GET)
  __builtin_memset(&key, 0, sizeof(key));
  results[3] = bpf_skb_get_tunnel_key(skb, &key, sizeof(key), args[3]);
  bpf_skb_store_bytes(skb, 14, results, sizeof(results), 0);
  bpf_skb_store_bytes(skb, 46, back, sizeof(back), 0);
  bpf_skb_store_bytes(skb, 110, &key.tunnel_flags, sizeof(key.tunnel_flags), 0);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
