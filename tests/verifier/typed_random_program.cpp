#include "verifier/typed_random_program.hpp"

#include <fmt/format.h>

#include <array>

namespace bpfvm::verifier::testing {
namespace {

// Context offsets (uapi struct xdp_md, struct __sk_buff).
struct Layout {
  int data = -1, data_end = -1;         // -1: no direct packet access (socket_filter)
  std::vector<int> readable, writable;  // 4-byte fields
  bool packet_writable = false;
};

Layout layout(ProgramType type) {
  switch (type) {
    case ProgramType::xdp: return {0, 4, {12, 16}, {}, true};  // ingress_ifindex, rx_queue_index
    case ProgramType::sched_cls:
      return {76, 80, {0, 8, 16, 32}, {8, 32}, true};       // len, mark, protocol, priority
    default: return {-1, -1, {0, 8, 16, 48}, {48}, false};  // len, mark, protocol, cb[0]
  }
}

constexpr std::array<int, 3> value_sizes = {16, 24, 8};
constexpr std::array<int, 3> key_sizes = {4, 4, 8};

const char* size_suffix(int size) {
  switch (size) {
    case 1: return "b";
    case 2: return "h";
    case 4: return "w";
    default: return "dw";
  }
}

class Writer {
 public:
  Writer(ProgramType type, std::uint64_t seed) : type_(type), lay_(layout(type)), rng_(seed) {}

  TypedProgram run(std::uint64_t seed) {
    line("mov %r6, %r1");
    line("mov %r9, 0");
    for (int off = -64; off < 0; off += 8) line(fmt::format("stdw [%r10{}], 0", off));
    reload_packet();
    const int blocks = 2 + static_cast<int>(rng_.below(8));
    for (int b = 0; b < blocks; ++b) block();
    line("mov %r0, %r9");
    line("and %r0, 3");
    line("exit");
    out_ += subprograms_;
    return {type_, seed, out_, flaws_};
  }

 private:
  void line(const std::string& s) { out_ += s + "\n"; }
  std::string label() { return fmt::format("l{}", labels_++); }
  // A deliberate flaw with probability percent.
  bool flaw(unsigned percent) {
    if (!rng_.chance(percent)) return false;
    ++flaws_;
    return true;
  }
  int pick_size() { return 1 << rng_.below(4); }

  void reload_packet() {
    if (lay_.data < 0) return;
    line(fmt::format("ldxw %r7, [%r6+{}]", lay_.data));
    line(fmt::format("ldxw %r8, [%r6+{}]", lay_.data_end));
  }

  void block() {
    switch (rng_.below(9)) {
      case 0:
      case 1: return packet_constant();
      case 2: return packet_variable();
      case 3:
      case 4: return map_lookup();
      case 5: return map_update_or_helper();
      case 6: return loop();
      case 7: return local_call();
      default: return context_field();
    }
  }

  // A bounds check of [r7, r7 + end) against r8 jumping to `skip` when it fails, in one of
  // the shapes clang emits; one byte short or missing now and then.
  void check_packet(int end, const std::string& skip, const char* base = "%r7") {
    if (flaw(4)) return;  // no check at all
    if (flaw(6)) end -= 1;
    line(fmt::format("mov %r2, {}", base));
    line(fmt::format("add %r2, {}", end));
    switch (rng_.below(3)) {
      case 0: line(fmt::format("jgt %r2, %r8, {}", skip)); break;
      case 1: line(fmt::format("jlt %r8, %r2, {}", skip)); break;
      default: {
        const std::string ok = label();
        line(fmt::format("jle %r2, %r8, {}", ok));
        line(fmt::format("ja {}", skip));
        line(ok + ":");
      }
    }
  }

  void packet_access(const char* base, int start, int end) {
    int size = pick_size();  // a power of two that fits in [start, end)
    while (size > 1 && size > end - start) size /= 2;
    const int off = start + static_cast<int>(rng_.below(std::max(1, end - start - size + 1)));
    const bool write = rng_.chance(35);
    if (write && (lay_.packet_writable || flaw(50))) {
      if (rng_.chance(50))
        line(fmt::format("st{} [{}+{}], {}", size_suffix(size), base, off, rng_.below(256)));
      else
        line(fmt::format("stx{} [{}+{}], %r9", size_suffix(size), base, off));
    } else {
      line(fmt::format("ldx{} %r3, [{}+{}]", size_suffix(size), base, off));
      line("add %r9, %r3");
    }
  }

