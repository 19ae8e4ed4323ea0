// Classic BPF: the BSD Packet Filter (McCanne and Jacobson, USENIX 1993), the accumulator
// machine behind /dev/bpf and tcpdump. Its interpreter has exactly the semantics of libpcap's
// bpf_filter(); its validators follow libpcap's bpf_validate() or the FreeBSD kernel's; its
// listings are byte for byte those of tcpdump -d, -dd and -ddd; and a translation to eBPF lets
// filters run on the eBPF engines (the interpreter now, the JIT through the same Program).
#pragma once

#include <bpfvm/program.hpp>
#include <bpfvm/result.hpp>
#include <bpfvm/vm.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm::classic {

// One instruction, laid out exactly as `struct bpf_insn` (<pcap/bpf.h>, <net/bpf.h>), so
// arrays of either can be copied into each other.
struct Insn {
  std::uint16_t code = 0;
  std::uint8_t jt = 0;
  std::uint8_t jf = 0;
  std::uint32_t k = 0;

  friend bool operator==(const Insn&, const Insn&) = default;
};
static_assert(sizeof(Insn) == 8, "classic BPF instructions are 8 bytes");

// The sixteen scratch words M[0..15] (BPF_MEMWORDS).
inline constexpr std::size_t scratch_words = 16;
// The FreeBSD kernel's BPF_MAXINSNS: the longest program BIOCSETF accepts.
inline constexpr std::size_t freebsd_max_insns = 512;

// Linux's ancillary data: an absolute load (ld, ldh, ldb) at k = SKF_AD_OFF + SKF_AD_x reads
// a property of the packet instead of its bytes (linux/filter.h).
inline constexpr std::uint32_t ancillary_base = 0xfffff000;  // SKF_AD_OFF = -0x1000
namespace skf_ad {
inline constexpr std::uint32_t protocol = 0, pkttype = 4, ifindex = 8, nlattr = 12,
                               nlattr_nest = 16, mark = 20, queue = 24, hatype = 28, rxhash = 32,
                               cpu = 36, alu_xor_x = 40, vlan_tag = 44, vlan_tag_present = 48,
                               pay_offset = 52, random = 56, vlan_tpid = 60, max = 64;
}  // namespace skf_ad

// What a Linux socket buffer tells a filter besides its bytes. Fields are in host order, as
// the kernel hands them to the filter (protocol is the EtherType, e.g. 0x0800).
struct Ancillary {
  std::uint32_t protocol = 0;      // SKF_AD_PROTOCOL: ntohs(skb->protocol)
  std::uint32_t pkt_type = 0;      // SKF_AD_PKTTYPE: PACKET_HOST (0) ... PACKET_OUTGOING (4)
  std::uint32_t ifindex = 0;       // SKF_AD_IFINDEX
  std::uint32_t mark = 0;          // SKF_AD_MARK
  std::uint32_t queue = 0;         // SKF_AD_QUEUE: skb->queue_mapping
  std::uint32_t hatype = 0;        // SKF_AD_HATYPE: the device's ARPHRD_* type
  std::uint32_t rxhash = 0;        // SKF_AD_RXHASH
  std::uint32_t cpu = 0;           // SKF_AD_CPU
  std::uint32_t vlan_tci = 0;      // SKF_AD_VLAN_TAG: the stripped 802.1Q tag control info
  std::uint32_t vlan_present = 0;  // SKF_AD_VLAN_TAG_PRESENT: 1 when a tag was stripped
  std::uint32_t pay_offset = 0;    // SKF_AD_PAY_OFFSET: where the transport payload starts
  std::uint32_t random = 0;        // SKF_AD_RANDOM: the kernel draws one per load; fixed here
  std::uint32_t vlan_tpid = 0;     // SKF_AD_VLAN_TPID: the stripped tag's protocol (0x8100)

  // The value an ancillary load at k = SKF_AD_OFF + offset reads, or nothing when the offset
  // names no value (SKF_AD_NLATTR and SKF_AD_NLATTR_NEST need a netlink message; there is none)
  // or is SKF_AD_ALU_XOR_X, which is an operation (A ^= X), not a value.
  std::optional<std::uint32_t> value(std::uint32_t offset) const;
};

// The packet a filter runs on.
struct Packet {
  std::span<const std::uint8_t> data;  // the captured bytes: loads are bounded by data.size()
  std::uint32_t wire_length = 0;       // the length on the wire: `len`, `greater`, `less`
  // Linux ancillary data. When null, ancillary loads are ordinary out-of-bounds loads and
  // reject the packet, exactly as libpcap's bpf_filter() treats them.
  const Ancillary* ancillary = nullptr;

  // A packet captured whole (wire length = captured length).
  static Packet whole(std::span<const std::uint8_t> bytes) {
    return Packet{bytes, static_cast<std::uint32_t>(bytes.size()), nullptr};
  }
};

