// The page cache's eviction (fs/vfs/page_cache.cc, docs/vfs.md "Page cache
// eviction"): which files give pages, in what order, and what is skipped;
// ext4's files (fs/ext4/node.cc) read the same bytes after losing them.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "fs/vfs/page_cache.h"

namespace capsule {
namespace {

// A file holding `pages` pages; its page lock is a std::mutex.
struct FakeFile final : vfs::Evictable {
  explicit FakeFile(size_t n) : pages(n) {}
  ~FakeFile() { vfs::page_cache_forget(*this); }
  bool evict_try_lock() override { return m.try_lock(); }
  void evict_unlock() override { m.unlock(); }
  size_t evict_locked(size_t want, bool* now_empty) override {
    size_t k = pinned ? 0 : (want < pages ? want : pages);
    pages -= k;
    calls.push_back(k);
    *now_empty = pages == 0;
    return k;
  }
  size_t pages;
  bool pinned = false;
  std::mutex m;
  std::vector<size_t> calls;
};

// Drains whatever other tests left on the (global) list.
void drain() {
  while (vfs::page_cache_reclaim(1 << 30)) {
  }
}

TEST(PageCache, LeastRecentlyUsedFilesGoFirst) {
  drain();
  FakeFile a(10), b(10), c(10);
  vfs::page_cache_touch(a);
  vfs::page_cache_touch(b);
  vfs::page_cache_touch(c);
  vfs::page_cache_touch(a);  // a is now the most recently used
  EXPECT_EQ(vfs::page_cache_reclaim(4), 4u);
  EXPECT_EQ(b.pages, 6u);
  EXPECT_EQ(c.pages, 10u);
  EXPECT_EQ(a.pages, 10u);
  // b went to the back: the next reclaim takes c, then a, then b.
  EXPECT_EQ(vfs::page_cache_reclaim(25), 25u);
  EXPECT_EQ(c.pages, 0u);
  EXPECT_EQ(a.pages, 0u);
  EXPECT_EQ(b.pages, 1u);
  // Emptied files left the list: only b is asked now.
  c.calls.clear();
  EXPECT_EQ(vfs::page_cache_reclaim(5), 1u);
  EXPECT_TRUE(c.calls.empty());
  EXPECT_EQ(vfs::page_cache_reclaim(5), 0u);
}

TEST(PageCache, BusyAndPinnedFilesAreSkipped) {
  drain();
  FakeFile a(8), b(8), c(8);
  vfs::page_cache_touch(a);
  vfs::page_cache_touch(b);
  vfs::page_cache_touch(c);
  a.m.lock();  // another thread uses it: not waited for
  b.pinned = true;  // dirty or in a write
  EXPECT_EQ(vfs::page_cache_reclaim(20), 8u);
  EXPECT_EQ(a.pages, 8u);
  EXPECT_EQ(b.pages, 8u);
  EXPECT_EQ(c.pages, 0u);
  // The caller's own file, whose lock it holds, is evicted without the lock.
  EXPECT_EQ(vfs::page_cache_reclaim(3, &a), 3u);
  EXPECT_EQ(a.pages, 5u);
  a.m.unlock();
  b.pinned = false;
  EXPECT_EQ(vfs::page_cache_reclaim(100), 13u);
}

TEST(PageCache, ForgottenFilesAreNeverAsked) {
  drain();
  FakeFile a(4);
  {
    FakeFile gone(4);
    vfs::page_cache_touch(gone);
    vfs::page_cache_touch(a);
  }  // its destructor took it off the list
  EXPECT_EQ(vfs::page_cache_reclaim(100), 4u);
  EXPECT_EQ(a.pages, 0u);
}

TEST(PageCache, CountsWhatItFreed) {
  drain();
  uint64_t before = vfs::page_cache_evicted();
  FakeFile a(7);
  vfs::page_cache_touch(a);
  EXPECT_EQ(vfs::page_cache_reclaim(100), 7u);
  EXPECT_EQ(vfs::page_cache_evicted() - before, 7u);
}

}  // namespace
}  // namespace capsule