  void packet_constant() {
    if (lay_.data < 0) {  // socket_filter has no data/data_end: the kernel refuses the read
      if (!flaw(30)) return context_field();
      line("ldxw %r7, [%r6+76]");
      line("ldxw %r8, [%r6+80]");
    }
    const int end = 1 + static_cast<int>(rng_.below(64));
    const std::string skip = label();
    check_packet(end, skip);
    const int n = 1 + static_cast<int>(rng_.below(3));
    for (int k = 0; k < n; ++k) packet_access("%r7", 0, end);
    line(skip + ":");
  }

  void packet_variable() {
    if (lay_.data < 0) return context_field();
    static constexpr int masks[] = {7, 15, 63, 255};
    const std::string skip = label();
    if (rng_.chance(40)) {
      // A header length read from the packet (IPv4's IHL: `(b & 0xf) << 2`), in 32-bit
      // registers as clang writes it.
      const int at = static_cast<int>(rng_.below(40));
      check_packet(at + 1, skip);
      line(fmt::format("ldxb %r4, [%r7+{}]", at));
      line(fmt::format("and32 %r4, {}", flaw(3) ? 0xff : 0x0f));
      line(fmt::format("lsh32 %r4, {}", rng_.below(3)));
    } else {
      line("mov %r4, %r9");
      if (!flaw(4))
        line(fmt::format("and{} %r4, {}", rng_.chance(30) ? "32" : "", masks[rng_.below(4)]));
    }
    line("mov %r5, %r7");
    line("add %r5, %r4");
    const int end = 1 + static_cast<int>(rng_.below(16));
    check_packet(end, skip, "%r5");
    packet_access("%r5", 0, end);
    line(skip + ":");
  }

  // Key at fp-4 (4 bytes) or fp-16 (8 bytes); r0 the value or null.
  void lookup_call(int map) {
    const int key_size = key_sizes[static_cast<std::size_t>(map)];
    const int key_at = key_size == 4 ? -4 : -16;
    if (rng_.chance(50))
      line(fmt::format("st{} [%r10{}], {}", size_suffix(key_size), key_at, rng_.below(10)));
    else
      line(fmt::format("stx{} [%r10{}], %r9", size_suffix(key_size), key_at));
    line(fmt::format("ldmap %r1, {}", map));
    line("mov %r2, %r10");
    line(fmt::format("add %r2, {}", key_at));
    line("call 1");
  }

  void map_lookup() {
    const int map = static_cast<int>(rng_.below(3));
    const int vs = value_sizes[static_cast<std::size_t>(map)];
    lookup_call(map);
    const std::string skip = label();
    if (!flaw(6)) line(fmt::format("jeq %r0, 0, {}", skip));
    const int n = 1 + static_cast<int>(rng_.below(3));
    for (int k = 0; k < n; ++k) {
      const int size = pick_size();
      if (rng_.chance(30)) {  // a variable offset, bounded by a mask or a comparison
        line("mov %r3, %r9");
        int limit = vs - size + (flaw(5) ? 1 : 0);
        if (rng_.chance(50)) {
          line(fmt::format("jgt %r3, {}, {}", limit, skip));
        } else {
          int mask = 1;
          while (mask * 2 - 1 <= limit) mask *= 2;
          line(fmt::format("and %r3, {}", mask - 1));
        }
        line("mov %r4, %r0");
        line("add %r4, %r3");
        if (rng_.chance(50)) {
          line(fmt::format("ldx{} %r5, [%r4+0]", size_suffix(size)));
          line("add %r9, %r5");
        } else {
          line(fmt::format("stx{} [%r4+0], %r9", size_suffix(size)));
        }
        continue;
      }
      int off = static_cast<int>(rng_.below(static_cast<std::uint64_t>(vs - size + 1)));
      if (flaw(5)) off = vs - size + 1 + static_cast<int>(rng_.below(4));
      if (rng_.chance(60)) {
        line(fmt::format("ldx{} %r5, [%r0+{}]", size_suffix(size), off));
        line("add %r9, %r5");
      } else if (rng_.chance(50)) {
        line(fmt::format("st{} [%r0+{}], {}", size_suffix(size), off, rng_.below(1000)));
      } else {
        line(fmt::format("stx{} [%r0+{}], %r9", size_suffix(size), off));
      }
    }
    line(skip + ":");
  }

