// The L2/L3 reshaping helpers from tc: bpf_skb_change_type, bpf_skb_change_proto,
// bpf_skb_vlan_push/pop, bpf_skb_adjust_room, bpf_skb_change_tail, and the cookies. The test
// passes the operations and their arguments in ctx_in's cb[] (the packet may be too short to
// carry them, and the helpers move its bytes):
//   cb[0]: up to four operation codes, one a byte, run from the low byte until a 0 or a
//          helper fails; cb[1] a, cb[2] b, cb[3] | cb[4] << 32 flags.
//   1 change_type(a)          2 change_proto(a, flags)   3 vlan_push(a, b)   4 vlan_pop()
//   5 adjust_room(a, b, flags) 6 adjust_room(-a, b, 0)    7 change_proto(b, 0)
//   8 change_tail(flags & 0xffffffff, flags >> 32)   9 change_head(0, 0) (resets the MAC header)
// Afterwards the skb fields test_run's ctx_out does not return go to cb[]: cb[0] len, cb[1]
// protocol, cb[2] vlan_present | pkt_type << 8 | (data_end - data) << 16, cb[3] vlan_tci |
// vlan_proto << 16, cb[4] the operations run. Returns the last helper's result.
// cb[0] == 0xff instead: cb[1], cb[2] the socket cookie, cb[3], cb[4] the netns cookie of the
// skb, mark the netns cookie of NULL (init_net's). Used by tests/progtypes/l2_helpers_test.cpp.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int l2_tc(struct __sk_buff *skb) {
  __u32 ops = skb->cb[0], a = skb->cb[1], b = skb->cb[2];
  __u64 flags = skb->cb[3] | (__u64)skb->cb[4] << 32;
  if (ops == 0xff) {
    __u64 sock = bpf_get_socket_cookie(skb);
    __u64 net = bpf_get_netns_cookie(skb);
    skb->cb[1] = sock;
    skb->cb[2] = sock >> 32;
    skb->cb[3] = net;
    skb->cb[4] = net >> 32;
    skb->mark = bpf_get_netns_cookie(0);
    return 0;
  }
  long ret = 0;
  __u32 done = 0;
  for (int i = 0; i < 4; i++) {
    __u32 op = (ops >> (8 * i)) & 0xff;
    if (op == 0) break;
    switch (op) {
      case 1: ret = bpf_skb_change_type(skb, a); break;
      case 2: ret = bpf_skb_change_proto(skb, a, flags); break;
      case 3: ret = bpf_skb_vlan_push(skb, a, b); break;
      case 4: ret = bpf_skb_vlan_pop(skb); break;
      case 5: ret = bpf_skb_adjust_room(skb, (__s32)a, b, flags); break;
      case 6: ret = bpf_skb_adjust_room(skb, -(__s32)a, b, 0); break;
      case 7: ret = bpf_skb_change_proto(skb, b, 0); break;
      case 8: ret = bpf_skb_change_tail(skb, (__u32)flags, flags >> 32); break;
      case 9: ret = bpf_skb_change_head(skb, 0, 0); break;
      default: ret = -1000; break;
    }
    done++;
    if (ret != 0) break;
  }
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  skb->cb[0] = skb->len;
  skb->cb[1] = skb->protocol;
  skb->cb[2] = skb->vlan_present | skb->pkt_type << 8 | (__u32)(end - data) << 16;
  skb->cb[3] = skb->vlan_tci | skb->vlan_proto << 16;
  skb->cb[4] = done;
  return ret;
}

char LICENSE[] SEC("license") = "GPL";
