#!/bin/sh
# A short tour of what bpfvm does: assemble, disassemble, run, and refuse unsafe accesses.
# Usage: examples/demo.sh PATH/TO/bpfvm
set -e
BPFVM=${1:-build/src/cli/bpfvm}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "Assemble a program (FNV-1a over its input) into eBPF bytecode" \
     "bpfvm asm examples/fnv1a.s -o fnv1a.bin"
cp "$HERE/fnv1a.s" "$WORK/fnv1a.s"
"$BPFVM" asm "$WORK/fnv1a.s" -o "$WORK/fnv1a.bin"
od -An -tx1 -w8 "$WORK/fnv1a.bin" | head -4
echo "   ..."

step "Disassemble it in the kernel's (LLVM) syntax" \
     "bpfvm disasm --syntax llvm --addresses fnv1a.bin"
"$BPFVM" disasm --syntax llvm --addresses "$WORK/fnv1a.bin"

step "Run it on the bytes of \"hello\" (r1 = memory, r2 = length); prints r0" \
     "bpfvm run --mem-hex '68 65 6c 6c 6f' fnv1a.bin"
"$BPFVM" run --mem-hex '68 65 6c 6c 6f' "$WORK/fnv1a.bin"
echo "(FNV-1a 64 of \"hello\" is 0xa430d84680aabd0b)"

step "The same program on 64 KiB, 200 times, in the interpreter and in the JIT" \
     "bpfvm run --engine interp --repeat 200 --mem 64k.bin fnv1a.bin; bpfvm run --engine jit ..."
head -c 65536 /dev/zero > "$WORK/64k.bin"
"$BPFVM" run --engine interp --repeat 200 --mem "$WORK/64k.bin" "$WORK/fnv1a.bin"
"$BPFVM" run --engine jit --repeat 200 --mem "$WORK/64k.bin" "$WORK/fnv1a.bin"

step "Checked mode stops an out-of-bounds load instead of crashing" \
     "bpfvm run --mem-hex '01 02 03 04' examples/out_of_bounds.s"
if "$BPFVM" run --mem-hex '01 02 03 04' "$HERE/out_of_bounds.s"; then
  echo "unexpected: the out-of-bounds load was not caught" >&2
  exit 1
else
  echo "(exit status $?: the run failed cleanly)"
fi

ANCHORS="$HERE/../../shared/anchors/bpf_conformance/tests"
if [ -d "$ANCHORS" ]; then
  step "Run the bpf_conformance suite's 313 test programs" \
       "for f in bpf_conformance/tests/*.data; do bpfvm run --check \$f; done"
  pass=0; fail=0
  for f in "$ANCHORS"/*.data; do
    if "$BPFVM" run --check "$f" >/dev/null 2>"$WORK/err"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1)); cat "$WORK/err"
    fi
  done
  echo "$pass passed, $fail failed"
fi

CAPTURE="$HERE/../../shared/anchors/pcap-corpus/tcpdump/dns_udp.pcap"
if [ -f "$CAPTURE" ]; then
  step "Classic BPF: compile a tcpdump expression and list it as tcpdump -d does" \
       "bpfvm filter -r dns_udp.pcap -d 'udp port 53'"
  "$BPFVM" filter -r "$CAPTURE" -d 'udp port 53' 2>/dev/null | head -8
  echo "   ..."
  step "Filter the capture: classic BPF translated to eBPF and run on the JIT" \
       "bpfvm filter -r dns_udp.pcap --engine jit 'udp port 53'"
  "$BPFVM" filter -r "$CAPTURE" --engine jit 'udp port 53' 2>/dev/null | head -4
fi

step "Linux BPF objects: build an XDP program with clang, as for the kernel" \
     "clang -O2 -g -target bpf -c tests/bpf/xdp_counter.bpf.c -o xdp_counter.bpf.o"
clang -O2 -g -target bpf -I/usr/include/"$(gcc -print-multiarch)" \
  -c "$HERE/../tests/bpf/xdp_counter.bpf.c" -o "$WORK/xdp_counter.bpf.o"
step "What the object holds, as bpfvm's loader sees it" "bpfvm object show xdp_counter.bpf.o"
"$BPFVM" object show "$WORK/xdp_counter.bpf.o"

# An IPv4/UDP frame to port 9: the program counts it under protocol 17 and drops it.
UDP9="02 00 00 00 00 02 02 00 00 00 00 01 08 00 45 00 00 1d 12 34 00 00 40 11 00 00 c0 a8 00 01 0a 00 00 01 9c 40 00 09 00 09 00 00 2a"
step "Run it on a UDP packet to port 9 with Linux's helpers; show its map afterwards" \
     "bpfvm run xdp_counter.bpf.o --packet-hex '02 00 .. 00 09 ..' --show-maps"
"$BPFVM" run "$WORK/xdp_counter.bpf.o" --packet-hex "$UDP9" --show-maps | grep -v ': 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00$'
echo "(elements that are all zero left out)"

step "Prove it safe first, as Linux does at load: the verifier follows every path" \
     "bpfvm verify xdp_counter.bpf.o"
"$BPFVM" verify "$WORK/xdp_counter.bpf.o"
# The same parser without its bounds check: the verifier names the read it cannot prove.
cat > "$WORK/unchecked.s" <<'ASM'
ldxw %r2, [%r1+0]
ldxb %r0, [%r2+12]
exit
ASM
step "An XDP program that reads the packet without checking data_end is refused" \
     "bpfvm verify unchecked.s --type xdp"
"$BPFVM" verify "$WORK/unchecked.s" --type xdp || true
