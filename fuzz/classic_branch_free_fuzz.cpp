// libFuzzer target: bytes -> a classic BPF program and a packet -> the branch-free compiler
// (src/classic/branch_free.hpp). Whatever the input, compilation succeeds or refuses with a
// usage error (never a crash), and on the packet grown to the code's minimum length the
// straight-line code and, when the program starts with a dispatch, the dispatched code give
// the classic interpreter's verdict; Engine::jit's Filter gives it on the packet as it is (short
// packets go to the translation). Any difference aborts.
//
// The interpreter is the oracle rather than libpcap: bpfvm zeroes M[] where libpcap 1.10.3
// leaves it uninitialised, and generated programs read scratch words they never stored.
// tests/classic/differential_test.cpp holds the interpreter to libpcap.
//
// Input: byte 0 the instruction count (1 + b % 48), byte 1 flags (bit 0: start with a
// dispatch, `ldh [12]` and a test, so the dispatched form is fuzzed often), then 7 bytes per
// instruction (opcode index, jt, jf, k as 4 bytes little-endian), then the packet (at most
// 256 bytes) whose first byte, when there is one, also sets the wire length above it. Jumps are
// reduced into range and forward only, scratch indices below 16, divisors non-zero, absolute
// offsets mostly near the packet (the code needs the furthest one captured), and the last
// instruction is a return: most inputs are programs the compiler takes.
//
// JIT code is not instrumented by AddressSanitizer: the packet sits flush against an
// inaccessible page, so a read past it faults at once.
#include <bpfvm/classic.hpp>
#include <bpfvm/jit.hpp>

#include "classic/branch_free.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <vector>

namespace {

using namespace bpfvm::classic;
using bpfvm::Error;
using bpfvm::jit_supported;

constexpr std::uint16_t opcodes[] = {
#define BPFVM_CLASSIC_OPCODE(id, code, mnemonic, operand, listed, freebsd) code,
#include "classic/opcodes.def"
#undef BPFVM_CLASSIC_OPCODE
};

[[noreturn]] void mismatch(const char* what, std::uint32_t got, std::uint32_t expected) {
  std::fprintf(stderr, "classic_branch_free_fuzz: %s gave %u, the interpreter %u\n", what, got,
               expected);
  std::abort();
}

// A read-write area whose end touches an inaccessible page.
class GuardedBuffer {
 public:
  static constexpr std::size_t capacity = 8192;
  GuardedBuffer() {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t open = (capacity + page_ - 1) / page_ * page_;
    void* mapping = mmap(nullptr, open + page_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) std::abort();
    base_ = static_cast<std::uint8_t*>(mapping);
    if (mprotect(base_, open, PROT_READ | PROT_WRITE) != 0) std::abort();
    end_ = base_ + open;
  }
  std::uint8_t* place(const std::vector<std::uint8_t>& bytes) const {
    std::uint8_t* at = end_ - bytes.size();
    if (!bytes.empty()) std::memcpy(at, bytes.data(), bytes.size());
    return at;
  }

