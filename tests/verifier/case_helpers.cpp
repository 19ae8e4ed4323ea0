#include "verifier/case_helpers.hpp"

#include <cstring>

namespace bpfvm::verifier::testing {
namespace {

using u64 = std::uint64_t;

u64 sum_bytes(HelperCall& call, u64 p, u64 n) {
  if (n == 0) return 0;
  if (!call.accessible(p, n, false)) {
    call.fail("sum: memory not readable");
    return 0;
  }
  u64 total = 0;
  for (u64 i = 0; i < n; ++i) total += reinterpret_cast<const std::uint8_t*>(p)[i];
  return total;
}

u64 sum(HelperCall& call, u64 p, u64 n, u64, u64, u64) { return sum_bytes(call, p, n); }

u64 fill(HelperCall& call, u64 p, u64 n, u64, u64, u64) {
  if (n == 0) return 0;
  if (!call.accessible(p, n, true)) {
    call.fail("fill: memory not writable");
    return 0;
  }
  std::memset(reinterpret_cast<void*>(p), 0xab, n);
  return n;
}

u64 identity(HelperCall&, u64 a, u64, u64, u64, u64) { return a; }

u64 ctx_first_byte(HelperCall& call, u64 p, u64, u64, u64, u64) {
  if (reinterpret_cast<void*>(p) != call.context()) call.fail("ctx: not the context");
  return 0;
}

u64 store_long(HelperCall& call, u64 p, u64, u64, u64, u64) {
  if (!call.accessible(p, 8, true)) {
    call.fail("store_long: not writable");
    return 0;
  }
  const u64 v = 0x0123456789abcdefULL;
  std::memcpy(reinterpret_cast<void*>(p), &v, 8);
  return 0;
}

u64 sum_or_null(HelperCall& call, u64 p, u64 n, u64, u64, u64) {
  return p == 0 ? 0 : sum_bytes(call, p, n);
}

u64 stack_or_null(HelperCall& call, u64 p, u64, u64, u64, u64) {
  if (p != 0 && !call.accessible(p - 1, 1, false)) call.fail("stack_or_null: not the stack");
  return 0;
}

HelperPrototype proto(ReturnKind r, std::initializer_list<ArgKind> args) {
  HelperPrototype p;
  p.returns = r;
  int i = 0;
  for (ArgKind a : args) p.args[i++] = a;
  return p;
}

}  // namespace

HelperRegistry case_helpers() {
  HelperRegistry r;
  auto add = [&r](std::uint32_t id, const char* name, HelperFunction f,
                  std::optional<HelperPrototype> p) {
    Helper h;
    h.id = id;
    h.name = name;
    h.function = f;
    h.prototype = p;
    (void)r.add(std::move(h));
  };
  add(1, "sum", sum, proto(ReturnKind::integer, {ArgKind::mem, ArgKind::const_size}));
  add(2, "fill", fill,
      proto(ReturnKind::integer, {ArgKind::uninit_mem, ArgKind::const_size_or_zero}));
  add(3, "identity", identity, proto(ReturnKind::integer, {ArgKind::anything}));
  add(4, "ctx_first_byte", ctx_first_byte, proto(ReturnKind::integer, {ArgKind::ctx}));
  add(5, "store_long", store_long, proto(ReturnKind::integer, {ArgKind::long_ptr}));
  add(6, "sum_or_null", sum_or_null,
      proto(ReturnKind::integer, {ArgKind::mem_or_null, ArgKind::const_size_or_zero}));
  add(7, "stack_or_null", stack_or_null, proto(ReturnKind::void_, {ArgKind::stack_or_null}));
  add(8, "no_prototype", identity, std::nullopt);
  add(9, "lookup", identity,
      proto(ReturnKind::map_value_or_null, {ArgKind::const_map_ptr, ArgKind::map_key}));
  return r;
}

}  // namespace bpfvm::verifier::testing
