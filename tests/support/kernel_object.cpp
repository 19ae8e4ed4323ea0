#include "support/kernel_object.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace bpfvm::test::kernel {

namespace {

// libbpf reports through a global print callback; keep what it says during one call so the
// error can carry it instead of it going to stderr.
std::mutex libbpf_log_mutex;
std::string* libbpf_log = nullptr;

int collect_libbpf_output(enum libbpf_print_level level, const char* format, va_list args) {
  if (libbpf_log == nullptr || level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int length = std::vsnprintf(line, sizeof line, format, args);
  if (length > 0) *libbpf_log += line;
  return length;
}

class LibbpfLogCapture {
 public:
  LibbpfLogCapture() : lock_(libbpf_log_mutex) {
    libbpf_log = &text_;
    previous_ = libbpf_set_print(collect_libbpf_output);
  }
  ~LibbpfLogCapture() {
    libbpf_set_print(previous_);
    libbpf_log = nullptr;
  }
  const std::string& text() const { return text_; }

 private:
  std::lock_guard<std::mutex> lock_;
  std::string text_;
  libbpf_print_fn_t previous_ = nullptr;
};

SysError libbpf_error(std::string operation, int error, const std::string& log) {
  return SysError{std::move(operation), error < 0 ? -error : error, log};
}

}  // namespace

void KernelObject::Closer::operator()(bpf_object* object) const { bpf_object__close(object); }

SysResult<KernelObject> KernelObject::load(const std::string& path) {
  LibbpfLogCapture capture;
  bpf_object* object = bpf_object__open_file(path.c_str(), nullptr);
  if (object == nullptr)
    return libbpf_error("bpf_object__open_file " + path, errno, capture.text());
  KernelObject loaded(object);
  if (int error = bpf_object__load(object); error != 0)
    return libbpf_error("bpf_object__load " + path, error, capture.text());
  return loaded;
}

SysResult<TestRunOutput> KernelObject::run(const std::string& program,
                                           std::span<const std::uint8_t> packet,
                                           std::uint32_t repeat) const {
  bpf_program* found = bpf_object__find_program_by_name(object_.get(), program.c_str());
  if (found == nullptr) return SysError{"no program named " + program, ENOENT, {}};
  TestRunOutput output;
  // Room for programs that grow the packet (xdp_adjust_tail, skb_change_tail).
  output.data_out.resize(packet.size() + 4096);
  LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = packet.data(),
              .data_out = output.data_out.data(), .data_size_in = static_cast<__u32>(packet.size()),
              .data_size_out = static_cast<__u32>(output.data_out.size()),
              .repeat = static_cast<int>(repeat));
  if (bpf_prog_test_run_opts(bpf_program__fd(found), &options) != 0)
    return SysError{"BPF_PROG_TEST_RUN " + program, errno, {}};
  output.retval = options.retval;
  output.duration_ns = options.duration;
  output.data_out.resize(options.data_size_out);
  return output;
}

std::vector<std::string> KernelObject::map_names() const {
  std::vector<std::string> names;
  bpf_map* map;
  bpf_object__for_each_map(map, object_.get()) names.emplace_back(bpf_map__name(map));
  return names;
}

SysResult<std::vector<MapEntry>> KernelObject::entries(const std::string& map) const {
  bpf_map* found = bpf_object__find_map_by_name(object_.get(), map.c_str());
  if (found == nullptr) return SysError{"no map named " + map, ENOENT, {}};
  int fd = bpf_map__fd(found);
  std::size_t value_size = bpf_map__value_size(found);
  auto type = bpf_map__type(found);
  if (type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
      type == BPF_MAP_TYPE_LRU_PERCPU_HASH)
    value_size = ((value_size + 7) / 8 * 8) * static_cast<std::size_t>(libbpf_num_possible_cpus());

  std::vector<MapEntry> result;
  std::vector<std::uint8_t> key(bpf_map__key_size(found));
  std::vector<std::uint8_t> next(key.size());
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, next.data()) == 0) {
    MapEntry entry{next, std::vector<std::uint8_t>(value_size)};
    if (bpf_map_lookup_elem(fd, next.data(), entry.value.data()) != 0)
      return SysError{"BPF_MAP_LOOKUP_ELEM " + map, errno, {}};
    result.push_back(std::move(entry));
    key = next;
    previous = key.data();
  }
  if (errno != ENOENT) return SysError{"BPF_MAP_GET_NEXT_KEY " + map, errno, {}};
  return result;
}

SysResult<std::vector<std::vector<std::uint8_t>>> KernelObject::ring_records(
    const std::string& map) const {
  bpf_map* found = bpf_object__find_map_by_name(object_.get(), map.c_str());
  if (found == nullptr) return SysError{"no map named " + map, ENOENT, {}};
  std::vector<std::vector<std::uint8_t>> records;
  auto keep = [](void* context, void* data, std::size_t size) {
    auto* out = static_cast<std::vector<std::vector<std::uint8_t>>*>(context);
    auto* bytes = static_cast<std::uint8_t*>(data);
    out->emplace_back(bytes, bytes + size);
    return 0;
  };
  ring_buffer* ring = ring_buffer__new(bpf_map__fd(found), keep, &records, nullptr);
  if (ring == nullptr) return SysError{"ring_buffer__new " + map, errno, {}};
  int consumed = ring_buffer__consume(ring);
  ring_buffer__free(ring);
  if (consumed < 0) return SysError{"ring_buffer__consume " + map, -consumed, {}};
  return records;
}

}  // namespace bpfvm::test::kernel