// Which validator a program must pass.
enum class Rules {
  // libpcap 1.10's bpf_validate(): jumps in range (backward `ja` allowed: libpcap compiles
  // `protochain` with one), last instruction RET, scratch index under 16, no division or
  // modulo by constant zero, instruction classes and load modes known. Loading also requires
  // every opcode to be one bpf_filter() executes (bpf_validate() checks only classes).
  libpcap,
  // The FreeBSD kernel's bpf_validate(): its opcode whitelist (no MOD, no XOR), forward jumps
  // only, last instruction RET, scratch index under 16, no division by constant zero, at most
  // 512 instructions.
  freebsd,
};

std::string_view rules_name(Rules rules);

// Checks `insns` against `rules`. The error names the instruction, the rule and the rule set,
// e.g. "instruction 3: jump target 12 is past the end of the program (10 instructions)
// [freebsd: jumps in range]".
Status validate(std::span<const Insn> insns, Rules rules);

// Whether libpcap 1.10's own bpf_validate() would return 1: the libpcap rules without the
// decodability requirement that loading adds. For differential tests against libpcap.
bool libpcap_accepts(std::span<const Insn> insns);

struct LoadOptions {
  Rules rules = Rules::libpcap;
};

namespace detail {
struct Code;
}

// A validated, pre-decoded classic program. Immutable; copies share the code, and one program
// may run on many threads at once.
class Program {
 public:
  static Result<Program> load(std::span<const Insn> insns, const LoadOptions& options = {});

  std::span<const Insn> insns() const;
  std::size_t size() const { return insns().size(); }
  Rules rules() const;

  // Engine-facing form; not part of the stable API.
  const detail::Code& code() const { return *code_; }

 private:
  explicit Program(std::shared_ptr<const detail::Code> code) : code_(std::move(code)) {}
  std::shared_ptr<const detail::Code> code_;
};

// The classic interpreter: bpf_filter(insns, data, wire_length, caplen). A, X and M[] start at
// zero; loads are big-endian and bounded by the captured length; an out-of-bounds load, or
// division or modulo by X = 0, returns 0. Shifts by X >= 32 give 0; shifts by a constant use
// its low five bits (libpcap 1.10 on x86-64 and AArch64). Backward jumps are allowed
// (`protochain` needs them) but bounded: a `ja` to itself, or more than 64 + caplen backward
// jumps on one packet, returns 0 (libpcap 1.10.3 would loop forever). libpcap 1.10.3 leaves
// M[] uninitialised; bpfvm zeroes it, as later libpcap releases do.
std::uint32_t run(const Program& program, const Packet& packet);

// The listings, byte for byte as libpcap's bpf_image() and bpf_dump() (tcpdump -d/-dd/-ddd).
std::string image(const Insn& insn, std::size_t index);  // one `-d` line, without newline
enum class Listing {
  text,     // -d:   "(000) ldh      [12]"
  c_array,  // -dd:  "{ 0x28, 0, 0, 0x0000000c },"
  decimal,  // -ddd: the instruction count, then "40 0 0 12" per instruction
};
std::string listing(std::span<const Insn> insns, Listing format);

// Reads a program written as any of the three listings (detected from the text), or in the
// assembler syntax `-d` prints without the "(nnn)" prefixes; lines starting with '#' and
// blank lines are ignored. In `-d` text, jump targets are absolute, as the listing prints
// them. Errors carry the line.
Result<std::vector<Insn>> parse_program(std::string_view text);

// One instruction in the `-d` syntax ("ldh [12]", "jeq #0x800 jt 2 jf 5" at `index`), for
// the assembler and its tests.
Result<Insn> assemble_insn(std::string_view text, std::size_t index);

// ---- Translation to eBPF --------------------------------------------------------------------

// What r1 points at when a translated program runs. The layout is bpfvm's own: a Linux socket
// filter sees an sk_buff instead.
struct TranslatedContext {
  std::uint64_t data = 0;         // offset 0: address of the first captured byte
  std::uint64_t data_end = 0;     // offset 8: one past the last captured byte
  std::uint32_t wire_length = 0;  // offset 16
  // Offset 20: ancillary values indexed by SKF_AD_x / 4 (filled only when the translation was
  // made with TranslateOptions::ancillary).
  std::uint32_t ancillary[skf_ad::max / 4] = {};
  // Offset 84: 1 when the ancillary values are present; an ancillary load rejects otherwise.
  std::uint32_t has_ancillary = 0;

  // Fills the fields from `packet`.
  void set(const Packet& packet);
};

struct TranslateOptions {
  // Translate ancillary loads (k >= SKF_AD_OFF) into reads of the context's ancillary values,
  // as Linux does. Without it they are ordinary (always out-of-bounds) packet loads, as in
  // libpcap's bpf_filter().
  bool ancillary = true;
  // Engine::jit only: run packets through the branch-free compiler's code (straight-line
  // x86-64 without data-dependent branches, src/classic/branch_free.hpp) when it compiles the
  // program and the packet is long enough for it; the translation on the JIT runs the rest.
  // Off: every packet takes the translation on the JIT (for tests of that path).
  bool branch_free = true;
  // Engine::jit with branch_free, on hosts with AVX-512: batches (Filter::run(span, span)) may
  // run the vector code, eight packets at once (src/classic/vector_filter.hpp), where timed
  // trials find it faster than the branch-free form chosen for the traffic. Off: never.
  bool vector = true;
};

