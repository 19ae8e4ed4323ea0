// The uapi context fields of each program type, their place in the internal context, and the
// access rules of Linux's sk_filter_is_valid_access, tc_cls_act_is_valid_access,
// bpf_skb_is_valid_access and xdp_is_valid_access (net/core/filter.c).
#include "progtypes/context_layout.hpp"

#include "progtypes/kernel_context.hpp"

#include <fmt/format.h>

#include <array>
#include <cstddef>

namespace bpfvm::progtypes {
namespace {

// How a field is kept in the internal context.
enum class Storage : std::uint8_t {
  word,     // a u32 at `internal`
  half,     // a u16 at `internal` (the kernel's own field is a u16 the program may write)
  pointer,  // a 64-bit pointer at `internal`, read as a u32 field (exactly 4 bytes)
  u64,      // a u64 at `internal` (exactly 8 bytes)
  zero,     // reads as 0 in every run bpfvm can make (no socket, no timestamp type)
  none,     // not supported by bpfvm (the error says why)
};

// Size rules (bpf_skb_is_valid_access): narrow reads of 1, 2 or 4 bytes and 4-byte writes
// for ordinary fields; any size within cb[]; exactly 4 for packet pointers; 8 for tstamp.
enum class Sizes : std::uint8_t { narrow, any, exact4, exact8, exact1 };

constexpr std::uint8_t sf = 1u << 0;  // socket_filter
constexpr std::uint8_t tc = 1u << 1;  // sched_cls
constexpr std::uint8_t xd = 1u << 2;  // xdp

struct FieldInfo {
  std::string_view name;
  std::uint16_t offset;
  std::uint16_t size;
  Storage storage;
  std::int16_t internal;
  // The width of the kernel's own field: a narrow load at least this wide returns the whole
  // field whatever its offset within the u32 (convert_ctx_accesses only shifts loads smaller
  // than the target size).
  std::uint8_t kernel_width;
  Sizes sizes;
  std::uint8_t readers;
  std::uint8_t writers;
  std::string_view why_not = {};
};

constexpr std::int16_t word_at(std::uint16_t uapi_offset) {
  return static_cast<std::int16_t>(skb_words_offset + uapi_offset);
}

// struct __sk_buff (uapi/linux/bpf.h).
constexpr FieldInfo skb_fields[] = {
    {"len", skb_off::len, 4, Storage::word, word_at(skb_off::len), 4, Sizes::narrow, sf | tc, 0},
    {"pkt_type", skb_off::pkt_type, 4, Storage::word, word_at(skb_off::pkt_type), 1, Sizes::narrow,
     sf | tc, 0},
    {"mark", skb_off::mark, 4, Storage::word, word_at(skb_off::mark), 4, Sizes::narrow, sf | tc,
     tc},
    {"queue_mapping", skb_off::queue_mapping, 4, Storage::half,
     static_cast<std::int16_t>(offsetof(SkbView, queue_mapping)), 2, Sizes::narrow, sf | tc, tc},
    {"protocol", skb_off::protocol, 4, Storage::word, word_at(skb_off::protocol), 2, Sizes::narrow,
     sf | tc, 0},
    {"vlan_present", skb_off::vlan_present, 4, Storage::word, word_at(skb_off::vlan_present), 4,
     Sizes::narrow, sf | tc, 0},
    {"vlan_tci", skb_off::vlan_tci, 4, Storage::word, word_at(skb_off::vlan_tci), 2, Sizes::narrow,
     sf | tc, 0},
    {"vlan_proto", skb_off::vlan_proto, 4, Storage::word, word_at(skb_off::vlan_proto), 2,
     Sizes::narrow, sf | tc, 0},
    {"priority", skb_off::priority, 4, Storage::word, word_at(skb_off::priority), 4, Sizes::narrow,
     sf | tc, tc},
    {"ingress_ifindex", skb_off::ingress_ifindex, 4, Storage::word,
     word_at(skb_off::ingress_ifindex), 4, Sizes::narrow, sf | tc, 0},
    {"ifindex", skb_off::ifindex, 4, Storage::word, word_at(skb_off::ifindex), 4, Sizes::narrow,
     sf | tc, 0},
    {"tc_index", skb_off::tc_index, 4, Storage::half,
     static_cast<std::int16_t>(offsetof(SkbView, tc_index)), 2, Sizes::narrow, sf | tc, tc},
    {"cb", skb_off::cb, 20, Storage::word, word_at(skb_off::cb), 4, Sizes::any, sf | tc, sf | tc},
    {"hash", skb_off::hash, 4, Storage::word, word_at(skb_off::hash), 4, Sizes::narrow, sf | tc, 0},
    {"tc_classid", skb_off::tc_classid, 4, Storage::half,
     static_cast<std::int16_t>(offsetof(SkbView, tc_classid)), 2, Sizes::narrow, tc, tc},
    {"data", skb_off::data, 4, Storage::pointer, static_cast<std::int16_t>(offsetof(SkbView, data)),
     8, Sizes::exact4, tc, 0},
    {"data_end", skb_off::data_end, 4, Storage::pointer,
     static_cast<std::int16_t>(offsetof(SkbView, data_end)), 8, Sizes::exact4, tc, 0},
    {"napi_id", skb_off::napi_id, 4, Storage::word, word_at(skb_off::napi_id), 4, Sizes::narrow,
     sf | tc, 0},
    {"family", skb_off::family, 4, Storage::none, 0, 4, Sizes::narrow, 0, 0,
     "is a socket field (sk_skb programs only)"},
    {"remote_ip4", skb_off::remote_ip4, 4, Storage::none, 0, 4, Sizes::narrow, 0, 0,
     "is a socket field (sk_skb programs only)"},
    {"local_ip4", skb_off::local_ip4, 4, Storage::none, 0, 4, Sizes::narrow, 0, 0,
     "is a socket field (sk_skb programs only)"},
    {"remote_ip6", skb_off::remote_ip6, 16, Storage::none, 0, 4, Sizes::narrow, 0, 0,
     "is a socket field (sk_skb programs only)"},
    {"local_ip6", skb_off::local_ip6, 16, Storage::none, 0, 4, Sizes::narrow, 0, 0,
     "is a socket field (sk_skb programs only)"},
    {"remote_port", skb_off::remote_port, 4, Storage::none, 0, 4, Sizes::narrow, 0, 0,
     "is a socket field (sk_skb programs only)"},
    {"local_port", skb_off::local_port, 4, Storage::none, 0, 4, Sizes::narrow, 0, 0,
     "is a socket field (sk_skb programs only)"},
    {"data_meta", skb_off::data_meta, 4, Storage::pointer,
     static_cast<std::int16_t>(offsetof(SkbView, data_meta)), 8, Sizes::exact4, tc, 0},
    {"flow_keys", skb_off::flow_keys, 8, Storage::none, 0, 8, Sizes::exact8, 0, 0,
     "is for flow_dissector programs only"},
    {"tstamp", skb_off::tstamp, 8, Storage::u64,
     static_cast<std::int16_t>(offsetof(SkbView, tstamp)), 8, Sizes::exact8, tc, tc},
    {"wire_len", skb_off::wire_len, 4, Storage::word,
     static_cast<std::int16_t>(offsetof(SkbView, wire_len)), 4, Sizes::narrow, tc, 0},
    {"gso_segs", skb_off::gso_segs, 4, Storage::word,
     static_cast<std::int16_t>(offsetof(SkbView, gso_segs)), 2, Sizes::narrow, sf | tc, 0},
    {"sk", skb_off::sk, 8, Storage::none, 0, 8, Sizes::exact8, 0, 0,
     "is a socket pointer, which bpfvm does not model"},
    {"gso_size", skb_off::gso_size, 4, Storage::word,
     static_cast<std::int16_t>(offsetof(SkbView, gso_size)), 2, Sizes::narrow, sf | tc, 0},
    {"tstamp_type", skb_off::tstamp_type, 1, Storage::zero, 0, 1, Sizes::exact1, tc, 0},
    {"hwtstamp", skb_off::hwtstamp, 8, Storage::u64,
     static_cast<std::int16_t>(offsetof(SkbView, hwtstamp)), 8, Sizes::exact8, tc, 0},
};

// struct xdp_md; egress_ifindex is for BPF_XDP_DEVMAP programs only (xdp_is_valid_access).
constexpr FieldInfo xdp_fields[] = {
    {"data", xdp_off::data, 4, Storage::pointer, static_cast<std::int16_t>(offsetof(XdpView, data)),
     8, Sizes::exact4, xd, 0},
    {"data_end", xdp_off::data_end, 4, Storage::pointer,
     static_cast<std::int16_t>(offsetof(XdpView, data_end)), 8, Sizes::exact4, xd, 0},
    {"data_meta", xdp_off::data_meta, 4, Storage::pointer,
     static_cast<std::int16_t>(offsetof(XdpView, data_meta)), 8, Sizes::exact4, xd, 0},
    {"ingress_ifindex", xdp_off::ingress_ifindex, 4, Storage::word,
     static_cast<std::int16_t>(offsetof(XdpView, ingress_ifindex)), 4, Sizes::exact4, xd, 0},
    {"rx_queue_index", xdp_off::rx_queue_index, 4, Storage::word,
     static_cast<std::int16_t>(offsetof(XdpView, rx_queue_index)), 4, Sizes::exact4, xd, 0},
    {"egress_ifindex", xdp_off::egress_ifindex, 4, Storage::none, 0, 4, Sizes::exact4, 0, 0,
     "is readable by devmap programs (expected_attach_type BPF_XDP_DEVMAP) only"},
};

std::uint8_t type_bit(ProgramType type) {
  switch (type) {
    case ProgramType::socket_filter: return sf;
    case ProgramType::sched_cls: return tc;
    case ProgramType::xdp: return xd;
    default: return 0;
  }
}

std::span<const FieldInfo> fields_of(ProgramType type) {
  switch (type) {
    case ProgramType::socket_filter:
    case ProgramType::sched_cls: return skb_fields;
    case ProgramType::xdp: return xdp_fields;
    default: return {};
  }
}

bool size_ok(Sizes sizes, int size, bool write) {
  switch (sizes) {
    case Sizes::narrow: return write ? size == 4 : (size == 1 || size == 2 || size == 4);
    case Sizes::any: return true;
    case Sizes::exact4: return size == 4;
    case Sizes::exact8: return size == 8;
    case Sizes::exact1: return size == 1;
  }
  return false;
}

std::string field_name(const FieldInfo& field, std::int32_t offset) {
  if (field.size > 4 && field.storage == Storage::word)
    return fmt::format("{}[{}]", field.name, (offset - field.offset) / 4);
  return std::string(field.name);
}

AccessPlan plan_for(const FieldInfo& field, std::int32_t offset, int size, bool write) {
  const auto k = static_cast<std::int16_t>(offset - field.offset);
  const auto bytes = static_cast<std::uint8_t>(size);
  switch (field.storage) {
    case Storage::pointer:
    case Storage::u64:
      return {write ? AccessPlan::Kind::store : AccessPlan::Kind::load, field.internal, 8};
    case Storage::zero: return {AccessPlan::Kind::load_zero, 0, bytes};
    case Storage::half:
      if (write) {
        return {field.offset == skb_off::queue_mapping ? AccessPlan::Kind::store_queue_mapping
                                                       : AccessPlan::Kind::store,
                field.internal, 2};
      }
      if (size >= field.kernel_width) return {AccessPlan::Kind::load, field.internal, 2};
      if (k >= 2) return {AccessPlan::Kind::load_zero, 0, bytes};
      return {AccessPlan::Kind::load, static_cast<std::int16_t>(field.internal + k), bytes};
    case Storage::word:
    case Storage::none: break;
  }
  if (write) {
    return {AccessPlan::Kind::store, static_cast<std::int16_t>(field.internal + k), bytes};
  }
  // Loads at least as wide as the kernel's field return the whole field (see kernel_width);
  // the u32 kept here has zero upper bytes, so reading from the field's start gives it.
  const std::int16_t at = size >= field.kernel_width && field.size == 4 ? 0 : k;
  return {AccessPlan::Kind::load, static_cast<std::int16_t>(field.internal + at), bytes};
}

}  // namespace

AccessResult plan_access(ProgramType type, std::int32_t offset, int size, bool write) {
  const std::uint8_t bit = type_bit(type);
  const std::string_view type_name = program_type_name(type);
  const std::string_view verb = write ? "write" : "read";
  std::size_t uapi_size = uapi_context_size(type);
  if (offset < 0 || static_cast<std::size_t>(offset) >= uapi_size)
    return fmt::format("context offset {} is outside the {}-byte context of {}", offset, uapi_size,
                       type_name);
  if (offset % size != 0)
    return fmt::format("misaligned {}-byte context {} at offset {}", size, verb, offset);
  for (const FieldInfo& field : fields_of(type)) {
    if (offset < field.offset || offset >= field.offset + field.size) continue;
    const std::string name = field_name(field, offset);
    if (field.storage == Storage::none)
      return fmt::format("context field {} (offset {}) {}", name, offset, field.why_not);
    const bool allowed = ((write ? field.writers : field.readers) & bit) != 0;
    if (!allowed)
      return fmt::format("{} programs may not {} context field {} (offset {})", type_name, verb,
                         name, offset);
    if (!size_ok(field.sizes, size, write) || offset + size > field.offset + field.size)
      return fmt::format("invalid {}-byte {} of context field {} (offset {})", size, verb, name,
                         offset);
    return plan_for(field, offset, size, write);
  }
  return fmt::format("context offset {} is not a field of {} (padding)", offset, type_name);
}

std::size_t internal_view_size(ProgramType type) {
  switch (type) {
    case ProgramType::socket_filter:
    case ProgramType::sched_cls: return sizeof(SkbView);
    case ProgramType::xdp: return sizeof(XdpView);
    default: return 0;
  }
}

}  // namespace bpfvm::progtypes

