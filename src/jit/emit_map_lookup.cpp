// bpf_map_lookup_elem (1) when r1 holds a map from `lddw` at the call, as Linux's verifier
// knows it (the map is a constant of the program, so its type and address are known at JIT
// time) and the helper is Linux's own (Helper::fast_path):
//
// - a plain array map: the lookup is inline, as Linux's array_map_gen_lookup emits it:
//       mov r11d, [r2]            ; the index
//       cmp r11d, max_entries ; jae null
//       shl r11, log2(elem_size) (imul otherwise) ; mov rax, values ; add rax, r11
//   A hit falls through; a miss (rax = 0) and the bridge call below are out of line.
//   The helper's other effects stay: in checked mode the key must be readable (inline: inside
//   the active stack frames, where clang puts it; anywhere else goes through the helper), and
//   the first lookup that finds a value grants the array's value storage. A bit in
//   JitRunState::inline_grants says that grant was made; until then the lookup goes through
//   the bridge, which makes it.
// - any other map except maps of maps: a direct call to the map's lookup through the
//   map_lookup bridge (trampoline.cpp), with the helper's key check and grant but no
//   HelperCall, map validation or run-state publication.
//
// Maps of maps (the value is an inner map the run must adopt), blinded constants and
// registers that may hold anything else call the helper as before.
#include "jit/emitter.hpp"
#include "jit/liveness.hpp"

#include <bpfvm/map.hpp>

#include <algorithm>
#include <span>

