#include <bpfvm/program.hpp>

#include "isa/decoder.hpp"
#include "vm/code.hpp"

#include <fmt/format.h>

#include <bpfvm/map.hpp>

#include <algorithm>
#include <cstring>

namespace bpfvm {
namespace {

// The immediate an engine needs, widened once here instead of on every execution.
std::int64_t widened_imm(const DecodedInsn& decoded) {
  const OpcodeInfo& row = *decoded.row;
  if (row.shape == Shape::Lddw) return static_cast<std::int64_t>(decoded.imm64);
  return decoded.insn.imm;  // sign-extended; 32-bit operations truncate it again
}

// What a `call N` of an id the registry lacks runs: it fails the run, as callx of such an id
// does. The id travels in `user`.
std::uint64_t unknown_helper_trap(HelperCall& call, std::uint64_t, std::uint64_t, std::uint64_t,
                                  std::uint64_t, std::uint64_t) {
  auto id = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(call.user()));
  call.fail(fmt::format("call {}: no helper with id {} is registered", id, id));
  return 0;
}

// A call to an unknown helper is not refused here: Linux checks a helper call only where the
// verifier reaches it (check_helper_call, in do_check) and removes the code no path reaches
// (opt_remove_dead_code), so a program whose only such calls are dead loads there. The
// verifier refuses reachable ones ("invalid func unknown#N"); a program run without it fails
// at the call (Error::Kind::helper), never calls anything.
Result<Ok> resolve_call(std::size_t index, const DecodedInsn& decoded,
                        const HelperRegistry& helpers, detail::Code& code, detail::CodeInsn& out) {
  switch (decoded.row->shape) {
    case Shape::CallHelper: {
      auto id = static_cast<std::uint32_t>(decoded.insn.imm);
      out.helper = helpers.find(id);
      if (out.helper == nullptr) {
        code.unknown_helpers.push_back(std::make_unique<Helper>(
            Helper{.id = id,
                   .name = "unknown",
                   .function = unknown_helper_trap,
                   .user = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id))}));
        out.helper = code.unknown_helpers.back().get();
      }
      return Ok{};
    }
    case Shape::CallBtf:
      return insn_error(Error::Kind::invalid_program, index,
                        fmt::format("call btf {}: calls to kernel functions by BTF id are not "
                                    "supported and must be resolved by the object loader",
                                    decoded.insn.imm));
    default: break;
  }
  return Ok{};
}

// `lddw` with a pseudo source (uapi/linux/bpf.h BPF_PSEUDO_*): what the kernel's
// resolve_pseudo_ldimm64() does against the fd table, here against LoadOptions::maps.
// `next_imm` is the second slot's imm.
Result<Ok> resolve_lddw(std::size_t index, const DecodedInsn& decoded, std::size_t slot_count,
                        const std::vector<DecodedInsn>& all, detail::Code& code,
                        detail::CodeInsn& out) {
  const std::uint8_t src = decoded.insn.src;
  const std::int32_t imm = decoded.insn.imm;
  const auto next_imm = static_cast<std::uint32_t>(decoded.imm64 >> 32);
  auto fail = [&](std::string message) {
    return insn_error(Error::Kind::invalid_program, index,
                      fmt::format("lddw src {}: {}", src, message));
  };
  switch (src) {
    case lddw_src::imm64: return Ok{};
    case lddw_src::btf_id:
      return fail(
          "kernel variables by BTF id (BPF_PSEUDO_BTF_ID) must be resolved by the "
          "object loader");
    case lddw_src::func: {
      // imm is relative to the next slot, like a local call's.
      if (next_imm != 0) return fail("BPF_PSEUDO_FUNC takes imm 0 in the second slot");
      std::int64_t target = static_cast<std::int64_t>(index) + 1 + imm;
      if (target < 0 || static_cast<std::size_t>(target) >= slot_count ||
          all[static_cast<std::size_t>(target)].row == nullptr)
        return fail(
            fmt::format("function at relative offset {} (slot {}) is outside the "
                        "program or inside an lddw",
                        imm, target));
      auto slot = static_cast<std::uint32_t>(target);
      code.functions.push_back(slot);
      out.imm = static_cast<std::int64_t>(reinterpret_cast<std::uint64_t>(&code.slots[slot]));
      return Ok{};
    }
    default: break;
  }
  // src 1, 2, 5, 6: a map by index.
  if (imm < 0 || static_cast<std::size_t>(imm) >= code.maps.size())
    return fail(
        fmt::format("map index {} is out of range ({} maps were given)", imm, code.maps.size()));
  Map* map = code.maps[static_cast<std::size_t>(imm)].get();
  if (map == nullptr) return fail(fmt::format("map {} is null", imm));
  if (src == lddw_src::map_fd || src == lddw_src::map_idx) {
    if (next_imm != 0)
      return fail(
          "a map reference takes imm 0 in the second slot (its offset is only for "
          "map values, src 2 and 6)");
    out.imm = static_cast<std::int64_t>(reinterpret_cast<std::uint64_t>(map));
    return Ok{};
  }
  // src 2, 6: the address of the map's value plus the offset (global data).
  auto* value = static_cast<std::uint8_t*>(map->direct_value());
  if (value == nullptr)
    return fail(fmt::format("map {} ({}) has no direct value; only array maps do", imm,
                            map_type_name(map->type())));
  if (next_imm >= map->spec().value_size)
    return fail(fmt::format("offset {} is past map {}'s value of {} bytes", next_imm, imm,
                            map->spec().value_size));
  out.imm = static_cast<std::int64_t>(reinterpret_cast<std::uint64_t>(value + next_imm));
  auto begin = reinterpret_cast<std::uintptr_t>(value);
  detail::Region region{begin, begin + map->spec().value_size,
                        (map->spec().flags & map_flag::rdonly_prog) == 0};
  if (std::find_if(code.global_regions.begin(), code.global_regions.end(), [&](const auto& r) {
        return r.begin == region.begin;
      }) == code.global_regions.end())
    code.global_regions.push_back(region);
  return Ok{};
}

}  // namespace