  void map_update_or_helper() {
    switch (rng_.below(4)) {
      case 0: {  // bpf_map_update_elem with key and value on the stack
        const int map = static_cast<int>(rng_.below(3));
        const int key_size = key_sizes[static_cast<std::size_t>(map)];
        const int key_at = key_size == 4 ? -4 : -16;
        line(fmt::format("st{} [%r10{}], {}", size_suffix(key_size), key_at, rng_.below(10)));
        line("stxdw [%r10-40], %r9");
        line(fmt::format("ldmap %r1, {}", map));
        line("mov %r2, %r10");
        line(fmt::format("add %r2, {}", key_at));
        line("mov %r3, %r10");
        line(fmt::format("add %r3, {}", flaw(5) ? -8 : -40));  // -8: the value leaves the frame
        line("mov %r4, 0");
        line("call 2");
        line("add %r9, %r0");
        return;
      }
      case 1:  // scalar helpers
        line(rng_.chance(50) ? "call 7" : "call 5");
        line("add %r9, %r0");
        return;
      default: break;
    }
    if (type_ == ProgramType::xdp) {  // bpf_xdp_adjust_head moves data: reload the pointers
      line("mov %r1, %r6");
      line(fmt::format("mov %r2, {}", static_cast<int>(rng_.below(3)) * 8 - 8));
      line("call 44");
      line("add %r9, %r0");
      if (!flaw(15)) reload_packet();
      return;
    }
    // bpf_skb_load_bytes into a stack buffer at fp-32
    const int len =
        flaw(5) ? 33 + static_cast<int>(rng_.below(8)) : 1 + static_cast<int>(rng_.below(32));
    line("mov %r1, %r6");
    line(fmt::format("mov %r2, {}", rng_.below(40)));
    line("mov %r3, %r10");
    line("add %r3, -32");
    line(fmt::format("mov %r4, {}", len));
    line("call 26");
    line("add %r9, %r0");
    line(fmt::format("ldx{} %r1, [%r10-32]", size_suffix(pick_size())));
    line("add %r9, %r1");
  }

  void loop() {
    const std::string top = label(), next = label();
    const int bound = 2 + static_cast<int>(rng_.below(15));
    const int step = 1 + static_cast<int>(rng_.below(3));
    line("mov %r5, 0");
    line(top + ":");
    if (lay_.data >= 0 && rng_.chance(60)) {  // a packet byte at the induction variable
      line("mov %r3, %r7");
      line("add %r3, %r5");
      line("mov %r2, %r3");
      line(fmt::format("add %r2, {}", flaw(6) ? 0 : 1));
      line(fmt::format("jgt %r2, %r8, {}", next));
      line("ldxb %r4, [%r3+0]");
      line("add %r9, %r4");
    } else {
      line("add %r9, %r5");
      line("lsh %r9, 1");
    }
    line(next + ":");
    line(fmt::format("add %r5, {}", step));
    line(fmt::format("jlt %r5, {}, {}", bound, top));
  }

  void local_call() {
    const std::string fn = fmt::format("f{}", functions_++);
    std::string& s = subprograms_;
    auto sub = [&](const std::string& l) { s += l + "\n"; };
    const unsigned kind = lay_.data >= 0 ? static_cast<unsigned>(rng_.below(3))
                                         : static_cast<unsigned>(rng_.below(2));
    sub(fn + ":");
    if (kind == 0) {  // a scalar in, a scalar out
      line("mov %r1, %r9");
      line(fmt::format("call local {}", fn));
      sub("mov %r0, %r1");
      sub(fmt::format("add %r0, {}", rng_.below(100)));
      sub("exit");
    } else if (kind == 1) {  // a pointer to the caller's stack
      line("mov %r1, %r10");
      line("add %r1, -24");
      line(fmt::format("call local {}", fn));
      const int off = flaw(5) ? 24 : static_cast<int>(rng_.below(3)) * 8 - 8;  // 24: fp+0
      sub(fmt::format("stdw [%r1{:+}], 7", off));
      sub(fmt::format("ldxdw %r0, [%r1{:+}]", off));
      sub("exit");
    } else {  // the packet: the callee checks its own bounds
      line("mov %r1, %r7");
      line("mov %r2, %r8");
      line(fmt::format("call local {}", fn));
      const int size = pick_size();
      const std::string out = fn + "_out";
      sub("mov %r0, 0");
      sub("mov %r3, %r1");
      sub(fmt::format("add %r3, {}", flaw(6) ? size - 1 : size));
      sub(fmt::format("jgt %r3, %r2, {}", out));
      sub(fmt::format("ldx{} %r0, [%r1+0]", size_suffix(size)));
      sub(out + ":");
      sub("exit");
    }
    line("add %r9, %r0");
  }

  void context_field() {
    if (rng_.chance(30) && !lay_.writable.empty()) {
      const int field = lay_.writable[rng_.below(lay_.writable.size())];
      line(fmt::format("stxw [%r6+{}], %r9", flaw(4) ? field + 1 : field));
      return;
    }
    if (flaw(3)) {  // writes a read-only field
      line(fmt::format("stxw [%r6+{}], %r9", lay_.readable[0]));
      return;
    }
    const int field = lay_.readable[rng_.below(lay_.readable.size())];
    line(fmt::format("ldxw %r3, [%r6+{}]", field));
    line("add %r9, %r3");
  }

