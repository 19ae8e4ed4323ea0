// A program that calls a function the object does not define (as clang leaves memset when it
// cannot inline it) beside programs that do not: the loader refuses only the first.
#include "common.h"

extern int not_in_this_object(int value);

__attribute__((noinline)) static int through_subprogram(int value) {
  return not_in_this_object(value) + 1;
}

SEC("xdp")
int calls_missing(struct xdp_md *ctx) { return through_subprogram(ctx->ingress_ifindex); }

SEC("xdp")
int plain(struct xdp_md *ctx) { return ctx->data_end > ctx->data ? XDP_PASS : XDP_DROP; }

char LICENSE[] SEC("license") = "GPL";
