// The kernel's printf for BPF (kernel/bpf/helpers.c: bpf_bprintf_prepare, then bstr_printf),
// shared by bpf_trace_printk and bpf_snprintf.
#pragma once

#include <bpfvm/helper.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace bpfvm::helpers {

// Formats `fmt` (the characters before its NUL) with `args`, as Linux would: the accepted
// conversions are %d %i %u %x %X with l/ll, %c, %s, %p (%px %pK %ps %pS print the value in
// hex), %pks/%pus (strings), %pi4 %pI4 %pi6 %pI6, %%, with the flags "0+- " and a width.
// Strings and addresses are read only where the run admits them (an unreadable string
// prints empty, an unreadable address as zeros, as the kernel's nofault copies). Returns 0
// with the whole text in `out`, or -EINVAL (bad format, too many conversions) / -ENOSPC
// (strings past MAX_BPRINTF_BIN_ARGS).
int bprintf(const HelperCall& call, std::string_view fmt, std::span<const std::uint64_t> args,
            std::string& out);

// The length of the NUL-terminated string at `address` if it lies, NUL included, in memory
// the run admits and within `limit` bytes; -1 otherwise.
std::int64_t readable_string_length(const HelperCall& call, std::uint64_t address,
                                    std::uint64_t limit);

}  // namespace bpfvm::helpers