Result<std::vector<Insn>> insns_from_bytes(std::span<const std::uint8_t> bytes) {
  if (bytes.size() % sizeof(Insn) != 0)
    return make_error(Error::Kind::invalid_program,
                      fmt::format("program is {} bytes, not a multiple of 8 (the last "
                                  "instruction is truncated)",
                                  bytes.size()));
  std::vector<Insn> insns(bytes.size() / sizeof(Insn));
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const std::uint8_t* p = bytes.data() + i * sizeof(Insn);
    Insn& insn = insns[i];
    insn.opcode = p[0];
    insn.dst = p[1] & 0x0f;
    insn.src = p[1] >> 4;
    insn.offset = static_cast<std::int16_t>(p[2] | (p[3] << 8));
    insn.imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(p[4]) | (p[5] << 8) |
                                         (p[6] << 16) | (static_cast<std::uint32_t>(p[7]) << 24));
  }
  return insns;
}

std::vector<std::uint8_t> bytes_from_insns(std::span<const Insn> insns) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(insns.size() * sizeof(Insn));
  for (const Insn& insn : insns) {
    auto offset = static_cast<std::uint16_t>(insn.offset);
    auto imm = static_cast<std::uint32_t>(insn.imm);
    bytes.push_back(insn.opcode);
    bytes.push_back(static_cast<std::uint8_t>(insn.dst | (insn.src << 4)));
    bytes.push_back(static_cast<std::uint8_t>(offset));
    bytes.push_back(static_cast<std::uint8_t>(offset >> 8));
    for (int shift = 0; shift < 32; shift += 8)
      bytes.push_back(static_cast<std::uint8_t>(imm >> shift));
  }
  return bytes;
}

Result<Program> Program::load(std::span<const Insn> insns, const LoadOptions& options) {
  auto decoded = decode(insns, DecodeOptions{.max_insns = options.max_insns});
  if (!decoded) return decoded.error();

  auto code = std::make_shared<detail::Code>();
  code->insns.assign(insns.begin(), insns.end());
  if (options.helpers != nullptr) code->helpers = *options.helpers;
  code->maps = options.maps;
  code->slots.resize(insns.size());
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const DecodedInsn& d = (*decoded)[i];
    if (d.row == nullptr) continue;  // lddw's second slot
    detail::CodeInsn& slot = code->slots[i];
    slot.op = d.row->op;
    slot.dst = d.insn.dst;
    slot.src = d.insn.src;
    slot.offset = d.insn.offset;
    slot.target = static_cast<std::uint32_t>(d.target);
    slot.imm = widened_imm(d);
    if (auto ok = resolve_call(i, d, code->helpers, *code, slot); !ok) return ok.error();
    if (d.row->shape == Shape::Lddw)
      if (auto ok = resolve_lddw(i, d, insns.size(), *decoded, *code, slot); !ok) return ok.error();
  }
  std::sort(code->functions.begin(), code->functions.end());
  code->needs_read_guard =
      std::any_of(code->slots.begin(), code->slots.end(), [](const auto& slot) {
        if (slot.op != Op::LDDW || slot.src == lddw_src::imm64 || slot.src == lddw_src::func)
          return false;
        // src 1/5 hold the map's address; src 2/6 point into an array's values.
        if (slot.src != lddw_src::map_fd && slot.src != lddw_src::map_idx) return false;
        const MapType type =
            reinterpret_cast<const Map*>(static_cast<std::uint64_t>(slot.imm))->type();
        return type != MapType::array && type != MapType::percpu_array;
      });
  return Program(std::move(code));
}

Result<Program> Program::load_bytes(std::span<const std::uint8_t> bytes,
                                    const LoadOptions& options) {
  auto insns = insns_from_bytes(bytes);
  if (!insns) return insns.error();
  return load(*insns, options);
}

std::span<const Insn> Program::insns() const { return code_->insns; }

}  // namespace bpfvm
