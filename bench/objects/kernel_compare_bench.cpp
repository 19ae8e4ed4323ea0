// Map operations from inside a program on bpfvm against the kernel, in one run: each program
// of map_ops.bpf.o does 64 operations per run; both sides run it many times on the same
// packet (the kernel through BPF_PROG_TEST_RUN with `repeat`), and the time of the `empty`
// program is subtracted, so the table shows nanoseconds per map operation. Then an XDP
// parse-and-count program (tests/bpf/xdp_parser.bpf.c), whole runs: packets per second.
//
//   kernel_compare_bench [--repeat N] [--only a,b] MAP_OPS_OBJECT XDP_PARSER_OBJECT
#include <bpfvm/jit.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/progtypes.hpp>
#include <bpfvm/verifier.hpp>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace bpfvm;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t entries = 1024;
constexpr double ops_per_run = 64;
constexpr int batches = 5;  // each timing is the best of this many batches of repeat / 5 runs

struct Key16 {
  std::uint64_t high;
  std::uint64_t low;
};
struct LpmKey {
  std::uint32_t prefix_length;
  std::uint32_t address;  // network byte order
};

// The same contents on both sides: every array and hash key present, a /8 and 256 /16s in
// the trie. `update(map name, key, value)` writes one element.
void populate(const std::function<void(const char*, const void*, const void*)>& update) {
  for (std::uint32_t key = 0; key < entries; ++key) {
    std::uint64_t value = key;
    update("array", &key, &value);
    update("hash4", &key, &value);
    Key16 wide{key, 0x5a5a5a5a5a5a5a5aull};
    update("hash16", &wide, &value);
  }
  std::uint64_t value = 1;
  LpmKey eight{8, __builtin_bswap32(10u << 24)};
  update("lpm", &eight, &value);
  for (std::uint32_t second = 0; second < 256; ++second) {
    LpmKey sixteen{16, __builtin_bswap32(10u << 24 | second << 16)};
    update("lpm", &sixteen, &value);
  }
}

// A 64-byte Ethernet frame whose first byte seeds the programs' keys.
Bytes bench_packet() {
  Bytes packet(64, 0);
  packet[0] = 3;
  packet[12] = 0x08;
  packet[14] = 0x45;
  packet[23] = 6;
  return packet;
}

// This thread's CPU time: the machine is shared, and time spent descheduled is not the
// program's. The kernel's test_run does the same: its timer stops while it reschedules
// (bpf_test_timer_continue).
double thread_cpu_ns() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

class KernelSide {
 public:
  static std::optional<KernelSide> open(const std::string& path, std::string& why) {
    libbpf_set_print([](libbpf_print_level, const char*, va_list) { return 0; });
    bpf_object* object = bpf_object__open_file(path.c_str(), nullptr);
    if (object == nullptr) {
      why = "cannot open " + path;
      return std::nullopt;
    }
    if (int error = bpf_object__load(object); error != 0) {
      why = fmt::format("the kernel refuses the object: {}", std::strerror(-error));
      bpf_object__close(object);
      return std::nullopt;
    }
    KernelSide side;
    side.object_.reset(object);
    return side;
  }
  void update(const char* map, const void* key, const void* value) {
    bpf_map* found = bpf_object__find_map_by_name(object_.get(), map);
    if (found != nullptr) bpf_map_update_elem(bpf_map__fd(found), key, value, BPF_ANY);
  }
  // Mean nanoseconds per run, as test_run measures it: the best of `batches` test runs of
  // repeat / batches each (the machine is shared; the fastest batch is the least disturbed).
  std::optional<double> time(const char* program, const Bytes& packet, int repeat) {
    bpf_program* found = bpf_object__find_program_by_name(object_.get(), program);
    if (found == nullptr) return std::nullopt;
    Bytes out(packet.size() + 256);
    std::optional<double> best;
    for (int batch = 0; batch < batches; ++batch) {
      LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = packet.data(), .data_out = out.data(),
                  .data_size_in = static_cast<__u32>(packet.size()),
                  .data_size_out = static_cast<__u32>(out.size()),
                  .repeat = std::max(1, repeat / batches));
      if (bpf_prog_test_run_opts(bpf_program__fd(found), &options) != 0) return std::nullopt;
      best = std::min(best.value_or(1e300), static_cast<double>(options.duration));
    }
    return best;
  }

 private:
  struct Closer {
    void operator()(bpf_object* object) const { bpf_object__close(object); }
  };
  std::unique_ptr<bpf_object, Closer> object_;
};

