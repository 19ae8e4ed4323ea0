// Emits one ring buffer record per packet: reserved and submitted for even lengths, reserved
// and discarded for lengths divisible by 3, copied with bpf_ringbuf_output otherwise.
#include "common.h"

struct sample {
  __u32 length;
  __u32 sequence;
  __u8 head[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} samples SEC(".maps");

__u32 sequence = 0;

SEC("xdp")
int sample_packets(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u32 length = data_end - data;
  if (data + 16 > data_end) return XDP_PASS;
  __u32 number = sequence++;

  if (length % 2 == 0 || length % 3 == 0) {
    struct sample *record = bpf_ringbuf_reserve(&samples, sizeof(*record), 0);
    if (!record) return XDP_DROP;
    record->length = length;
    record->sequence = number;
    __builtin_memcpy(record->head, data, 16);
    if (length % 2 == 0)
      bpf_ringbuf_submit(record, 0);
    else
      bpf_ringbuf_discard(record, 0);
  } else {
    struct sample record = {length, number};
    __builtin_memcpy(record.head, data, 16);
    if (bpf_ringbuf_output(&samples, &record, sizeof(record), 0) != 0) return XDP_DROP;
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
