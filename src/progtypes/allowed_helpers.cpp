// Which helpers each program type may call: Linux's sk_filter_func_proto,
// tc_cls_act_func_proto and xdp_func_proto (net/core/filter.c) on top of
// bpf_sk_base_func_proto and bpf_base_func_proto, as a loader with CAP_BPF, CAP_PERFMON and
// CAP_NET_ADMIN sees them on Linux 6.18. tests/progtypes/kernel_helpers_test.cpp checks the
// lists against the running kernel.
#include <bpfvm/progtypes.hpp>

#include <algorithm>

namespace bpfvm {
namespace {

constexpr std::uint32_t socket_filter_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  25,  26,  35,  37,  42,
    46,  47,  55,  68,  80,  87,  88,  89,  93,  94,  105, 106, 109, 112, 113, 114, 115, 117,
    118, 120, 122, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149,
    153, 154, 156, 157, 158, 160, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181,
    182, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211};

constexpr std::uint32_t sched_cls_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,  17,  18,  19,
    20,  21,  22,  23,  24,  25,  26,  28,  29,  30,  31,  32,  33,  34,  35,  37,  38,  39,
    40,  41,  42,  43,  46,  47,  48,  50,  55,  66,  68,  69,  79,  80,  83,  84,  85,  86,
    87,  88,  89,  93,  94,  95,  96,  97,  98,  99,  100, 105, 106, 107, 108, 109, 110, 112,
    113, 114, 115, 117, 118, 120, 122, 123, 124, 125, 130, 131, 132, 133, 134, 135, 136, 137,
    138, 139, 140, 141, 148, 149, 151, 152, 153, 154, 155, 156, 157, 158, 160, 163, 164, 165,
    169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 192, 194, 195, 196, 197, 198,
    199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211};

constexpr std::uint32_t xdp_helpers[] = {
    1,   2,   3,   5,   6,   7,   8,   12,  14,  15,  16,  17,  22,  23,  25,  28,  35,  37,
    42,  44,  51,  54,  55,  65,  69,  80,  84,  85,  86,  87,  88,  89,  93,  94,  99,  100,
    105, 106, 109, 110, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134,
    136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158, 160, 163, 164, 165, 169,
    170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 188, 189, 190, 191, 194, 195, 196, 197,
    198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211};

}  // namespace

std::span<const std::uint32_t> allowed_helpers(ProgramType type) {
  switch (type) {
    case ProgramType::socket_filter: return socket_filter_helpers;
    case ProgramType::sched_cls: return sched_cls_helpers;
    case ProgramType::xdp: return xdp_helpers;
    default: return {};
  }
}

bool helper_allowed(ProgramType type, std::uint32_t id) {
  if (type == ProgramType::raw) return true;
  const auto ids = allowed_helpers(type);
  return std::binary_search(ids.begin(), ids.end(), id);
}

}  // namespace bpfvm
