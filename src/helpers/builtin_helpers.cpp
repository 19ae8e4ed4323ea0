// bpfvm's built-in functions (include/bpfvm/builtin_helpers.hpp): memset, memcpy, memmove,
// memcmp for calls clang left to functions the object lacks. Both engines call them as any
// helper; in checked mode every byte they touch is checked against the run's memory first.
#include <bpfvm/builtin_helpers.hpp>

#include "helpers/helper_support.hpp"

#include <array>
#include <cstring>

namespace bpfvm {
namespace {

using helpers::check_pointer;
using helpers::u64;

// void *memset(void *dst, int c, size_t n)
u64 builtin_memset(HelperCall& call, u64 dst, u64 c, u64 n, u64, u64) {
  if (n != 0 && !check_pointer(call, "memset", "dst", dst, n, true)) return 0;
  if (n != 0) std::memset(reinterpret_cast<void*>(dst), static_cast<unsigned char>(c), n);
  return dst;
}

// void *memmove(void *dst, const void *src, size_t n), and memcpy as the same: an overlap
// C leaves undefined copies as memmove does, never reading bytes it already overwrote.
u64 copy(HelperCall& call, std::string_view name, u64 dst, u64 src, u64 n) {
  if (n == 0) return dst;
  if (!check_pointer(call, name, "src", src, n, false)) return 0;
  if (!check_pointer(call, name, "dst", dst, n, true)) return 0;
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
  return dst;
}

u64 builtin_memcpy(HelperCall& call, u64 dst, u64 src, u64 n, u64, u64) {
  return copy(call, "memcpy", dst, src, n);
}

u64 builtin_memmove(HelperCall& call, u64 dst, u64 src, u64 n, u64, u64) {
  return copy(call, "memmove", dst, src, n);
}

// int memcmp(const void *a, const void *b, size_t n): the C int, sign-extended into r0.
u64 builtin_memcmp(HelperCall& call, u64 a, u64 b, u64 n, u64, u64) {
  if (n == 0) return 0;
  if (!check_pointer(call, "memcmp", "a", a, n, false)) return 0;
  if (!check_pointer(call, "memcmp", "b", b, n, false)) return 0;
  const int order =
      std::memcmp(reinterpret_cast<const void*>(a), reinterpret_cast<const void*>(b), n);
  return static_cast<u64>(static_cast<std::int64_t>(order < 0 ? -1 : order > 0 ? 1 : 0));
}

using A = ArgKind;

struct Builtin {
  std::uint32_t id;
  std::string_view name;
  HelperFunction function;
  HelperPrototype prototype;
};

const std::array<Builtin, 4>& builtins() {
  static const std::array<Builtin, 4> table = {{
      {builtin_helper::memset,
       "memset",
       builtin_memset,
       {ReturnKind::first_argument,
        {A::const_sized_uninit_mem, A::anything, A::exact_const_size, A::none, A::none}}},
      {builtin_helper::memcpy,
       "memcpy",
       builtin_memcpy,
       {ReturnKind::first_argument,
        {A::const_sized_uninit_mem, A::const_sized_mem, A::exact_const_size, A::none, A::none}}},
      {builtin_helper::memmove,
       "memmove",
       builtin_memmove,
       {ReturnKind::first_argument,
        {A::const_sized_uninit_mem, A::const_sized_mem, A::exact_const_size, A::none, A::none}}},
      {builtin_helper::memcmp,
       "memcmp",
       builtin_memcmp,
       {ReturnKind::integer,
        {A::const_sized_mem, A::const_sized_mem, A::exact_const_size, A::none, A::none}}},
  }};
  return table;
}

const Builtin* find(std::uint32_t id) {
  for (const Builtin& builtin : builtins())
    if (builtin.id == id) return &builtin;
  return nullptr;
}

}  // namespace

std::optional<std::uint32_t> builtin_helper_for_symbol(std::string_view symbol) {
  for (const Builtin& builtin : builtins())
    if (builtin.name == symbol) return builtin.id;
  return std::nullopt;
}

std::optional<std::string_view> builtin_helper_name(std::uint32_t id) {
  if (const Builtin* builtin = find(id)) return builtin->name;
  return std::nullopt;
}

std::optional<HelperPrototype> builtin_helper_prototype(std::uint32_t id) {
  if (const Builtin* builtin = find(id)) return builtin->prototype;
  return std::nullopt;
}

HelperRegistry builtin_helpers() {
  HelperRegistry registry;
  (void)add_builtin_helpers(registry);  // an empty registry takes every id
  return registry;
}

Status add_builtin_helpers(HelperRegistry& registry) {
  for (const Builtin& builtin : builtins()) {
    if (registry.find(builtin.id) != nullptr) continue;
    Status added = registry.add({.id = builtin.id,
                                 .name = std::string(builtin.name),
                                 .function = builtin.function,
                                 .prototype = builtin.prototype});
    if (!added) return added;
  }
  return Ok{};
}

}  // namespace bpfvm