// Translates a loaded classic program into an eBPF program with the same result on every
// packet: A in w0, X in w7, M[] on the stack, the context in r6, data and data_end in r8 and
// r9. Every packet load is bounds-checked in the code itself (a load the program has already
// proven in bounds on every path is not checked again), so the result is safe to run without
// memory checks. Uses cpu v3 instructions (32-bit jumps).
Result<bpfvm::Program> translate(const Program& program, const TranslateOptions& options = {});

// The translation as instructions, before loading (for listings and tests).
Result<std::vector<bpfvm::Insn>> translate_insns(const Program& program,
                                                 const TranslateOptions& options = {});

// The RunInput a translated program takes: r1 = &context, the packet bytes as its packet
// region. `context` must outlive the run.
RunInput translated_input(TranslatedContext& context, const Packet& packet);

// ---- Filters: one program, a chosen engine ---------------------------------------------------

enum class Engine {
  interpreter,       // the classic interpreter above
  ebpf_interpreter,  // translated to eBPF, run by bpfvm::interpret()
  jit,               // translated to eBPF, compiled by the x86-64 JIT
};

std::string_view engine_name(Engine engine);
std::optional<Engine> parse_engine(std::string_view name);  // "interp", "ebpf", "jit"

// A classic program ready to run on one engine. Copies share the compiled forms.
class Filter {
 public:
  static Result<Filter> create(const Program& program, Engine engine,
                               const TranslateOptions& options = {});
  // Returns the filter's verdict: the number of bytes to keep, 0 to reject. The common case
  // is inline, so that a caller's loop pays one call per packet: Engine::jit, once its form
  // is chosen, on a packet the branch-free code takes (docs/classic.md, "Branch-free code").
  std::uint32_t run(const Packet& packet) const {
    const FastPath& fast = *fast_;
    if (const auto entry = fast.entry.load(std::memory_order_acquire);
        entry != nullptr && packet.data.size() >= fast.min_caplen &&
        (!fast.needs_no_ancillary || packet.ancillary == nullptr))
      return entry(packet.data.data(), packet.data.size(), packet.wire_length);
    return run_other(packet);
  }

  // Runs the filter on each of `packets`, writing its verdict at the same index of `verdicts`
  // (which must be at least as long). The same verdicts as run() one by one; faster for
  // captures read in batches (a pcap file, a bpf(4) buffer): the loop fetches the headers of
  // packets a few places ahead into the cache while the filter works on the current one.
  void run(std::span<const Packet> packets, std::span<std::uint32_t> verdicts) const;

  // Engine::jit: whether the branch-free code runs this filter's long-enough packets, and the
  // shortest captured length it takes (docs/classic.md, "Branch-free code").
  bool branch_free() const;
  std::uint64_t branch_free_min_caplen() const;

  Engine engine() const { return engine_; }
  const Program& program() const { return program_; }

 private:
  struct Compiled;
  // run()'s fast path, kept in Compiled (shared by copies): the branch-free code's function
  // chosen for one packet per call (null until chosen, and for other engines), the shortest
  // packet it takes, and whether it must not take packets with ancillary values.
  struct FastPath {
    std::atomic<std::uint32_t (*)(const std::uint8_t*, std::uint64_t, std::uint32_t)> entry{
        nullptr};
    std::uint64_t min_caplen = 0;
    bool needs_no_ancillary = false;
  };
  Filter(Program program, Engine engine, std::shared_ptr<const Compiled> compiled);
  // Every packet run() does not take on its fast path.
  std::uint32_t run_other(const Packet& packet) const;
  // run(span, span)'s parts (filter.cpp): the branch-free code's form (a
  // BranchFreeFilter::Form) on a batch, the vector code on it, and the choice between them.
  void run_form(int form, std::span<const Packet> packets, std::span<std::uint32_t> verdicts) const;
  void run_vector(std::span<const Packet> packets, std::span<std::uint32_t> verdicts) const;
  bool run_vector_or(int form, std::span<const Packet> packets,
                     std::span<std::uint32_t> verdicts) const;
  Program program_;
  Engine engine_;
  std::shared_ptr<const Compiled> compiled_;
  const FastPath* fast_;  // in *compiled_
};

// ---- libpcap bridge ---------------------------------------------------------------------------

struct CompileOptions {
  int linktype = 1;                    // DLT_EN10MB
  std::uint32_t snaplen = 262144;      // what `ret #snaplen` returns
  bool optimize = true;                // tcpdump optimizes unless -O
  std::uint32_t netmask = 0xffffffff;  // PCAP_NETMASK_UNKNOWN
};

// Compiles a tcpdump filter expression with libpcap's pcap_compile() on a dead handle of the
// link type. The error is libpcap's message ("syntax error", "unknown ether type").
Result<std::vector<Insn>> compile(std::string_view expression, const CompileOptions& options = {});

// libpcap's name for a DLT ("EN10MB"), or "DLT <n>" when it has none.
std::string linktype_name(int linktype);

}  // namespace bpfvm::classic