 private:
  std::size_t page_ = 0;
  std::uint8_t* base_ = nullptr;
  std::uint8_t* end_ = nullptr;
};

std::uint32_t read_k(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

// Makes instruction `code` at `index` of `count` valid-ish (see the header comment).
Insn shape(std::uint16_t code, std::uint8_t jt, std::uint8_t jf, std::uint32_t k, std::size_t index,
           std::size_t count) {
  const std::uint16_t cls = code & 0x07, mode = code & 0xe0, op = code & 0xf0;
  const auto room = static_cast<std::uint32_t>(count - 1 - index);  // instructions after this one
  Insn insn{code, 0, 0, k};
  if (cls == 0x05) {  // JMP
    if (op == 0x00) {
      insn.k = room == 0 ? 0 : k % room;  // ja: forward
    } else {
      insn.jt = static_cast<std::uint8_t>(room == 0 ? 0 : jt % std::min<std::uint32_t>(room, 256));
      insn.jf = static_cast<std::uint8_t>(room == 0 ? 0 : jf % std::min<std::uint32_t>(room, 256));
      if ((k >> 24) < 0xc0) insn.k = k & 0xffff;  // header-sized constants, mostly
    }
  } else if ((cls == 0x00 || cls == 0x01) && mode == 0x60) {  // ld/ldx M[k]
    insn.k = k & 15;
  } else if (cls == 0x02 || cls == 0x03) {  // st, stx
    insn.k = k & 15;
  } else if ((cls == 0x00 && (mode == 0x20 || mode == 0x40)) || (cls == 0x01 && mode == 0xa0)) {
    // Absolute, indirect and msh loads: near the packet, now and then far or ancillary.
    const std::uint32_t kind = k >> 28;
    if (kind < 13)
      insn.k = k % 96;
    else if (kind == 13)
      insn.k = 0xfffff000u + (k & 0x3f);  // SKF_AD_OFF + ...
    else if (kind == 14 && mode == 0x40)
      insn.k = static_cast<std::uint32_t>(-static_cast<std::int32_t>(k % 64));
  } else if (cls == 0x04 && (code & 0x08) == 0 && (op == 0x30 || op == 0x90)) {  // div/mod #k
    if (insn.k == 0) insn.k = 1 + (k >> 8) % 7;
  } else if (cls == 0x04 && (op == 0x60 || op == 0x70) && (code & 0x08) == 0) {
    insn.k = k % 40;  // shifts by a constant
  }
  return insn;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static GuardedBuffer buffer;
  if (size < 2) return 0;
  std::size_t count = 1 + data[0] % 48;
  const bool with_dispatch = (data[1] & 1) != 0;
  std::size_t at = 2;
  std::vector<Insn> insns;
  if (with_dispatch) count = std::max<std::size_t>(count, 3);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint8_t bytes[7] = {};
    for (std::uint8_t& b : bytes) b = at < size ? data[at++] : 0;
    std::uint16_t code = opcodes[bytes[0] % std::size(opcodes)];
    if (i == 0 && with_dispatch) code = 0x28;                          // ldh [k]
    if (i == 1 && with_dispatch) code = (bytes[0] & 1) ? 0x15 : 0x25;  // jeq, jgt #k
    if (i + 1 == count) code = (bytes[0] & 1) ? 0x16 : 0x06;           // ret a, ret #k
    Insn insn = shape(code, bytes[1], bytes[2], read_k(bytes + 3), i, count);
    if (i == 0 && with_dispatch) insn.k = 12;
    insns.push_back(insn);
  }
  std::vector<std::uint8_t> packet(data + std::min(at, size),
                                   data + std::min(size, at + std::size_t{256}));
  const std::uint32_t wire =
      static_cast<std::uint32_t>(packet.size()) + (packet.empty() ? 0 : packet[0] % 4);

  auto program = Program::load(insns);
  if (!program) return 0;
  auto code = detail::BranchFreeFilter::compile(*program);
  if (!code) {
    if (code.error().kind != Error::Kind::usage)
      mismatch("a compile error that is not a refusal", 0, 0);
    return 0;
  }
  // Filter (Engine::jit) on the packet as it is.
  const std::uint8_t* placed = buffer.place(packet);
  const std::uint32_t expected =
      bpfvm::classic::run(*program, Packet{{placed, packet.size()}, wire, nullptr});
  if (jit_supported()) {
    auto filter = Filter::create(*program, Engine::jit);
    if (!filter) mismatch("Filter::create failing", 0, 0);
    const std::uint32_t got = filter->run(Packet{{placed, packet.size()}, wire, nullptr});
    if (got != expected) mismatch("Filter (Engine::jit)", got, expected);
  }
  // The code itself, on the packet grown to its minimum length.
  if (code->min_caplen() > GuardedBuffer::capacity) return 0;
  std::vector<std::uint8_t> grown = packet;
  std::uint8_t fill = packet.empty() ? 0x45 : packet.back();
  while (grown.size() < code->min_caplen())
    grown.push_back(fill = static_cast<std::uint8_t>(fill * 5 + 1));
  const std::uint8_t* grown_at = buffer.place(grown);
  const std::uint32_t wire_grown =
      std::max<std::uint32_t>(wire, static_cast<std::uint32_t>(grown.size()));
  const std::uint32_t oracle =
      bpfvm::classic::run(*program, Packet{{grown_at, grown.size()}, wire_grown, nullptr});
  const std::uint32_t straight = code->run(grown_at, grown.size(), wire_grown);
  if (straight != oracle) mismatch("the branch-free code", straight, oracle);
  if (code->has_dispatch()) {
    const std::uint32_t dispatched = code->run_dispatched(grown_at, grown.size(), wire_grown);
    if (dispatched != oracle) mismatch("the dispatched code", dispatched, oracle);
    if (code->exit_of(grown_at) >= code->exit_count()) mismatch("exit_of out of range", 0, 0);
  }
  // The batch loops, on a batch of one (the grown packet, against the inaccessible page).
  const std::uint32_t branchy = code->run_branchy(grown_at, grown.size(), wire_grown);
  if (branchy != oracle) mismatch("the branchy code", branchy, oracle);
  using Form = detail::BranchFreeFilter::Form;
  for (Form form : {Form::straight, Form::dispatched, Form::branchy}) {
    detail::BranchFreeFilter::Loop loop = code->loop(form);
    if (loop == nullptr) continue;
    const Packet batch[1] = {Packet{{grown_at, grown.size()}, wire_grown, nullptr}};
    std::uint32_t verdict = 0xdeadbeef;
    if (loop(batch, batch + 1, &verdict, batch) != batch + 1)
      mismatch("a batch loop stopping early", 0, 0);
    if (verdict != oracle)
      mismatch(form == Form::straight     ? "the batch loop"
               : form == Form::dispatched ? "the dispatched loop"
                                          : "the branchy loop",
               verdict, oracle);
  }
  return 0;
}
