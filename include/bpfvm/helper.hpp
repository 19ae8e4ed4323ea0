// Helper functions: host code that programs call by number (`call imm`), Linux style.
#pragma once

#include <bpfvm/result.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace bpfvm {

class Map;

namespace detail {
struct RunState;
}

// What a helper may do to the run that called it. Passed by reference to every helper.
class HelperCall {
 public:
  explicit HelperCall(detail::RunState& state, void* user) : state_(state), user_(user) {}

  // The pointer the helper was registered with.
  void* user() const { return user_; }

  // r1 at the program's entry (RunInput::context): the context helpers of program types
  // (skb_load_bytes, xdp_adjust_head, ...) work on.
  void* context() const;

  // Lets the program load from (and, when writable, store to) [base, base + size) for the
  // rest of this run in checked mode: for example a map value a lookup returns.
  void grant(const void* base, std::size_t size, bool writable);

  // Whether checked mode would admit an access of `size` bytes at `address`. Helpers that
  // take pointers from the program (probe_read and friends) ask this before touching them.
  bool accessible(std::uint64_t address, std::size_t size, bool write) const;

  // Ends the program when the helper returns; r0 is the helper's return value.
  void end_program();

  // Fails the run with a helper error carrying `message`.
  void fail(std::string message);

  // Whether the run is in checked mode: helpers then validate every pointer the program
  // passes (and fail the run on a bad one) instead of trusting a verifier.
  bool checked() const;

  // Withdraws a region granted earlier with exactly these arguments (a ring buffer record
  // once submitted, a map element once a for_each callback has seen it).
  void revoke(const void* base, std::size_t size, bool writable);

  // Where the packet LD_ABS / LD_IND read (RunInput::packet) is from now on: packet helpers
  // that move or resize the packet (skb_change_head, skb_adjust_room, ...) say so, as Linux's
  // legacy loads read the skb as it is.
  void set_packet(const void* data, std::size_t size);

  // ---- Maps (docs/helpers.md).
  // The map `value` points at: one of the program's maps (LoadOptions::maps, which `lddw`
  // src 1/5 load), or an inner map a lookup in a map of maps returned during this run.
  // nullptr for anything else, so that helpers refuse forged pointers instead of using them.
  Map* map(std::uint64_t value) const;
  // Makes `inner` (returned by a lookup in a map of maps) a valid map pointer for the rest
  // of the run.
  void adopt_map(Map* inner);

  // ---- Callbacks: bpf_loop, bpf_for_each_map_elem.
  // Whether `value` is a function of the running program (`lddw` src 4, BPF_PSEUDO_FUNC).
  bool is_function(std::uint64_t value) const;
  // Calls that function with r1-r5 in a new stack frame below the caller's, in this run:
  // its instructions count against the budget, and its frame against the call-depth limit.
  // Returns its r0, or nullopt when the run must stop (the callback failed, a helper in it
  // ended the run, or `function` is not a function): the helper must then return at once.
  std::optional<std::uint64_t> call_function(std::uint64_t function, std::uint64_t r1 = 0,
                                             std::uint64_t r2 = 0, std::uint64_t r3 = 0,
                                             std::uint64_t r4 = 0, std::uint64_t r5 = 0);

  // ---- Tail calls: bpf_tail_call.
  // Asks the engine to replace the running program by the program at `index` of the
  // prog_array `prog_array` once the helper returns (same context, fresh stack). 0 when the
  // request is accepted; a negative errno when the tail call fails and the program goes on:
  // -EINVAL (not a prog_array, or not called from the program's entry frame), -ENOENT (index
  // past max_entries, or empty slot), -ELOOP (the run already made max_tail_calls).
  int tail_call(std::uint64_t prog_array, std::uint64_t index);

  // Ring buffer records reserved in this run and not yet submitted or discarded: the engine
  // discards those left over when the run ends.
  // open_record also grants the record (writable) until close_record revokes it.
  void open_record(void* record, std::size_t size, Map* ringbuf);
  // The ring buffer `record` was reserved from, and forgets it; nullptr when `record` is not
  // an open record of this run.
  Map* close_record(const void* record);

 private:
  detail::RunState& state_;
  void* user_;
};