class BpfvmSide {
 public:
  static std::optional<BpfvmSide> open(const std::string& path, std::string& why) {
    auto spec = ObjectSpec::parse_file(path);
    if (!spec) {
      why = spec.error().to_string();
      return std::nullopt;
    }
    BpfvmSide side;
    side.helpers_ = std::make_unique<HelperRegistry>(linux_helpers());
    (void)add_packet_helpers(*side.helpers_, ProgramType::xdp);
    auto object = Object::load(*spec, ObjectLoadOptions{.helpers = side.helpers_.get()});
    if (!object) {
      why = object.error().to_string();
      return std::nullopt;
    }
    side.object_ = std::make_unique<Object>(std::move(*object));
    side.spec_ = std::move(*spec);
    return side;
  }
  void update(const char* map, const void* key, const void* value) {
    if (auto found = object_->map(map)) (void)found->host_update(key, value, map_update::any);
  }
  // Whether the verifier proves `name` safe, as `bpfvm run` checks before running unchecked.
  bool verified(const char* name) const {
    const ObjectProgram* program = spec_.program(name);
    if (program == nullptr) return false;
    verifier::VerifyOptions options;
    options.type = program->type;
    options.helpers = helpers_.get();
    for (const ObjectMap& map : spec_.maps) options.maps.push_back(map.spec);
    auto result = verifier::verify(program->insns, options);
    if (!result.ok() && std::getenv("BENCH_VERBOSE") != nullptr)
      fmt::print(stderr, "{}: not verified: {}\n", name, result.error->to_string());
    return result.ok();
  }
  // Mean nanoseconds per run on `engine` in `mode` (the JIT compiled once, outside the
  // timing); unchecked only for programs the verifier accepts.
  std::optional<double> time(const char* name, const Bytes& packet, int repeat, Engine engine,
                             MemoryMode mode) {
    const Program* program = object_->program(name);
    if (program == nullptr) return std::nullopt;
    if (mode == MemoryMode::unchecked && !trusted_ && !verified(name)) return std::nullopt;
    PacketRunInput input;
    input.type = ProgramType::xdp;
    input.packet = packet;
    RunOptions options;
    options.memory_mode = mode;
    // BENCH_JIT_DUMP=<program>: its unchecked JIT code on stderr (what a lookup compiles to).
    if (const char* dump = std::getenv("BENCH_JIT_DUMP");
        dump != nullptr && dump == std::string(name) && engine == Engine::jit &&
        mode == MemoryMode::unchecked) {
      JitOptions dump_options;
      dump_options.memory_mode = mode;
      if (auto text = jit_dump(*program, dump_options)) fmt::print(stderr, "{}\n", *text);
    }
    std::optional<JitProgram> jit;
    if (engine == Engine::jit) {
      JitOptions jit_options;
      jit_options.memory_mode = mode;
      auto compiled = JitProgram::compile(*program, jit_options);
      if (!compiled) return std::nullopt;
      jit = std::move(*compiled);
    }
    ProgramRunner runner = [&](const RunInput& run_input, const RunOptions& run_options) {
      return jit ? jit->run(run_input, run_options) : interpret(*program, run_input, run_options);
    };
    // As the kernel side: the best of `batches` batches.
    std::optional<double> best;
    const int runs = std::max(1, repeat / batches);
    // run_packet's repeat is test_run's: the frame is built once per batch.
    input.repeat = static_cast<std::uint32_t>(runs);
    for (int batch = 0; batch < batches; ++batch) {
      const double start = thread_cpu_ns();
      if (!run_packet(runner, input, options)) return std::nullopt;
      best = std::min(best.value_or(1e300), (thread_cpu_ns() - start) / runs);
    }
    return best;
  }

 private:
  std::unique_ptr<HelperRegistry> helpers_;
  std::unique_ptr<Object> object_;
  ObjectSpec spec_;
  bool trusted_ = false;

 public:
  // The kernel's verifier accepted the same object: unchecked runs are safe even where
  // bpfvm's verifier cannot prove it yet (it does not model xdp contexts today).
  void trust() { trusted_ = true; }
};

std::string cell(std::optional<double> value, const char* unit = "") {
  return value ? fmt::format("{:.1f}{}", *value, unit) : std::string("-");
}

std::optional<double> per_op(std::optional<double> run, std::optional<double> empty) {
  if (!run || !empty) return std::nullopt;
  return (*run - *empty) / ops_per_run;
}

