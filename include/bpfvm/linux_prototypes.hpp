// Every Linux helper, implemented by bpfvm or not: its id (uapi enum bpf_func_id, as
// __BPF_FUNC_MAPPER numbers them), its name and its prototype (the kernel's struct
// bpf_func_proto), so that the verifier can check calls to helpers bpfvm cannot run
// (VerifyOptions::linux_prototypes) and the helpers bpfvm implements take their prototypes
// from one table.
//
//   if (const LinuxHelperInfo* info = linux_helper_info(84))   // bpf_sk_lookup_tcp
//     std::printf("%s takes %d arguments\n", info->name.data(), argument_count(info->prototype));
//
// Where Linux gives a helper several protos by program type (bpf_get_socket_cookie,
// bpf_sk_assign, bpf_get_netns_cookie, bpf_skb_output...), the table has the one the
// networking and tracing types of the ebpf-samples corpus see; docs/helpers.md lists them.
#pragma once

#include <bpfvm/helper.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace bpfvm {

// The highest enum bpf_func_id value of Linux 6.x (BPF_FUNC_cgrp_storage_delete).
inline constexpr std::uint32_t max_linux_helper_id = 211;

struct LinuxHelperInfo {
  std::uint32_t id = 0;
  std::string_view name;  // "bpf_map_lookup_elem": the uapi name with its bpf_ prefix
  HelperPrototype prototype;
};

// Ids 1..max_linux_helper_id in order (index = id - 1).
std::span<const LinuxHelperInfo> linux_helper_table();
// The entry of helper `id`; nullptr for 0 (BPF_FUNC_unspec) and ids past the table.
const LinuxHelperInfo* linux_helper_info(std::uint32_t id);
std::optional<HelperPrototype> linux_prototype(std::uint32_t id);
std::optional<std::string_view> linux_helper_name(std::uint32_t id);
// The id of "bpf_map_lookup_elem" or "map_lookup_elem"; nullopt for unknown names.
std::optional<std::uint32_t> linux_helper_id(std::string_view name);

// How many of the five arguments a prototype uses (the last one not ArgKind::none).
int argument_count(const HelperPrototype& prototype);

// Linux's enum bpf_arg_type / bpf_return_type spelling of a kind, for messages and docs:
// "ARG_PTR_TO_MAP_KEY", "RET_PTR_TO_SOCKET_OR_NULL", ...
std::string_view linux_kind_name(ArgKind kind);
std::string_view linux_kind_name(ReturnKind kind);

}  // namespace bpfvm