// What a helper takes and gives, as Linux's struct bpf_func_proto: data the verifier reads to
// check each call (enum bpf_arg_type / bpf_return_type, the kinds bpfvm's helpers use).
enum class ArgKind : std::uint8_t {
  none,                // the argument is unused (and need not be initialised)
  anything,            // any initialised value (ARG_ANYTHING)
  const_map_ptr,       // a map pointer from lddw (ARG_CONST_MAP_PTR)
  map_key,             // pointer to key_size readable bytes of that map (ARG_PTR_TO_MAP_KEY)
  map_value,           // pointer to value_size readable bytes of that map (ARG_PTR_TO_MAP_VALUE)
  mem,                 // pointer to readable memory, size in the next argument (ARG_PTR_TO_MEM)
  mem_or_null,         // the same, or null (ARG_PTR_TO_MEM | PTR_MAYBE_NULL)
  uninit_mem,          // pointer to writable memory the helper fills (ARG_PTR_TO_UNINIT_MEM)
  const_size,          // the size of the previous pointer argument, > 0 (ARG_CONST_SIZE)
  const_size_or_zero,  // the same, 0 allowed (ARG_CONST_SIZE_OR_ZERO)
  ctx,                 // the program's context pointer (ARG_PTR_TO_CTX)
  func,                // a callback: lddw of a function address (ARG_PTR_TO_FUNC)
  stack_or_null,       // pointer to the stack, or null (ARG_PTR_TO_STACK_OR_NULL)
  long_ptr,            // pointer to 8 writable bytes (ARG_PTR_TO_LONG)
  const_str,           // pointer to a NUL-terminated string in read-only map data
                       // (ARG_PTR_TO_CONST_STR)
  ringbuf_record,      // a record bpf_ringbuf_reserve returned (ARG_PTR_TO_ALLOC_MEM, release)
  const_alloc_size,    // a constant size for an allocation (ARG_CONST_ALLOC_SIZE_OR_ZERO)
  // ---- Kinds of Linux helpers bpfvm does not implement (linux_prototypes.hpp). The
  // verifier rejects calls whose arguments are of a kind it cannot check yet, naming it.
  map_value_or_null,       // a map value of that map, or null (ARG_PTR_TO_MAP_VALUE_OR_NULL)
  uninit_map_value,        // value_size writable bytes the helper fills
                           // (ARG_PTR_TO_UNINIT_MAP_VALUE, now ARG_PTR_TO_MAP_VALUE | MEM_UNINIT)
  writable_mem,            // initialised memory the helper reads and writes, size in the next
                           // argument (ARG_PTR_TO_MEM without MEM_RDONLY)
  writable_mem_or_null,    // the same, or null (ARG_PTR_TO_MEM | PTR_MAYBE_NULL)
  int_ptr,                 // pointer to 4 writable bytes (ARG_PTR_TO_INT, now
                           // ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_ALIGNED of 4 bytes)
  fixed_size_mem,          // pointer to HelperPrototype::arg_size readable bytes
                           // (ARG_PTR_TO_FIXED_SIZE_MEM | MEM_RDONLY)
  ctx_or_null,             // the context pointer, or null (ARG_PTR_TO_CTX_OR_NULL)
  spin_lock,               // the struct bpf_spin_lock in a map value (ARG_PTR_TO_SPIN_LOCK)
  timer,                   // the struct bpf_timer in a map value (ARG_PTR_TO_TIMER)
  sock_common,             // a socket of any state, from the context or a lookup
                           // (ARG_PTR_TO_SOCK_COMMON)
  socket,                  // a full socket (ARG_PTR_TO_SOCKET)
  socket_or_null,          // the same, or null (ARG_PTR_TO_SOCKET | PTR_MAYBE_NULL)
  btf_id_sock_common,      // a socket, as sock_common or as a BTF pointer to a kernel socket
                           // (ARG_PTR_TO_BTF_ID_SOCK_COMMON)
  release_sock_common,     // a socket reference the helper releases
                           // (ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE: sk_release)
  btf_id,                  // a pointer to a kernel object of the helper's BTF type
                           // (ARG_PTR_TO_BTF_ID, bpf_func_proto::arg_btf_id)
  btf_id_or_null,          // the same, or null (ARG_PTR_TO_BTF_ID_OR_NULL)
  release_btf_id_or_null,  // an object reference handed over, or null
                           // (ARG_PTR_TO_BTF_ID_OR_NULL | OBJ_RELEASE: kptr_xchg)
  percpu_btf_id,           // a per-CPU kernel variable (ARG_PTR_TO_PERCPU_BTF_ID)
  kptr_xchg_dest,          // a kptr field of a map value (ARG_KPTR_XCHG_DEST)
  dynptr,                  // an initialised struct bpf_dynptr on the stack (ARG_PTR_TO_DYNPTR)
  uninit_dynptr,           // a struct bpf_dynptr on the stack the helper initialises
                           // (ARG_PTR_TO_DYNPTR | MEM_UNINIT)
  release_dynptr,          // a ring buffer dynptr the helper submits or discards
                           // (ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | OBJ_RELEASE)
  // ---- Added after the kinds above (their numbering is kept).
  unsafe_ptr,  // any initialised value, pointers included: an address the helper only reads
               // through HelperCall::accessible, never trusting it (probe_read's unsafe_ptr;
               // Linux: ARG_ANYTHING, where root may pass pointers). Reading through it is no
               // leak: the pointer's value reaches no memory the program or host can read.
  // ---- bpfvm's built-in functions (builtin_helpers.hpp: memset, memcpy, memmove, memcmp),
  // which Linux has no helper for. Their size is the one exact_const_size argument.
  const_sized_uninit_mem,  // pointer to writable memory of `size` bytes the function fills
                           // (it need not be initialised, and is afterwards)
  const_sized_mem,         // pointer to `size` readable, initialised bytes
  exact_const_size,        // `size`: a scalar the verifier knows exactly (0 allowed), not a range
};

