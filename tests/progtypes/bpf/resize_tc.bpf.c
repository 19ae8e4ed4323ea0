// bpf_skb_change_tail (op 0) and bpf_skb_change_head (op 1) from tc, with the operand and
// the flags' halves from the u32s after the Ethernet header. After the call the program
// reads the packet again (its old pointers are invalid): cb[0] gets skb->len, cb[1] the
// distance data_end - data, cb[2] the first byte (or 0x100 when the packet is empty), cb[3]
// gso_size (ctx_out does not return it).
// Returns the helper's result (tests/progtypes/resize_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int resize_tc(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  __u32 *args = data + 14;
  if ((void *)(args + 4) > end) return -1;
  __u32 op = args[0], value = args[1];
  __u64 flags = args[2] | (__u64)args[3] << 32;
  long ret = op == 0 ? bpf_skb_change_tail(skb, value, flags)
                     : bpf_skb_change_head(skb, value, flags);
  data = (void *)(long)skb->data;
  end = (void *)(long)skb->data_end;
  skb->cb[0] = skb->len;
  skb->cb[1] = end - data;
  __u8 *first = data;
  skb->cb[2] = (void *)(first + 1) <= end ? *first : 0x100;
  skb->cb[3] = skb->gso_size;
  return ret;
}

char LICENSE[] SEC("license") = "GPL";
