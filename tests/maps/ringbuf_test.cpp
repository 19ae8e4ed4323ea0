// BPF_MAP_TYPE_RINGBUF against Linux's ringbuf.c: the record header, 8-byte rounding,
// wraparound, discard, reservation order and query.
#include "maps/map_test_util.hpp"

#include <string>
#include <thread>

namespace bpfvm::test {
namespace {

std::shared_ptr<RingBufferMap> ring(std::uint32_t size = 4096) {
  return std::dynamic_pointer_cast<RingBufferMap>(make_map(MapType::ringbuf, 0, 0, size));
}

std::vector<std::string> drain(RingBufferMap& rb) {
  std::vector<std::string> out;
  rb.consume([&](const void* data, std::size_t size) {
    out.emplace_back(static_cast<const char*>(data), size);
    return 0;
  });
  return out;
}

TEST(RingBuffer, HeaderBusyBitAndRounding) {
  auto rb = ring();
  ASSERT_TRUE(rb);
  auto* record = static_cast<std::uint8_t*>(rb->reserve(5, 0));
  ASSERT_NE(record, nullptr);
  std::uint32_t len = read_u32(record - 8);
  EXPECT_EQ(len, 5u | (1u << 31));  // BPF_RINGBUF_BUSY_BIT until submitted
  EXPECT_EQ(rb->query(3), 16u);     // BPF_RB_PROD_POS: 8 header + 5 rounded to 8
  EXPECT_EQ(rb->query(0), 16u);     // BPF_RB_AVAIL_DATA
  EXPECT_EQ(rb->query(1), 4096u);   // BPF_RB_RING_SIZE
  EXPECT_EQ(drain(*rb).size(), 0u) << "a busy record blocks the consumer";
  std::memcpy(record, "hello", 5);
  rb->submit(record, 0);
  EXPECT_EQ(read_u32(record - 8), 5u);
  EXPECT_EQ(drain(*rb), (std::vector<std::string>{"hello"}));
  EXPECT_EQ(rb->query(2), 16u);  // BPF_RB_CONS_POS
  EXPECT_EQ(rb->query(0), 0u);
}

TEST(RingBuffer, DiscardedRecordsAreSkippedAndOrderKept) {
  auto rb = ring();
  ASSERT_TRUE(rb);
  void* a = rb->reserve(1, 0);
  void* b = rb->reserve(2, 0);
  void* c = rb->reserve(3, 0);
  ASSERT_TRUE(a && b && c);
  std::memcpy(a, "a", 1);
  std::memcpy(c, "ccc", 3);
  rb->submit(c, 0);
  EXPECT_TRUE(drain(*rb).empty()) << "a is still busy";
  rb->discard(b, 0);
  EXPECT_EQ(read_u32(static_cast<std::uint8_t*>(b) - 8), 2u | (1u << 30));
  rb->submit(a, 0);
  EXPECT_EQ(drain(*rb), (std::vector<std::string>{"a", "ccc"}));
}

TEST(RingBuffer, FullRingRefusesAndOutputSaysEagain) {
  auto rb = ring();
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->reserve(4096, 0), nullptr) << "header + data exceed the ring";
  EXPECT_EQ(rb->reserve(8, 1), nullptr) << "flags must be 0";
  void* big = rb->reserve(4096 - 8, 0);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(rb->reserve(1, 0), nullptr);
  std::uint8_t byte = 1;
  EXPECT_EQ(rb->output(&byte, 1, 0), -EAGAIN);
  EXPECT_EQ(rb->output(&byte, 1, 4), -EINVAL);
  rb->discard(big, 0);
  EXPECT_EQ(rb->consume([](const void*, std::size_t) { return 0; }), 0);
  EXPECT_EQ(rb->output(&byte, 1, 1 /* BPF_RB_NO_WAKEUP */), 0);
  EXPECT_EQ(drain(*rb).size(), 1u);
}

TEST(RingBuffer, RecordsWrapAroundContiguously) {
  auto rb = ring();
  ASSERT_TRUE(rb);
  std::string last;
  for (int i = 0; i < 500; ++i) {
    std::string payload(1 + (i * 37) % 300, static_cast<char>('a' + i % 26));
    ASSERT_EQ(rb->output(payload.data(), payload.size(), 0), 0) << i;
    auto got = drain(*rb);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], payload);
  }
  EXPECT_GT(rb->query(3), 4096u * 10) << "positions grow past the ring size";
}

TEST(RingBuffer, ConsumerStopsWhenTheCallbackSaysSo) {
  auto rb = ring();
  ASSERT_TRUE(rb);
  for (char c : std::string("xyz")) ASSERT_EQ(rb->output(&c, 1, 0), 0);
  EXPECT_EQ(rb->consume([](const void*, std::size_t) { return 1; }), 1);
  EXPECT_EQ(drain(*rb), (std::vector<std::string>{"y", "z"}));
}

TEST(RingBuffer, ManyProducersOneConsumer) {
  auto rb = ring(1 << 16);
  ASSERT_TRUE(rb);
  constexpr int kThreads = 4;
  constexpr std::uint64_t kPerThread = 5000;
  std::atomic<int> done{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < kPerThread;) {
        std::uint64_t record[2] = {static_cast<std::uint64_t>(t), i};
        if (rb->output(record, sizeof record, 0) == 0) ++i;
      }
      done.fetch_add(1);
    });
  }
  std::vector<std::uint64_t> next(kThreads, 0);
  std::uint64_t total = 0;
  while (total < kThreads * kPerThread) {
    total += static_cast<std::uint64_t>(rb->consume([&](const void* data, std::size_t size) {
      EXPECT_EQ(size, 16u);
      std::uint64_t t = read_u64(data), i = read_u64(static_cast<const char*>(data) + 8);
      EXPECT_EQ(i, next[t]) << "per-producer order";
      next[t] = i + 1;
      return 0;
    }));
  }
  for (auto& p : producers) p.join();
  EXPECT_EQ(rb->query(0), 0u);
}

TEST(RingBuffer, KeyedOperationsAreUnsupported) {
  auto rb = ring();
  ASSERT_TRUE(rb);
  std::uint32_t key = 0;
  EXPECT_EQ(rb->lookup(&key), nullptr);
  EXPECT_EQ(rb->update(&key, &key, 0), -524);  // ENOTSUPP
  EXPECT_EQ(rb->erase(&key), -524);
}

}  // namespace
}  // namespace bpfvm::test