namespace bpfvm {
namespace {

template <std::size_t N>
std::array<ContextField, N> public_fields(const progtypes::FieldInfo (&fields)[N],
                                          std::uint8_t bit) {
  std::array<ContextField, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    out[i] = ContextField{fields[i].name, fields[i].offset, fields[i].size,
                          (fields[i].readers & bit) != 0, (fields[i].writers & bit) != 0};
  }
  return out;
}

}  // namespace

bool program_type_supported(ProgramType type) {
  return type == ProgramType::raw || type == ProgramType::socket_filter ||
         type == ProgramType::sched_cls || type == ProgramType::xdp;
}

std::span<const ContextField> context_fields(ProgramType type) {
  static const auto socket_filter = public_fields(progtypes::skb_fields, progtypes::sf);
  static const auto sched_cls = public_fields(progtypes::skb_fields, progtypes::tc);
  static const auto xdp = public_fields(progtypes::xdp_fields, progtypes::xd);
  switch (type) {
    case ProgramType::socket_filter: return socket_filter;
    case ProgramType::sched_cls: return sched_cls;
    case ProgramType::xdp: return xdp;
    default: return {};
  }
}

std::size_t uapi_context_size(ProgramType type) {
  switch (type) {
    case ProgramType::socket_filter:
    case ProgramType::sched_cls: return progtypes::skb_off::size;
    case ProgramType::xdp: return progtypes::xdp_off::size;
    default: return 0;
  }
}

}  // namespace bpfvm