namespace bpfvm::jit {

using asmjit::Label;
using detail::CodeInsn;

namespace {

// Whether `insn` may change r1 (conservative: calls and packet loads clobber r1-r5).
bool writes_r1(const CodeInsn& insn) {
  switch (info(insn.op).shape) {
    case Shape::StoreImm:
    case Shape::StoreReg:
    case Shape::Ja:
    case Shape::Ja32:
    case Shape::JmpImm:
    case Shape::JmpReg:
    case Shape::Exit: return false;
    case Shape::Atomic: return insn.src == 1;  // fetch forms write their source register
    case Shape::CallHelper:
    case Shape::CallLocal:
    case Shape::CallBtf:
    case Shape::Callx:
    case Shape::LdAbs:
    case Shape::LdInd: return true;
    default: return insn.dst == 1;
  }
}

constexpr std::size_t max_inlined_maps = 31;  // bits of an imm32 `test`

// The array's values as one block, when lookups can be computed inline: plain arrays (one
// slot per element, round_up(value_size, 8) apart, as kernel/bpf/arraymap.c lays them out),
// checked against the map's own lookup so that a different layout is never guessed at.
std::uint8_t* inline_values(Map& map, std::uint64_t elem_size) {
  if (map.type() != MapType::array || map.spec().max_entries == 0) return nullptr;
  std::span<std::uint8_t> storage = map.value_storage();
  const std::uint32_t last = map.spec().max_entries - 1;
  if (storage.empty() || elem_size > 0x7fffffff ||
      storage.size() < std::uint64_t{map.spec().max_entries} * elem_size)
    return nullptr;
  const std::uint32_t first = 0;
  if (map.lookup(&first) != storage.data() ||
      map.lookup(&last) != storage.data() + std::uint64_t{last} * elem_size)
    return nullptr;
  return storage.data();
}

}  // namespace

void Emitter::find_constant_maps() {
  const std::size_t count = code_.slots.size();
  r1_map_.assign(count, nullptr);
  Map* r1 = nullptr;
  for (std::size_t i = 0; i < count; ++i) {
    // Another path may arrive here with anything in r1: a jump, a local call, a callback.
    if (jump_target_[i] || std::binary_search(code_.functions.begin(), code_.functions.end(), i))
      r1 = nullptr;
    r1_map_[i] = r1;
    const CodeInsn& insn = code_.slots[i];
    if (insn.op == Op::LDDW) {
      if (insn.dst == 1)
        r1 = insn.src == lddw_src::map_fd || insn.src == lddw_src::map_idx
                 ? reinterpret_cast<Map*>(static_cast<std::uint64_t>(insn.imm))
                 : nullptr;
      ++i;  // the second slot is never reached
      continue;
    }
    if (writes_r1(insn)) r1 = nullptr;
  }
}

bool Emitter::emit_map_lookup(const CodeInsn& insn, std::size_t index) {
  if (insn.helper == nullptr || insn.helper->fast_path != HelperFastPath::map_lookup_elem)
    return false;
  Map* map = r1_map_[index];
  if (map == nullptr || map->type() == MapType::array_of_maps ||
      map->type() == MapType::hash_of_maps)
    return false;

  if (!blinding() && map->type() == MapType::array) {
    auto found = std::find(inlined_maps_.begin(), inlined_maps_.end(), map);
    if (found != inlined_maps_.end()) {
      emit_inline_array_lookup(*map, index, static_cast<int>(found - inlined_maps_.begin()));
      return true;
    }
    if (inlined_maps_.size() < max_inlined_maps &&
        inline_values(*map, (map->spec().value_size + 7ull) & ~7ull) != nullptr) {
      inlined_maps_.push_back(map);
      emit_inline_array_lookup(*map, index, static_cast<int>(inlined_maps_.size() - 1));
      return true;
    }
  }

  if (!options_.checked && map->pinned_lookup() != nullptr && map->value_storage().empty()) {
    emit_pinned_lookup(index);
    return true;
  }

  emit_lookup_bridge_call(index);
  return true;
}

// A call to the map_lookup bridge (trampoline.cpp) for the lookup at `index`. Only checked
// code stores r10 and the helper first: the bridge checks the key against the frames below
// r10 there, and falls back on the helper when the key is not readable (which then fails
// the run); unchecked, it reads neither.
void Emitter::emit_lookup_bridge_call(std::size_t index) {
  if (options_.checked) {
    a_.mov(scratch_a(), reinterpret_cast<std::uint64_t>(code_.slots[index].helper));
    a_.mov(state_field(BPFVM_JIT_FIELD(helper)), scratch_a());
    a_.mov(state_field(BPFVM_JIT_FIELD(frame_pointer)), reg64(frame_pointer));
  }
  a_.call(map_lookup_routine_);
  if (options_.checked) {
    a_.cmp(state_field(BPFVM_JIT_FIELD(stop), 1), 0);
    a_.jne(add_stub(StubKind::helper_stop, index));
  }
}

// Unchecked code, a map with a pinned lookup (hash maps): nothing to check, so the call goes
// straight to the pinned bridge from here, saving only the argument registers something may
// still read (liveness.hpp): r1 (rsi) and r2 (rdx) are already the bridge's map and key.
void Emitter::emit_pinned_lookup(std::size_t index) {
  if (live_after_.empty()) live_after_ = live_after(code_);
  std::vector<int> saved;
  for (int r : caller_saved_ebpf)
    if ((live_after_[index] >> r) & 1) saved.push_back(r);
  // rsp is 8 mod 16 in the body: an odd number of pushes aligns it for the call.
  const bool pad = saved.size() % 2 == 0;
  for (int r : saved) a_.push(reg64(r));
  if (pad) a_.sub(x86::rsp, 8);
  a_.mov(x86::rdi, state_reg());
  a_.mov(scratch_a(), bridges_.pinned_lookup);
  a_.call(scratch_a());
  if (pad) a_.add(x86::rsp, 8);
  for (auto r = saved.rbegin(); r != saved.rend(); ++r) a_.pop(reg64(*r));
}

void Emitter::emit_inline_array_lookup(const Map& map, std::size_t index, int grant_bit) {
  const std::uint64_t elem_size = (map.spec().value_size + 7ull) & ~7ull;
  auto* values = inline_values(const_cast<Map&>(map), elem_size);
  Label slow = a_.newLabel(), null = a_.newLabel(), done = a_.newLabel();
  const x86::Gp key = reg64(2);
  if (options_.checked) {
    // The 4-byte key inside the active stack frames: r10 - 512 <= r2 <= stack_top - 4.
    a_.lea(scratch_b(), x86::ptr(reg64(frame_pointer), -static_cast<int>(stack_frame_size)));
    a_.cmp(key, scratch_b());
    a_.jb(slow);
    a_.cmp(key, state_field(BPFVM_JIT_FIELD(stack_last_start) + size_index(4) * 8));
    a_.ja(slow);
  }
  // Until the first lookup that found a value has granted the array, the bridge does it.
  a_.test(state_field(BPFVM_JIT_FIELD(inline_grants), 4), 1 << grant_bit);
  a_.jz(slow);
  a_.mov(scratch_a().r32(), x86::dword_ptr(key));
  a_.cmp(scratch_a().r32(), static_cast<std::int32_t>(map.spec().max_entries));
  a_.jae(null);
  if ((elem_size & (elem_size - 1)) == 0)
    a_.shl(scratch_a(), __builtin_ctzll(elem_size));  // as Linux: a shift for 2^n sizes
  else
    a_.imul(scratch_a(), scratch_a(), static_cast<std::int32_t>(elem_size));
  a_.mov(x86::rax, reinterpret_cast<std::uint64_t>(values));
  a_.add(x86::rax, scratch_a());
  a_.bind(done);

  // Out of line, so that a hit falls through (Linux's sequence takes a `goto` there).
  cold_paths_.push_back([this, index, grant_bit, slow, null, done] {
    a_.bind(null);
    a_.xor_(x86::eax, x86::eax);
    a_.jmp(done);

    a_.bind(slow);
    emit_lookup_bridge_call(index);
    a_.test(x86::rax, x86::rax);
    a_.jz(done);
    a_.or_(state_field(BPFVM_JIT_FIELD(inline_grants), 4), 1 << grant_bit);
    a_.jmp(done);
  });
}

}  // namespace bpfvm::jit
