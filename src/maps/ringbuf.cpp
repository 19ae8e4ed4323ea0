// BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): a multi-producer, single-consumer byte ring
// of max_entries bytes (a power of 2 multiple of the page size). Each record starts with
// Linux's 8-byte header { u32 len; u32 pg_off; } whose len carries BPF_RINGBUF_BUSY_BIT until
// the record is submitted and BPF_RINGBUF_DISCARD_BIT if it was discarded; records are
// rounded up to 8 bytes. Positions only grow; the data pages are mapped twice back to back
// (as Linux maps them) so a record that wraps past the end is still contiguous.
//
// Producers reserve under a spin lock (Linux: rb->spinlock) and fill and submit without it;
// the consumer stops at the first busy record, so records are delivered in reservation order.
#include "maps/map_common.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <mutex>

namespace bpfvm::maps {
namespace {

// bpf_ringbuf_query flags and the submit/output wakeup flags (uapi/linux/bpf.h).
constexpr std::uint64_t kAvailData = 0;                // BPF_RB_AVAIL_DATA
constexpr std::uint64_t kRingSize = 1;                 // BPF_RB_RING_SIZE
constexpr std::uint64_t kConsPos = 2;                  // BPF_RB_CONS_POS
constexpr std::uint64_t kProdPos = 3;                  // BPF_RB_PROD_POS
constexpr std::uint64_t kWakeupFlags = 1 | 2;          // BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP
constexpr std::uint64_t kMaxRecord = 0xffffffffu / 4;  // RINGBUF_MAX_RECORD_SZ

class RingBuffer final : public RingBufferMap {
 public:
  explicit RingBuffer(const MapSpec& spec) : RingBufferMap(spec), size_(spec.max_entries) {
    mask_ = size_ - 1;
    int fd = memfd_create("bpfvm-ringbuf", MFD_CLOEXEC);
    if (fd < 0) return;
    void* area = MAP_FAILED;
    if (ftruncate(fd, static_cast<off_t>(size_)) == 0) {
      area = mmap(nullptr, 2 * size_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (area != MAP_FAILED) {
      auto* base = static_cast<unsigned char*>(area);
      void* first = mmap(base, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
      void* second =
          mmap(base + size_, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
      if (first == MAP_FAILED || second == MAP_FAILED) {
        munmap(area, 2 * size_);
      } else {
        data_ = base;
      }
    }
    close(fd);
  }
  ~RingBuffer() override {
    if (data_ != nullptr) munmap(data_, 2 * size_);
  }
  bool ok() const { return data_ != nullptr; }

  void* lookup(const void*) override { return nullptr; }
  int update(const void*, const void*, std::uint64_t) override { return -kENOTSUPP; }
  int erase(const void*) override { return -kENOTSUPP; }
  int get_next_key(const void*, void*) override { return -kENOTSUPP; }
  int host_lookup(const void*, void*) override { return -kENOTSUPP; }
  long for_each(const std::function<long(const void*, void*)>&) override { return -EINVAL; }
  int lookup_batch(const void*, void*, void*, void*, std::uint32_t& count) override {
    count = 0;
    return -kENOTSUPP;
  }

  // __bpf_ringbuf_reserve.
  void* reserve(std::uint64_t size, std::uint64_t flags) override {
    if (flags != 0 || size > kMaxRecord) return nullptr;
    const std::uint64_t len = round_up8(size + kRingbufHeaderSize);
    if (len > size_) return nullptr;
    std::lock_guard lock(producer_lock_);
    const std::uint64_t cons = consumer_pos_.load(std::memory_order_acquire);
    const std::uint64_t prod = producer_pos_.load(std::memory_order_relaxed);
    const std::uint64_t new_prod = prod + len;
    if (new_prod - cons > size_) return nullptr;  // would overwrite unconsumed data
    unsigned char* header = data_ + (prod & mask_);
    const auto pg_off = static_cast<std::uint32_t>((prod & mask_) / page_size_);
    std::memcpy(header + 4, &pg_off, 4);
    header_len(header).store(static_cast<std::uint32_t>(size) | kRingbufBusyBit,
                             std::memory_order_relaxed);
    producer_pos_.store(new_prod, std::memory_order_release);
    return header + kRingbufHeaderSize;
  }

  void submit(void* record, std::uint64_t) override { commit(record, false); }
  void discard(void* record, std::uint64_t) override { commit(record, true); }

  int output(const void* data, std::uint64_t size, std::uint64_t flags) override {
    if ((flags & ~kWakeupFlags) != 0) return -EINVAL;
    void* record = reserve(size, 0);
    if (record == nullptr) return -EAGAIN;
    std::memcpy(record, data, size);
    commit(record, false);
    return 0;
  }

  std::uint64_t query(std::uint64_t flags) const override {
    const std::uint64_t cons = consumer_pos_.load(std::memory_order_acquire);
    const std::uint64_t prod = producer_pos_.load(std::memory_order_acquire);
    switch (flags) {
      case kAvailData: return prod - cons;
      case kRingSize: return size_;
      case kConsPos: return cons;
      case kProdPos: return prod;
      default: return 0;
    }
  }

  // libbpf's ringbuf_process_ring: stop at a busy record; skip discarded ones; the record a
  // callback stops on is consumed.
  long consume(const std::function<int(const void* data, std::size_t size)>& sample) override {
    std::lock_guard lock(consumer_lock_);
    std::uint64_t cons = consumer_pos_.load(std::memory_order_relaxed);
    long consumed = 0;
    for (;;) {
      const std::uint64_t prod = producer_pos_.load(std::memory_order_acquire);
      if (cons >= prod) return consumed;
      unsigned char* header = data_ + (cons & mask_);
      const std::uint32_t len = header_len(header).load(std::memory_order_acquire);
      if (len & kRingbufBusyBit) return consumed;
      const std::uint32_t size = len & ~(kRingbufBusyBit | kRingbufDiscardBit);
      int stop = 0;
      if ((len & kRingbufDiscardBit) == 0) {
        ++consumed;
        stop = sample(header + kRingbufHeaderSize, size);
      }
      cons += round_up8(std::uint64_t{size} + kRingbufHeaderSize);
      consumer_pos_.store(cons, std::memory_order_release);
      if (stop != 0) return consumed;
    }
  }

 private:
  static std::atomic_ref<std::uint32_t> header_len(unsigned char* header) {
    return std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(header));
  }

  void commit(void* record, bool discard) {
    unsigned char* header = static_cast<unsigned char*>(record) - kRingbufHeaderSize;
    std::atomic_ref<std::uint32_t> len = header_len(header);
    std::uint32_t value = len.load(std::memory_order_relaxed) & ~kRingbufBusyBit;
    if (discard) value |= kRingbufDiscardBit;
    len.store(value, std::memory_order_release);
  }

  const std::uint64_t size_;
  const std::uint64_t page_size_ = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  std::uint64_t mask_ = 0;
  unsigned char* data_ = nullptr;
  SpinLock producer_lock_;
  std::mutex consumer_lock_;
  alignas(64) std::atomic<std::uint64_t> consumer_pos_{0};
  alignas(64) std::atomic<std::uint64_t> producer_pos_{0};
};

}  // namespace

Result<std::shared_ptr<Map>> make_ringbuf(const MapSpec& spec) {
  auto map = std::make_shared<RingBuffer>(spec);
  if (!map->ok()) return spec_error("ENOMEM", "cannot map the ring buffer's pages");
  return std::shared_ptr<Map>(std::move(map));
}

}  // namespace bpfvm::maps
