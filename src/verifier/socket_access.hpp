// Socket pointers (Linux: PTR_TO_SOCK_COMMON, PTR_TO_SOCKET, PTR_TO_TCP_SOCK and their
// _OR_NULL forms): what the socket lookups return (bpf_sk_lookup_tcp/udp a full socket,
// bpf_skc_lookup_tcp a socket of any state, both references the program must give back with
// bpf_sk_release), what bpf_sk_fullsock and bpf_tcp_sock turn them into (the same reference:
// Linux's is_ptr_cast_function), the fields a program may read through each (struct bpf_sock,
// struct bpf_tcp_sock; never written), and the helper arguments that take them.
#pragma once

#include "verifier/helper_args.hpp"
#include "verifier/reg_value.hpp"
#include "verifier/verifier_state.hpp"

#include <bpfvm/helper.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace bpfvm::verifier {

// sock_common, socket, tcp_sock (not null).
bool is_socket_kind(RegKind kind);

// A load of `size` bytes at `off` through socket pointer `base` (register `reg`), or a store
// (`write`): Linux's check_sock_access with bpf_sock_common_is_valid_access,
// bpf_sock_is_valid_access and bpf_tcp_sock_is_valid_access.
std::optional<std::string> check_socket_access(const RegValue& base, int reg, std::int64_t off,
                                               std::int64_t size, bool write);

bool is_socket_arg_kind(ArgKind kind);

// One argument of kind sock_common, socket, socket_or_null, btf_id_sock_common or
// release_sock_common (Linux's compatible_reg_types for them, and OBJ_RELEASE's "must be
// referenced"). `meta` learns the reference it carries and, for a release, what to release.
std::optional<std::string> check_socket_arg(ArgKind kind, int reg, const RegValue& v,
                                            CallMeta& meta);

bool is_socket_return_kind(ReturnKind kind);

// r0 after a helper returning a socket: a new id for the null check and, for the lookups, a
// new reference (acquire_reference at `pc`); for bpf_sk_fullsock and bpf_tcp_sock (meta's
// ptr_cast) the reference of the argument.
RegValue socket_return(ReturnKind kind, const CallMeta& meta, std::size_t pc, VerifierState& st);

}  // namespace bpfvm::verifier
