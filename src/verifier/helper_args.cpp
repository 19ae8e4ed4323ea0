#include "verifier/helper_args.hpp"

#include "verifier/map_access.hpp"
#include "verifier/references.hpp"
#include "verifier/socket_access.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>

namespace bpfvm::verifier {
namespace {

// enum bpf_func_id numbers the compatibility rules name (uapi/linux/bpf.h).
namespace fn {
constexpr std::uint32_t map_lookup_elem = 1, map_update_elem = 2, map_delete_elem = 3,
                        tail_call = 12, perf_event_read = 22, perf_event_output = 25,
                        get_stackid = 27, skb_under_cgroup = 33, current_task_under_cgroup = 37,
                        redirect_map = 51, sk_redirect_map = 52, sock_map_update = 53,
                        perf_event_read_value = 55, msg_redirect_map = 60, skb_output = 67,
                        sk_select_reuseport = 69, sock_hash_update = 70, msg_redirect_hash = 71,
                        sk_redirect_hash = 72, get_local_storage = 81, map_push_elem = 87,
                        map_pop_elem = 88, map_peek_elem = 89, xdp_output = 121,
                        ringbuf_output = 130, ringbuf_reserve = 131, ringbuf_query = 134,
                        for_each_map_elem = 164, ringbuf_reserve_dynptr = 198;
}  // namespace fn

bool in(std::uint32_t v, std::initializer_list<std::uint32_t> set) {
  return std::find(set.begin(), set.end(), v) != set.end();
}
bool in(MapType v, std::initializer_list<MapType> set) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

// The map's side of check_map_func_compatibility: the helpers a map type admits, or
// nullopt when the type admits every helper that takes a map.
bool map_admits(MapType t, std::uint32_t f) {
  using M = MapType;
  switch (t) {
    case M::prog_array: return f == fn::tail_call;
    case M::perf_event_array:
      return in(f, {fn::perf_event_read, fn::perf_event_output, fn::perf_event_read_value,
                    fn::skb_output, fn::xdp_output});
    case M::ringbuf:
      return in(f, {fn::ringbuf_output, fn::ringbuf_reserve, fn::ringbuf_query,
                    fn::ringbuf_reserve_dynptr});
    case M::stack_trace: return f == fn::get_stackid;
    case M::cgroup_array: return in(f, {fn::skb_under_cgroup, fn::current_task_under_cgroup});
    case M::cgroup_storage:
    case M::percpu_cgroup_storage: return f == fn::get_local_storage;
    case M::devmap:
    case M::devmap_hash:
    case M::xskmap: return in(f, {fn::redirect_map, fn::map_lookup_elem});
    case M::cpumap: return f == fn::redirect_map;
    case M::array_of_maps:
    case M::hash_of_maps: return f == fn::map_lookup_elem;
    case M::sockmap:
      return in(f, {fn::sk_redirect_map, fn::sock_map_update, fn::msg_redirect_map,
                    fn::sk_select_reuseport, fn::map_lookup_elem, fn::map_update_elem,
                    fn::map_delete_elem});
    case M::sockhash:
      return in(f, {fn::sk_redirect_hash, fn::sock_hash_update, fn::msg_redirect_hash,
                    fn::sk_select_reuseport, fn::map_lookup_elem, fn::map_update_elem,
                    fn::map_delete_elem});
    case M::reuseport_sockarray: return f == fn::sk_select_reuseport;
    case M::queue:
    case M::stack: return in(f, {fn::map_push_elem, fn::map_pop_elem, fn::map_peek_elem});
    case M::bloom_filter: return in(f, {fn::map_push_elem, fn::map_peek_elem});
    default: return true;
  }
}

// The helper's side: the map types a helper takes (true for helpers with no rule).
bool func_admits(std::uint32_t f, MapType t) {
  using M = MapType;
  switch (f) {
    case fn::tail_call: return t == M::prog_array;
    case fn::perf_event_read:
    case fn::perf_event_output:
    case fn::perf_event_read_value:
    case fn::skb_output:
    case fn::xdp_output: return t == M::perf_event_array;
    case fn::ringbuf_output:
    case fn::ringbuf_reserve:
    case fn::ringbuf_query:
    case fn::ringbuf_reserve_dynptr: return t == M::ringbuf;
    case fn::get_stackid: return t == M::stack_trace;
    case fn::redirect_map: return in(t, {M::devmap, M::devmap_hash, M::cpumap, M::xskmap});
    case fn::map_push_elem:
    case fn::map_peek_elem: return in(t, {M::queue, M::stack, M::bloom_filter});
    case fn::map_pop_elem: return in(t, {M::queue, M::stack});
    // Linux: the map types with map_for_each_callback.
    case fn::for_each_map_elem:
      return in(
          t, {M::hash, M::lru_hash, M::array, M::percpu_hash, M::lru_percpu_hash, M::percpu_array});
    case fn::get_local_storage: return in(t, {M::cgroup_storage, M::percpu_cgroup_storage});
    default: return true;
  }
}

// ARG_PTR_TO_CONST_STR (Linux check_reg_const_str): a constant address inside a read-only
// map's frozen value whose bytes from there hold a NUL.
std::optional<std::string> check_const_str(const VerifyOptions& options, int reg,
                                           const RegValue& v) {
  if (v.kind != RegKind::map_value)
    return fmt::format("R{} type={} expected=map_value", reg, kind_name(v.kind));
  const MapSpec& m = *v.map;
  if ((m.flags & map_flag::rdonly_prog) == 0)
    return fmt::format("R{} does not point to a readonly map'", reg);
  if (!v.value.is_const()) return fmt::format("R{} is not a constant address'", reg);
  if (m.type != MapType::array || m.max_entries != 1)
    return std::string("no direct value access support for this map type");
  const auto off = static_cast<std::int64_t>(v.value.const_value());
  if (off < 0 || off >= static_cast<std::int64_t>(m.value_size))
    return fmt::format("invalid access to map value, value_size={} off={} size={}", m.value_size,
                       off, static_cast<std::int64_t>(m.value_size) - off);
  // The map is one of options.maps (only those have direct values).
  const auto index = static_cast<std::size_t>(&m - options.maps.data());
  if (index >= options.maps.size() || index >= options.map_contents.size() ||
      options.map_contents[index].size() < m.value_size)
    return fmt::format(
        "R{} points into map {} whose frozen contents the verifier was not given "
        "(VerifyOptions::map_contents)",
        reg, index);
  const auto& bytes = options.map_contents[index];
  if (std::find(bytes.begin() + off, bytes.begin() + m.value_size, 0) ==
      bytes.begin() + m.value_size)
    return std::string("string is not zero-terminated");
  return std::nullopt;
}

}  // namespace

bool is_map_arg_kind(ArgKind kind) {
  switch (kind) {
    case ArgKind::const_map_ptr:
    case ArgKind::map_key:
    case ArgKind::map_value:
    case ArgKind::func:
    case ArgKind::const_str:
    case ArgKind::ringbuf_record:
    case ArgKind::const_alloc_size: return true;
    default: return false;
  }
}

std::optional<std::string> check_map_arg(const VerifyOptions& options, std::uint32_t helper_id,
                                         ArgKind kind, int reg, const RegValue& v, CallMeta& meta,
                                         const MemCheck& mem) {
  switch (kind) {
    case ArgKind::const_map_ptr:
      if (v.kind != RegKind::map_ptr)
        return fmt::format("R{} type={} expected=map_ptr", reg, kind_name(v.kind));
      meta.map = v.map;
      return std::nullopt;
    case ArgKind::map_key:
      if (meta.map == nullptr) return std::string("invalid map_ptr to access map->key");
      return mem(reg, v, meta.map->key_size, false);
    case ArgKind::map_value:
      if (meta.map == nullptr) return std::string("invalid map_ptr to access map->value");
      // pop and peek write the value into the buffer (Linux: MEM_UNINIT | MEM_WRITE).
      return mem(reg, v, meta.map->value_size,
                 helper_id == fn::map_pop_elem || helper_id == fn::map_peek_elem);
    case ArgKind::func:
      if (v.kind != RegKind::func)
        return fmt::format("R{} type={} expected=func", reg, kind_name(v.kind));
      meta.callback = v.mem_size;
      return std::nullopt;
    case ArgKind::const_str: return check_const_str(options, reg, v);
    case ArgKind::ringbuf_record:
      if (v.kind != RegKind::ringbuf_mem || v.ref_obj_id == 0)
        return fmt::format("R{} type={} expected=ringbuf_mem", reg, kind_name(v.kind));
      if (!v.value.is_const() || v.value.const_value() != 0)
        return fmt::format("R{} must have zero offset when passed to release func", reg);
      meta.release_ref = v.ref_obj_id;
      return std::nullopt;
    case ArgKind::const_alloc_size:
      if (!v.is_scalar()) return fmt::format("R{} leaks addr into helper function", reg);
      if (!v.value.is_const()) return fmt::format("R{} is not a known constant'", reg);
      meta.alloc_size = v.value.const_value();
      return std::nullopt;
    default: return fmt::format("R{}: argument kind not handled here", reg);
  }
}

std::optional<std::string> check_map_func_compatibility(std::uint32_t helper_id,
                                                        std::string_view helper_name,
                                                        const MapSpec& map) {
  if (map_admits(map.type, helper_id) && func_admits(helper_id, map.type)) return std::nullopt;
  return fmt::format("cannot pass map_type {} ({}) into func {}#{}",
                     static_cast<std::uint32_t>(map.type), map_type_name(map.type), helper_name,
                     helper_id);
}

std::optional<std::string> finish_call(const HelperPrototype& proto, const CallMeta& meta,
                                       std::size_t pc, VerifierState& st) {
  if (meta.release_ref != 0)
    if (auto e = release_reference(st, meta.release_ref)) return e;
  RegValue& r0 = st.current().regs[0];
  r0 = RegValue::scalar(ScalarValue::unknown());
  switch (proto.returns) {
    case ReturnKind::integer:
    case ReturnKind::void_: return std::nullopt;
    case ReturnKind::first_argument:
      // As `r0 = r1`: the same pointer (its id and range included) or scalar.
      r0 = meta.first_argument;
      return std::nullopt;
    case ReturnKind::no_return:
      // The tail call may leave for good: nothing may be held then.
      if (!st.refs.empty()) return std::string("tail_call would lead to reference leak");
      return std::nullopt;
    case ReturnKind::map_value_or_null: {
      if (meta.map == nullptr)
        return std::string("kernel subsystem misconfigured verifier (no map for the return)");
      RegValue out;
      out.value = ScalarValue::constant(0);
      if (meta.map->type == MapType::array_of_maps || meta.map->type == MapType::hash_of_maps) {
        if (!meta.map->inner)
          return fmt::format("map {} of maps has no inner map spec", meta.map->name);
        out.kind = RegKind::map_ptr_or_null;
        out.map = meta.map->inner.get();
      } else if (meta.value_not_null) {
        out.kind = RegKind::map_value;
        out.map = meta.map;
        r0 = out;
        return std::nullopt;
      } else {
        out.kind = RegKind::map_value_or_null;
        out.map = meta.map;
      }
      out.id = st.next_id++;
      r0 = out;
      return std::nullopt;
    }
    case ReturnKind::ringbuf_record_or_null: {
      if (!meta.alloc_size) return std::string("ringbuf record without a constant size");
      if (*meta.alloc_size > (std::uint64_t{1} << 31))
        return fmt::format("ringbuf record of {} bytes is too large", *meta.alloc_size);
      RegValue out;
      out.kind = RegKind::ringbuf_mem_or_null;
      out.value = ScalarValue::constant(0);
      out.mem_size = static_cast<std::uint32_t>(*meta.alloc_size);
      out.ref_obj_id = acquire_reference(st, pc);
      out.id = out.ref_obj_id;
      r0 = out;
      return std::nullopt;
    }
    default:
      if (is_socket_return_kind(proto.returns)) {
        r0 = socket_return(proto.returns, meta, pc, st);
        return std::nullopt;
      }
      break;  // check_helper_call refuses the others (return_kind_supported)
  }
  return std::string("unknown return kind");
}

bool return_kind_supported(ReturnKind kind) {
  switch (kind) {
    case ReturnKind::integer:
    case ReturnKind::void_:
    case ReturnKind::no_return:
    case ReturnKind::map_value_or_null:
    case ReturnKind::ringbuf_record_or_null:
    case ReturnKind::first_argument: return true;
    default: return is_socket_return_kind(kind);
  }
}

}  // namespace bpfvm::verifier
