// The helper argument and return kinds about maps, callbacks, strings and ring buffer
// records (Linux: check_func_arg's ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY/VALUE,
// ARG_PTR_TO_FUNC, ARG_PTR_TO_CONST_STR, ARG_PTR_TO_ALLOC_MEM with OBJ_RELEASE,
// ARG_CONST_ALLOC_SIZE_OR_ZERO; check_map_func_compatibility; the RET_PTR_TO_* kinds of
// check_helper_call). helper_call.cpp hands these kinds here.
#pragma once

#include "verifier/verifier_state.hpp"
#include "verifier/verify.hpp"

#include <bpfvm/helper.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace bpfvm::verifier {

// What the arguments tell the rest of the call (Linux: struct bpf_call_arg_meta).
struct CallMeta {
  const MapSpec* map = nullptr;           // the const_map_ptr argument's map
  std::optional<std::uint32_t> callback;  // the func argument's first instruction
  std::optional<std::uint64_t> alloc_size;
  std::uint32_t release_ref = 0;  // the reference a release argument gives back
  // The reference a socket argument carries (Linux: meta->ref_obj_id), and whether the helper
  // returns that socket cast to another type (is_ptr_cast_function: bpf_sk_fullsock,
  // bpf_tcp_sock), which keeps the reference.
  std::uint32_t socket_ref = 0;
  bool ptr_cast = false;
  // map_lookup_elem on an array with a key known to be in range: the value exists, r0 is
  // not null (Linux 6.13+: can_elide_value_nullness, get_constant_map_key).
  bool value_not_null = false;
  // r1 as the call found it: r0 for ReturnKind::first_argument (bpfvm's memset, memcpy).
  RegValue first_argument = RegValue::uninit();
};

// Checks `size` bytes at register `reg` (= v) readable, or writable: helper_call.cpp's
// memory rule (stack, context, and the map kinds through check_object_access).
using MemCheck = std::function<std::optional<std::string>(int reg, const RegValue& v,
                                                          std::uint64_t size, bool write)>;

// One argument of kind const_map_ptr, map_key, map_value, func, const_str, ringbuf_record
// or const_alloc_size. nullopt when it is right; `meta` learns from it.
std::optional<std::string> check_map_arg(const VerifyOptions& options, std::uint32_t helper_id,
                                         ArgKind kind, int reg, const RegValue& v, CallMeta& meta,
                                         const MemCheck& mem);

// The map the call names fits the helper, and the helper the map (Linux:
// check_map_func_compatibility, for the helpers bpfvm's prototypes use).
std::optional<std::string> check_map_func_compatibility(std::uint32_t helper_id,
                                                        std::string_view helper_name,
                                                        const MapSpec& map);

// The return kinds finish_call gives r0 for; helpers returning others are refused.
bool return_kind_supported(ReturnKind kind);

// After the arguments: releases what a release argument gave back, refuses a tail call
// holding references, and sets r0 from the return kind (map_value_or_null,
// ringbuf_record_or_null, no_return; integer and void as before). r1-r5 are already unset.
std::optional<std::string> finish_call(const HelperPrototype& proto, const CallMeta& meta,
                                       std::size_t pc, VerifierState& st);

// Whether `kind` is one this file checks.
bool is_map_arg_kind(ArgKind kind);

}  // namespace bpfvm::verifier
