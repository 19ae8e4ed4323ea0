// bpf_skb_pull_data from tc, the length from the u32 after the Ethernet header. After the call
// the program reads data_end - data into cb[0] and writes 0x5c over the first byte through the
// reloaded pointers. Returns the helper's result
// (tests/progtypes/resize_redirect_test.cpp).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int pull_tc(struct __sk_buff *skb) {
  __u32 len;
  if (bpf_skb_load_bytes(skb, 14, &len, sizeof(len)) != 0) return -1;
  long ret = bpf_skb_pull_data(skb, len);
  void *data = (void *)(long)skb->data;
  void *data_end = (void *)(long)skb->data_end;
  skb->cb[0] = data_end - data;
  __u8 *first = data;
  if ((void *)(first + 1) <= data_end) first[0] = 0x5c;
  return ret;
}

char LICENSE[] SEC("license") = "GPL";
