// A register's abstract value (Linux: struct bpf_reg_state): not initialised, a scalar, or a
// pointer of some type plus an offset. The offset is a ScalarValue so pointer arithmetic with
// a scalar of unknown value keeps a range (Linux splits it into the fixed `off` and the
// variable `var_off`; one value covers both here).
//
// Pointer types: the stack of a call frame (Linux PTR_TO_STACK), the program's context
// (PTR_TO_CTX: sized by the program type, or by the context size given for raw programs),
// packet, packet end and packet meta pointers (PTR_TO_PACKET, _END, _META: packet_access.hpp);
// maps, map values, map keys, ring buffer records and functions (map_access.hpp,
// references.hpp, callbacks.hpp).
#pragma once

#include "verifier/scalar_value.hpp"

#include <bpfvm/map.hpp>

#include <cstdint>
#include <string>

namespace bpfvm::verifier {

enum class RegKind : std::uint8_t {
  uninit,  // NOT_INIT: reading it is an error
  scalar,  // SCALAR_VALUE
  stack,   // PTR_TO_STACK: frame `frame`'s r10 plus `offset`
  ctx,     // PTR_TO_CTX: r1 at entry plus `offset`
  // Packet pointers (packet_access.hpp): `fixed_off` plus the variable part in `value` from
  // the packet's data (or meta data) start, `range` bytes proven readable from data + value;
  // `id` groups the pointers sharing one variable part (Linux: reg->id, reg->range).
  packet,       // PTR_TO_PACKET
  packet_end,   // PTR_TO_PACKET_END
  packet_meta,  // PTR_TO_PACKET_META
  // Maps (map_access.hpp, docs/verifier.md "Maps"): `map` names the map's shape.
  map_ptr,              // CONST_PTR_TO_MAP: lddw src 1/5, or a map-in-map lookup checked
  map_value,            // PTR_TO_MAP_VALUE: `offset` into one value of `map`
  map_value_or_null,    // PTR_TO_MAP_VALUE | PTR_MAYBE_NULL: map_lookup_elem's r0, `id` set
  map_key,              // PTR_TO_MAP_KEY: a for_each_map_elem callback's key (read only)
  ringbuf_mem,          // PTR_TO_MEM | MEM_RINGBUF: a reserved record of `mem_size` bytes
  ringbuf_mem_or_null,  // the same or null: ringbuf_reserve's r0, `id` and `ref_obj_id` set
  func,                 // PTR_TO_FUNC: lddw src 4, the subprogram starting at `mem_size`
  map_ptr_or_null,      // CONST_PTR_TO_MAP | PTR_MAYBE_NULL: a lookup in a map of maps
  // Sockets (socket_access.hpp): read-only fields, no arithmetic; `ref_obj_id` is the lookup's
  // reference (shared by what bpf_sk_fullsock and bpf_tcp_sock make of it), `id` the null check's.
  sock_common,          // PTR_TO_SOCK_COMMON: a socket of any state (struct bpf_sock's first part)
  sock_common_or_null,  // the same or null: bpf_skc_lookup_tcp's r0
  socket,               // PTR_TO_SOCKET: a full socket (struct bpf_sock)
  socket_or_null,       // the same or null: bpf_sk_lookup_tcp/udp's, bpf_sk_fullsock's r0
  tcp_sock,             // PTR_TO_TCP_SOCK (struct bpf_tcp_sock)
  tcp_sock_or_null,     // the same or null: bpf_tcp_sock's r0
};

struct RegValue {
  RegKind kind = RegKind::uninit;
  // The scalar itself, or the pointer's offset from the start of its region (for stack:
  // from the frame pointer, so in-frame offsets are negative).
  ScalarValue value = ScalarValue::unknown();
  // stack: the call frame (0 = the entry frame) whose stack this points into.
  std::uint8_t frame = 0;
  // scalar: copies made by `mov` (and spills, fills, call arguments) share a nonzero id, so
  // what a branch learns about one applies to all (Linux: reg->id, sync_linked_regs). Any
  // other write gives the register a new value with id 0.
  std::uint32_t id = 0;
  // packet, packet_meta: the constant part of the offset (Linux: reg->off) and the bytes
  // proven accessible from the pointer's base (reg->range).
  std::int32_t fixed_off = 0;
  std::int32_t range = 0;
  // map_ptr, map_value, map_key (and their _or_null): the map's shape (options.maps or an
  // inner spec they own; identity is the map).
  const MapSpec* map = nullptr;
  // ringbuf_mem(_or_null), the socket kinds: the reference it carries until submitted,
  // discarded or released (Linux: reg->ref_obj_id); 0 for everything else.
  std::uint32_t ref_obj_id = 0;
  // ringbuf_mem(_or_null): the record's size; func: the callback's first instruction.
  std::uint32_t mem_size = 0;

  static RegValue uninit() { return RegValue{}; }
  static RegValue scalar(const ScalarValue& v) { return of(RegKind::scalar, v, 0); }
  static RegValue stack_pointer(std::uint8_t frame, std::int64_t offset) {
    return of(RegKind::stack, ScalarValue::constant(static_cast<std::uint64_t>(offset)), frame);
  }
  static RegValue ctx_pointer() { return of(RegKind::ctx, ScalarValue::constant(0), 0); }
  // A packet, packet end or meta pointer as a context read gives it: offset 0, no range.
  static RegValue packet_pointer(RegKind kind) { return of(kind, ScalarValue::constant(0), 0); }
  static RegValue of(RegKind kind, const ScalarValue& v, std::uint8_t frame) {
    RegValue r;
    r.kind = kind;
    r.value = v;
    r.frame = frame;
    return r;
  }

  bool is_init() const { return kind != RegKind::uninit; }
  bool is_scalar() const { return kind == RegKind::scalar; }
  bool is_pointer() const { return kind != RegKind::uninit && kind != RegKind::scalar; }
  bool is_packet() const {
    return kind == RegKind::packet || kind == RegKind::packet_end || kind == RegKind::packet_meta;
  }

  friend bool operator==(const RegValue&, const RegValue&) = default;
};

// Everything `other` stands for is in `old` (Linux: regsafe without liveness). An
// uninitialised register in `old` includes anything: the path that proved `old` safe never
// read it. Pointers must agree on type and frame and the offset range must include. Ids are
// the state's business (verifier_state.hpp): they relate registers to each other.
bool includes(const RegValue& old, const RegValue& other);

// The kernel log's form: "scalar(...)" or a constant, "fp-8", "fp[1]-16",
// "ctx(off=4)", "fp(off=scalar(...))" for a variable offset, "?" for uninitialised.
std::string to_string(const RegValue& v);

}  // namespace bpfvm::verifier
