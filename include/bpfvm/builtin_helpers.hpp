// bpfvm's built-in functions: memset, memcpy, memmove and memcmp for programs whose compiler
// left them as calls to functions the object lacks (docs/helpers.md "Built-in functions").
//
// clang lowers a `memset`/`memcpy` it cannot inline (older clang, `-fno-builtin`, sizes past
// its inline limit) and every `memcmp` to `call` a global function of that name, relocated
// against an undefined symbol (R_BPF_64_32). Linux cannot load such objects (libbpf poisons
// the call); bpfvm's loader resolves the call to one of the helpers below instead
// (RelocationKind::builtin; ObjectLoadOptions::builtin_functions turns this off), as uBPF and
// bpftime let a host provide such functions.
//
// Ids: one range, bpfvm's own, that no Linux helper reaches (enum bpf_func_id ends near 212)
// and that is not libbpf's poison (0xbad2310): [builtin_helper_first, builtin_helper_last].
// A host that registers its own helpers should keep out of it.
//
//   HelperRegistry helpers = linux_helpers();
//   add_builtin_helpers(helpers);  // Object::load does this itself
#pragma once

#include <bpfvm/helper.hpp>
#include <bpfvm/result.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace bpfvm {

inline constexpr std::uint32_t builtin_helper_first = 0x7f000000;
inline constexpr std::uint32_t builtin_helper_last = 0x7f0000ff;

namespace builtin_helper {
// void *memset(void *dst, int c, size_t n): n bytes of dst set to (unsigned char)c; returns dst.
inline constexpr std::uint32_t memset = 0x7f000001;
// void *memcpy(void *dst, const void *src, size_t n): copies n bytes, overlap allowed (bpfvm
// copies as memmove does, where C leaves overlap undefined); returns dst.
inline constexpr std::uint32_t memcpy = 0x7f000002;
// void *memmove(void *dst, const void *src, size_t n): copies n bytes, overlap allowed;
// returns dst.
inline constexpr std::uint32_t memmove = 0x7f000003;
// int memcmp(const void *a, const void *b, size_t n): <0, 0, >0 as the first differing byte
// (unsigned) of a is below, equal to or above b's; r0 is the int sign-extended to 64 bits.
inline constexpr std::uint32_t memcmp = 0x7f000004;
}  // namespace builtin_helper

// Whether `id` lies in bpfvm's built-in range (registered or not).
constexpr bool is_builtin_helper_id(std::uint32_t id) {
  return id >= builtin_helper_first && id <= builtin_helper_last;
}

// The built-in function an undefined symbol names ("memset" -> builtin_helper::memset), or
// nullopt for any other name.
std::optional<std::uint32_t> builtin_helper_for_symbol(std::string_view symbol);

// The name and prototype of built-in `id` ("memset"), nullopt for an id that is none.
std::optional<std::string_view> builtin_helper_name(std::uint32_t id);
std::optional<HelperPrototype> builtin_helper_prototype(std::uint32_t id);

// A registry holding the four built-ins, with their prototypes (the verifier checks calls to
// them: destination and source ranges, a size known exactly). In checked mode they check every
// byte through HelperCall::accessible and fail the run on a forged address.
HelperRegistry builtin_helpers();

// Adds the built-ins to `registry`; those whose id is already taken are left as they are (a
// host may provide its own memcpy under the same id).
Status add_builtin_helpers(HelperRegistry& registry);

}  // namespace bpfvm
