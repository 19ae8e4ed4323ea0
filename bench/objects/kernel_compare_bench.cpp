// Map operations from inside a program on bpfvm against the kernel, in one run: each program
// of map_ops.bpf.o does 64 operations per run; both sides run it many times on the same
// packet (the kernel through BPF_PROG_TEST_RUN with `repeat`), and the time of the `empty`
// program is subtracted, so the table shows nanoseconds per map operation. Then an XDP
// parse-and-count program (tests/bpf/xdp_parser.bpf.c), whole runs: packets per second.
//
//   kernel_compare_bench [--repeat N] MAP_OPS_OBJECT XDP_PARSER_OBJECT
#include <bpfvm/jit.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/map.hpp>
#include <bpfvm/object.hpp>
#include <bpfvm/packet_run.hpp>
#include <bpfvm/progtypes.hpp>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
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
  // Mean nanoseconds per run, as test_run measures it.
  std::optional<double> time(const char* program, const Bytes& packet, int repeat) {
    bpf_program* found = bpf_object__find_program_by_name(object_.get(), program);
    if (found == nullptr) return std::nullopt;
    Bytes out(packet.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = packet.data(), .data_out = out.data(),
                .data_size_in = static_cast<__u32>(packet.size()),
                .data_size_out = static_cast<__u32>(out.size()), .repeat = repeat);
    if (bpf_prog_test_run_opts(bpf_program__fd(found), &options) != 0) return std::nullopt;
    return static_cast<double>(options.duration);
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
    return side;
  }
  void update(const char* map, const void* key, const void* value) {
    if (auto found = object_->map(map)) (void)found->host_update(key, value, map_update::any);
  }
  // Mean nanoseconds per run on `engine` (the JIT compiled once, outside the timing).
  std::optional<double> time(const char* name, const Bytes& packet, int repeat, Engine engine) {
    const Program* program = object_->program(name);
    if (program == nullptr) return std::nullopt;
    PacketRunInput input;
    input.type = ProgramType::xdp;
    input.packet = packet;
    RunOptions options;
    options.memory_mode = MemoryMode::checked;
    std::optional<JitProgram> jit;
    if (engine == Engine::jit) {
      auto compiled = JitProgram::compile(*program);
      if (!compiled) return std::nullopt;
      jit = std::move(*compiled);
    }
    ProgramRunner runner = [&](const RunInput& run_input, const RunOptions& run_options) {
      return jit ? jit->run(run_input, run_options) : interpret(*program, run_input, run_options);
    };
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < repeat; ++i)
      if (!run_packet(runner, input, options)) return std::nullopt;
    std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    return elapsed.count() / repeat;
  }

 private:
  std::unique_ptr<HelperRegistry> helpers_;
  std::unique_ptr<Object> object_;
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
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--help" || arg == "-h") {
      std::puts(
          "usage: kernel_compare_bench [--repeat N] MAP_OPS_OBJECT XDP_PARSER_OBJECT\n"
          "Times map operations inside programs on bpfvm (interpreter, JIT; checked\n"
          "mode) against the kernel's BPF_PROG_TEST_RUN, and an XDP parser's packet rate.");
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
  populate([&](const char* map, const void* key, const void* value) {
    ours->update(map, key, value);
    if (kernel) kernel->update(map, key, value);
  });

  Bytes packet = bench_packet();
  fmt::print("{} runs each; ns per map operation (64 per run, minus an empty run)\n", repeat);
  fmt::print("{:<16} {:>9} {:>9} {:>9} {:>10} {:>10}\n", "operation", "kernel", "interp", "jit",
             "interp/k", "jit/k");
  auto time_all = [&](const char* program) {
    struct Times {
      std::optional<double> kernel, interp, jit;
    } times;
    if (kernel) times.kernel = kernel->time(program, packet, repeat);
    times.interp = ours->time(program, packet, repeat, Engine::interpreter);
    times.jit = ours->time(program, packet, repeat, Engine::jit);
    return times;
  };
  auto empty = time_all("empty");
  for (const char* program : {"array_lookup", "hash4_lookup", "hash16_lookup", "hash4_update",
                              "hash16_update", "lru_update", "lpm_lookup"}) {
    auto times = time_all(program);
    auto k = per_op(times.kernel, empty.kernel);
    auto i = per_op(times.interp, empty.interp);
    auto j = per_op(times.jit, empty.jit);
    fmt::print("{:<16} {:>9} {:>9} {:>9} {:>10} {:>10}\n", program, cell(k), cell(i), cell(j),
               cell(ratio(i, k), "x"), cell(ratio(j, k), "x"));
  }
  fmt::print("{:<16} {:>9} {:>9} {:>9}   (ns per whole run)\n", "empty run", cell(empty.kernel),
             cell(empty.interp), cell(empty.jit));

  auto parser = BpfvmSide::open(paths[1], why);
  auto kernel_parser = KernelSide::open(paths[1], why);
  if (parser) {
    auto pps = [](std::optional<double> ns) -> std::optional<double> {
      if (!ns || *ns <= 0) return std::nullopt;
      return 1e3 / *ns;  // million packets per second
    };
    auto k = kernel_parser ? kernel_parser->time("parse_flows", packet, repeat) : std::nullopt;
    auto i = parser->time("parse_flows", packet, repeat, Engine::interpreter);
    auto j = parser->time("parse_flows", packet, repeat, Engine::jit);
    fmt::print("\nXDP parse and count (xdp_parser.o, 64-byte TCP frame): Mpps\n");
    fmt::print("{:<16} {:>9} {:>9} {:>9}\n", "", "kernel", "interp", "jit");
    fmt::print("{:<16} {:>9} {:>9} {:>9}\n", "parse_flows", cell(pps(k)), cell(pps(i)),
               cell(pps(j)));
  }
  return 0;
}
