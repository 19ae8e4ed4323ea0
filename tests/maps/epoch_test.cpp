// The epoch reclaimer: nothing retired is freed while a thread pinned before the retirement
// is still pinned; everything is freed once all have left.
#include "maps/epoch.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace bpfvm::maps::epoch {
namespace {

std::atomic<int> freed{0};
void count_free(void* p) {
  delete static_cast<int*>(p);
  freed.fetch_add(1);
}

void drain() {
  for (int i = 0; i < 100; ++i) collect();
}

TEST(Epoch, RetiredObjectsWaitForPinnedReaders) {
  drain();
  freed = 0;
  std::mutex m;
  std::condition_variable cv;
  bool reader_pinned = false;
  bool release_reader = false;
  std::thread reader([&] {
    Guard guard;
    std::unique_lock lock(m);
    reader_pinned = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release_reader; });
  });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return reader_pinned; });
  }
  for (int i = 0; i < 10; ++i) retire(new int(i), count_free);
  drain();
  EXPECT_EQ(freed.load(), 0) << "a reader pinned before retirement is still inside";
  {
    std::lock_guard lock(m);
    release_reader = true;
  }
  cv.notify_all();
  reader.join();
  drain();
  EXPECT_EQ(freed.load(), 10);
}

TEST(Epoch, NestedPinsCountAndObjectsRetiredLaterAreFreedLater) {
  drain();
  freed = 0;
  pin();
  pin();
  EXPECT_TRUE(pinned());
  unpin();
  EXPECT_TRUE(pinned());
  retire(new int(1), count_free);
  drain();
  EXPECT_EQ(freed.load(), 0) << "this thread is still pinned";
  unpin();
  EXPECT_FALSE(pinned());
  drain();
  EXPECT_EQ(freed.load(), 1);
}

TEST(Epoch, ExitingThreadsHandOverWhatTheyRetired) {
  drain();
  freed = 0;
  std::thread([] {
    Guard guard;
    retire(new int(5), count_free);
  }).join();
  drain();
  EXPECT_EQ(freed.load(), 1);
}

}  // namespace
}  // namespace bpfvm::maps::epoch