  ProgramType type_;
  Layout lay_;
  test::Rng rng_;
  std::string out_, subprograms_;
  int labels_ = 0, functions_ = 0, flaws_ = 0;
};

}  // namespace

std::vector<MapSpec> typed_program_maps() {
  std::vector<MapSpec> maps(3);
  maps[0].type = MapType::array;
  maps[1].type = MapType::hash;
  maps[2].type = MapType::hash;
  for (std::size_t i = 0; i < 3; ++i) {
    maps[i].key_size = static_cast<std::uint32_t>(key_sizes[i]);
    maps[i].value_size = static_cast<std::uint32_t>(value_sizes[i]);
    maps[i].max_entries = i == 0 ? 8 : 16;
    maps[i].name = fmt::format("m{}", i);
  }
  return maps;
}

TypedProgram generate_typed_program(std::uint64_t seed) {
  static constexpr ProgramType types[] = {ProgramType::xdp, ProgramType::sched_cls,
                                          ProgramType::socket_filter};
  test::Rng pick(seed);
  const ProgramType type = types[pick.below(3)];
  return Writer(type, seed ^ 0x7479706564ULL).run(seed);
}

std::vector<Insn> mutate_typed_program(std::vector<Insn> insns, test::Rng& rng) {
  const int wanted = 1 + static_cast<int>(rng.below(3));
  int done = 0;
  for (int attempt = 0; attempt < 60 && done < wanted; ++attempt) {
    const std::size_t at = rng.below(insns.size());
    if (at > 0 && insns[at - 1].opcode == 0x18) continue;  // lddw's second slot
    Insn& i = insns[at];
    const std::uint8_t c = insn_class(i.opcode);
    const std::uint8_t mode = i.opcode & 0xe0;
    auto delta = [&](int span) { return static_cast<int>(rng.below(2 * span + 1)) - span; };
    if ((c == cls::ldx || c == cls::st || c == cls::stx) && mode == 0x60) {
      switch (rng.below(3)) {
        case 0: i.offset = static_cast<std::int16_t>(i.offset + delta(4)); break;
        case 1:
          i.opcode = static_cast<std::uint8_t>((i.opcode & ~0x18) | (rng.below(4) << 3));
          break;
        default:
          if (c == cls::ldx)
            i.src = static_cast<std::uint8_t>(rng.below(11));
          else
            i.dst = static_cast<std::uint8_t>(rng.below(11));
      }
      ++done;
    } else if (c == cls::jmp && i.offset >= 0 && (i.opcode & 0xf0) != 0x00 &&
               (i.opcode & 0xf0) != 0x80 && (i.opcode & 0xf0) != 0x90) {
      // Forward conditional jumps only: a mutated back edge makes a loop neither verifier
      // can bound, which costs both a full budget and tells nothing about memory safety.
      static constexpr std::uint8_t conditions[] = {0x10, 0x20, 0x30, 0x50, 0xa0, 0xb0};
      switch (rng.below(3)) {
        case 0:
          i.opcode = static_cast<std::uint8_t>((i.opcode & 0x0f) | conditions[rng.below(6)]);
          break;
        case 1:
          if ((i.opcode & 0x08) != 0) {
            const auto d = i.dst;
            i.dst = i.src;
            i.src = d;
          } else {
            i.imm += delta(2);
          }
          break;
        default: i.offset = static_cast<std::int16_t>(std::max(0, i.offset + delta(1)));
      }
      ++done;
    } else if (i.dst == 5 && c == cls::alu64) {
      continue;  // r5 counts loops: a changed or dropped step never ends (see above)
    } else if (c == cls::alu64 && (i.opcode & 0x08) == 0 && i.dst != 10 &&
               ((i.opcode & 0xf0) == 0x00 || (i.opcode & 0xf0) == 0x50 ||
                (i.opcode & 0xf0) == 0xb0)) {  // add/and/mov with an immediate
      i.imm += delta(3);
      ++done;
    } else if (c == cls::alu64 && (i.opcode & 0x08) != 0 && rng.chance(30)) {
      i.src = static_cast<std::uint8_t>(rng.below(11));
      ++done;
    } else if (c != cls::jmp && i.opcode != 0x18 && rng.chance(20)) {
      i = Insn{0x05, 0, 0, 0, 0};  // dropped: `ja +0` keeps the indices
      ++done;
    }
  }
  return insns;
}

}  // namespace bpfvm::verifier::testing
