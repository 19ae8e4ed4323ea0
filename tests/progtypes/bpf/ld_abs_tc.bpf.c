// The legacy packet loads (LD_ABS, LD_IND) after a helper resized or moved the packet: they
// read the skb as it is now. cb[0] picks the helper (0 none, 1 change_head(cb[1]),
// 2 change_tail(cb[1]), 3 adjust_room(cb[1], cb[2]), 4 vlan_pop, 5 change_proto(cb[1])) and
// gets its result; then the program returns, folded, the word, half and byte LD_IND reads at
// cb[3] and cb[4] and LD_ABS at 10 and 33. A load past the packet ends the program with 0.
// Used by tests/progtypes/l2_helpers_test.cpp.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

SEC("tc")
int ld_abs_tc(struct __sk_buff *skb) {
  __u32 op = skb->cb[0], a = skb->cb[1], b = skb->cb[2];
  long ret = 0;
  switch (op) {
    case 1: ret = bpf_skb_change_head(skb, a, 0); break;
    case 2: ret = bpf_skb_change_tail(skb, a, 0); break;
    case 3: ret = bpf_skb_adjust_room(skb, (__s32)a, b, 0); break;
    case 4: ret = bpf_skb_vlan_pop(skb); break;
    case 5: ret = bpf_skb_change_proto(skb, a, 0); break;
  }
  skb->cb[0] = ret;
  __u32 at = skb->cb[3];
  __u32 word = load_word(skb, at);
  __u32 half = load_half(skb, at + 4);
  __u32 byte = load_byte(skb, at + 6);
  __u32 indirect = load_word(skb, skb->cb[4]);
  __u32 fixed = load_word(skb, 10) ^ load_byte(skb, 33);
  return word ^ (half << 3) ^ (byte << 7) ^ (indirect * 31) ^ (fixed * 7);
}

char LICENSE[] SEC("license") = "GPL";