std::optional<double> ratio(std::optional<double> ours, std::optional<double> kernel) {
  if (!ours || !kernel || *kernel <= 0) return std::nullopt;
  return *ours / *kernel;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 100000;
  std::string only;  // ",a,b,": the programs to time (and always `empty`); all when empty
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--only" && i + 1 < argc) {
      only = "," + std::string(argv[++i]) + ",";
    } else if (arg == "--help" || arg == "-h") {
      std::puts(
          "usage: kernel_compare_bench [--repeat N] [--only a,b] MAP_OPS_OBJECT XDP_PARSER_OBJECT\n"
          "Times map operations inside programs on bpfvm (interpreter, JIT; checked and,\n"
          "for verified programs, unchecked) against the kernel's BPF_PROG_TEST_RUN, and\n"
          "an XDP parser's packet rate (--only parse_flows for that alone).");
      return 0;
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.size() != 2) {
    std::fputs("usage: kernel_compare_bench [--repeat N] MAP_OPS_OBJECT XDP_PARSER_OBJECT\n",
               stderr);
    return 2;
  }

  std::string why;
  auto ours = BpfvmSide::open(paths[0], why);
  if (!ours) {
    fmt::print(stderr, "kernel_compare_bench: {}: {}\n", paths[0], why);
    return 1;
  }
  auto kernel = KernelSide::open(paths[0], why);
  if (!kernel) fmt::print("kernel: not measured ({})\n", why);
  if (kernel) ours->trust();
  populate([&](const char* map, const void* key, const void* value) {
    ours->update(map, key, value);
    if (kernel) kernel->update(map, key, value);
  });

  Bytes packet = bench_packet();
  auto wanted = [&](const char* program) {
    return only.empty() || only.find("," + std::string(program) + ",") != std::string::npos;
  };
  struct Times {
    std::optional<double> kernel, interp, jit, interp_unchecked, jit_unchecked;
  };
  auto time_all = [&](BpfvmSide& side, KernelSide* k, const char* program) {
    Times times;
    if (k != nullptr) times.kernel = k->time(program, packet, repeat);
    times.interp = side.time(program, packet, repeat, Engine::interpreter, MemoryMode::checked);
    times.jit = side.time(program, packet, repeat, Engine::jit, MemoryMode::checked);
    times.interp_unchecked =
        side.time(program, packet, repeat, Engine::interpreter, MemoryMode::unchecked);
    times.jit_unchecked = side.time(program, packet, repeat, Engine::jit, MemoryMode::unchecked);
    return times;
  };
  fmt::print(
      "{} runs each; ns per map operation (64 per run, minus an empty run)\n"
      "checked: every access checked; -u: unchecked, for programs bpfvm's verifier or the\n"
      "kernel's (it loaded the same object) accepted\n",
      repeat);
  fmt::print("{:<14} {:>7} {:>8} {:>8} {:>9} {:>9} {:>8} {:>9}\n", "operation", "kernel", "interp",
             "jit", "interp-u", "jit-u", "jit/k", "jit-u/k");
  auto empty = time_all(*ours, kernel ? &*kernel : nullptr, "empty");
  for (const char* program : {"array_lookup", "hash4_lookup", "hash16_lookup", "hash4_update",
                              "hash16_update", "lru_update", "lpm_lookup"}) {
    if (!wanted(program)) continue;
    auto times = time_all(*ours, kernel ? &*kernel : nullptr, program);
    auto k = per_op(times.kernel, empty.kernel);
    auto i = per_op(times.interp, empty.interp);
    auto j = per_op(times.jit, empty.jit);
    auto iu = per_op(times.interp_unchecked, empty.interp_unchecked);
    auto ju = per_op(times.jit_unchecked, empty.jit_unchecked);
    fmt::print("{:<14} {:>7} {:>8} {:>8} {:>9} {:>9} {:>8} {:>9}\n", program, cell(k), cell(i),
               cell(j), cell(iu), cell(ju), cell(ratio(j, k), "x"), cell(ratio(ju, k), "x"));
  }
  fmt::print("{:<14} {:>7} {:>8} {:>8} {:>9} {:>9}   (ns per whole run)\n", "empty run",
             cell(empty.kernel), cell(empty.interp), cell(empty.jit), cell(empty.interp_unchecked),
             cell(empty.jit_unchecked));

  auto parser = BpfvmSide::open(paths[1], why);
  auto kernel_parser = KernelSide::open(paths[1], why);
  if (parser && kernel_parser) parser->trust();
  if (parser && wanted("parse_flows")) {
    auto pps = [](std::optional<double> ns) -> std::optional<double> {
      if (!ns || *ns <= 0) return std::nullopt;
      return 1e3 / *ns;  // million packets per second
    };
    auto t = time_all(*parser, kernel_parser ? &*kernel_parser : nullptr, "parse_flows");
    fmt::print("\nXDP parse and count (xdp_parser.o, 64-byte TCP frame): Mpps\n");
    fmt::print("{:<14} {:>7} {:>8} {:>8} {:>9} {:>9}\n", "", "kernel", "interp", "jit", "interp-u",
               "jit-u");
    fmt::print("{:<14} {:>7} {:>8} {:>8} {:>9} {:>9}\n", "parse_flows", cell(pps(t.kernel)),
               cell(pps(t.interp)), cell(pps(t.jit)), cell(pps(t.interp_unchecked)),
               cell(pps(t.jit_unchecked)));
  }
  return 0;
}