enum class ReturnKind : std::uint8_t {
  integer,                 // a scalar (RET_INTEGER)
  void_,                   // nothing; r0 is unknown (RET_VOID)
  map_value_or_null,       // a value of the map in r1, or null (RET_PTR_TO_MAP_VALUE_OR_NULL)
  ringbuf_record_or_null,  // a record of the size in r2, or null (RET_PTR_TO_ALLOC_MEM_OR_NULL)
  no_return,               // does not return on success (tail_call)
  // ---- Return kinds of Linux helpers bpfvm does not implement (linux_prototypes.hpp).
  map_value,                     // a value of the map in r1, never null (RET_PTR_TO_MAP_VALUE)
  socket_or_null,                // a full socket, or null (RET_PTR_TO_SOCKET_OR_NULL)
  acquired_socket_or_null,       // the same, a reference the program must release with
                                 // sk_release (RET_PTR_TO_SOCKET_OR_NULL, is_acquire_function)
  acquired_sock_common_or_null,  // a socket of any state the program must release
                                 // (RET_PTR_TO_SOCK_COMMON_OR_NULL, is_acquire_function)
  tcp_sock_or_null,              // a struct bpf_tcp_sock, or null (RET_PTR_TO_TCP_SOCK_OR_NULL)
  mem_or_btf_id,                 // a per-CPU variable (RET_PTR_TO_MEM_OR_BTF_ID)
  mem_or_btf_id_or_null,         // the same, or null (RET_PTR_TO_MEM_OR_BTF_ID | PTR_MAYBE_NULL)
  btf_id,                        // a kernel object of the helper's BTF type (RET_PTR_TO_BTF_ID,
                                 // RET_PTR_TO_BTF_ID_TRUSTED)
  btf_id_or_null,                // the same, or null (RET_PTR_TO_BTF_ID_OR_NULL)
  dynptr_mem_or_null,            // memory a dynptr covers, or null (RET_PTR_TO_DYNPTR_MEM_OR_NULL)
  // ---- bpfvm's built-in functions (builtin_helpers.hpp).
  first_argument,  // r1 as the program passed it, as C's memset and memcpy return their
                   // destination: r0 becomes a copy of r1's value (a pointer stays one)
};

struct HelperPrototype {
  ReturnKind returns = ReturnKind::integer;
  ArgKind args[5] = {ArgKind::none, ArgKind::none, ArgKind::none, ArgKind::none, ArgKind::none};
  // The helper may write to the packet (Linux: bpf_helper_changes_pkt_data): packet pointers
  // the program holds are invalid after the call.
  bool changes_packet = false;
  // The byte count of each ArgKind::fixed_size_mem argument (Linux: bpf_func_proto's
  // argN_size with ARG_PTR_TO_FIXED_SIZE_MEM); 0 for the other kinds.
  std::uint16_t arg_size[5] = {0, 0, 0, 0, 0};
};

// Five 64-bit arguments (r1-r5), one 64-bit result (r0), as the eBPF calling convention.
using HelperFunction = std::uint64_t (*)(HelperCall& call, std::uint64_t r1, std::uint64_t r2,
                                         std::uint64_t r3, std::uint64_t r4, std::uint64_t r5);

// Linux's MAX_TAIL_CALL_CNT: tail calls one run may make (the 34th fails).
inline constexpr std::uint32_t max_tail_calls = 33;

// What an engine may do instead of calling a helper's function, because the function is
// known to be one of Linux's as linux_helpers() registers it (docs/benchmarks.md): with r1 a
// map from `lddw`, the JIT inlines array lookups (Linux: array_map_gen_lookup) and calls the
// map's lookup directly for other maps, with the helper's checks and grants.
enum class HelperFastPath : std::uint8_t {
  none,             // always call `function`
  map_lookup_elem,  // bpf_map_lookup_elem (1) as helpers/map_helpers.cpp implements it
};

struct Helper {
  std::uint32_t id = 0;
  std::string name;
  HelperFunction function = nullptr;
  void* user = nullptr;
  // Unknown for host helpers registered without one: the verifier then rejects calls to it,
  // and such programs run in checked mode.
  std::optional<HelperPrototype> prototype = std::nullopt;
  // Keeps what `user` points at alive as long as any registry (or program) holds the helper.
  std::shared_ptr<const void> owner = nullptr;
  // Set by linux_helpers() only: an embedder's own function under the same id keeps `none`.
  HelperFastPath fast_path = HelperFastPath::none;
};

// Helpers by id. Programs resolve their `call` instructions against a registry at load;
// `callx` looks the id up at run time.
class HelperRegistry {
 public:
  // Fails when the id is taken or the function is null.
  Status add(Helper helper);
  const Helper* find(std::uint32_t id) const;
  const std::map<std::uint32_t, Helper>& all() const { return helpers_; }

 private:
  std::map<std::uint32_t, Helper> helpers_;
};

}  // namespace bpfvm
