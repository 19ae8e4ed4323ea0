# FNV-1a, 64-bit, over the memory the program is given: r1 points at it, r2 holds its length.
lddw %r0, 0xcbf29ce484222325   # offset basis
lddw %r3, 0x100000001b3        # FNV prime
mov %r4, 0                     # index
loop:
jge %r4, %r2, done
mov %r5, %r1
add %r5, %r4
ldxb %r6, [%r5]
xor %r0, %r6
mul %r0, %r3
add %r4, 1
ja loop
done:
exit
