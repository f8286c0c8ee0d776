// The debug kernel's heap (core/mm/debug_heap.h): red zones, poison and the
// quarantine, over a real buddy allocator on a host buffer.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/mm/buddy.h"
#include "core/mm/debug_heap.h"

using namespace capsule;
using namespace capsule::mm;

namespace {

class Pages final : public PageSource {
 public:
  explicit Pages(size_t pages) : frames_(pages), mem_(pages * 4096 + 4096) {
    base_ = (reinterpret_cast<uintptr_t>(mem_.data()) + 4095) & ~uintptr_t(4095);
    buddy_.init(frames_.data(), pages);
    EXPECT_TRUE(buddy_.add_range(0, pages).ok());
  }
  Result<uintptr_t> alloc_pages(unsigned order) override {
    auto p = buddy_.alloc(order);
    if (!p) return p.error();
    return base_ + *p * 4096;
  }
  void free_pages(uintptr_t addr, unsigned order) override {
    EXPECT_TRUE(buddy_.free((addr - base_) / 4096, order).ok());
  }
  PageFrame* frames() override { return frames_.data(); }
  uint64_t frame_index(uintptr_t addr) override {
    if (addr < base_ || addr >= base_ + frames_.size() * 4096) return PFN_NONE;
    return (addr - base_) / 4096;
  }
  uintptr_t frame_address(uint64_t i) override { return base_ + i * 4096; }
  uint64_t free_pages() const { return buddy_.free_pages(); }

 private:
  std::vector<PageFrame> frames_;
  std::vector<unsigned char> mem_;
  uintptr_t base_;
  BuddyAllocator buddy_;
};

std::vector<DebugHeapError> g_errors;
uintptr_t g_next_trace = 0x1000;

size_t fake_trace(uintptr_t* out, size_t max, unsigned) {
  for (size_t i = 0; i < max; ++i) out[i] = g_next_trace + i;
  return max;
}

struct DebugHeapTest : ::testing::Test {
  Pages pages{1024};
  std::unique_ptr<DebugHeap> heap = std::make_unique<DebugHeap>();
  void SetUp() override {
    g_errors.clear();
    heap->init(&pages, {64 * 1024, fake_trace, [](const DebugHeapError& e) { g_errors.push_back(e); }});
  }
};

TEST_F(DebugHeapTest, PayloadsAreAlignedAndUsable) {
  std::vector<void*> v;
  for (size_t n : {1, 15, 16, 17, 100, 1000, 1920, 2000, 4096, 10000, 100000}) {
    auto* p = static_cast<uint8_t*>(heap->alloc(n));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    memset(p, 0x11, n);
    v.push_back(p);
  }
  for (void* p : v) heap->free(p);
  EXPECT_TRUE(g_errors.empty());
  EXPECT_EQ(heap->stats().objects_in_use, 0u);
}

TEST_F(DebugHeapTest, OverflowByOneIsReportedAtFree) {
  g_next_trace = 0x5000;
  auto* p = static_cast<uint8_t*>(heap->alloc(24));
  g_next_trace = 0x6000;
  p[24] = 0;  // one past the end
  heap->free(p);
  ASSERT_EQ(g_errors.size(), 1u);
  EXPECT_EQ(g_errors[0].fault, DebugHeapFault::Overflow);
  EXPECT_EQ(g_errors[0].offset, 24);
  EXPECT_EQ(g_errors[0].size, 24u);
  ASSERT_NE(g_errors[0].alloc, nullptr);
  EXPECT_EQ(g_errors[0].alloc[0], 0x5000u);  // the allocation's backtrace
}

TEST_F(DebugHeapTest, PageBlocksStayPageAlignedAndCatchOverflow) {
  for (size_t n : {2000, 4096, 5000, 65536}) {
    auto* p = static_cast<uint8_t*>(heap->alloc(n));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u) << n;
    p[n] = 1;
    heap->free(p);
    ASSERT_EQ(g_errors.size(), 1u) << n;
    EXPECT_EQ(g_errors[0].fault, DebugHeapFault::Overflow);
    EXPECT_EQ(g_errors[0].offset, long(n));
    g_errors.clear();
  }
}

TEST_F(DebugHeapTest, UnderflowIsReported) {
  auto* p = static_cast<uint8_t*>(heap->alloc(64));
  p[-1] = 0;
  heap->free(p);
  ASSERT_EQ(g_errors.size(), 1u);
  EXPECT_EQ(g_errors[0].fault, DebugHeapFault::Overflow);
  EXPECT_EQ(g_errors[0].offset, -1);
}

TEST_F(DebugHeapTest, WriteAfterFreeIsReportedWhenTheObjectLeavesTheQuarantine) {
  g_next_trace = 0x7000;
  auto* p = static_cast<uint8_t*>(heap->alloc(100));
  g_next_trace = 0x8000;
  heap->free(p);
  p[40] = 1;  // a write after free
  EXPECT_TRUE(g_errors.empty());  // still in the quarantine
  heap->drain();
  ASSERT_EQ(g_errors.size(), 1u);
  EXPECT_EQ(g_errors[0].fault, DebugHeapFault::UseAfterFree);
  EXPECT_EQ(g_errors[0].offset, 40);
  EXPECT_EQ(g_errors[0].alloc[0], 0x7000u);
  ASSERT_NE(g_errors[0].freed, nullptr);
  EXPECT_EQ(g_errors[0].freed[0], 0x8000u);
}

TEST_F(DebugHeapTest, DoubleFreeIsReportedWithBothBacktraces) {
  g_next_trace = 0x9000;
  void* p = heap->alloc(32);
  g_next_trace = 0xa000;
  heap->free(p);
  heap->free(p);
  ASSERT_EQ(g_errors.size(), 1u);
  EXPECT_EQ(g_errors[0].fault, DebugHeapFault::DoubleFree);
  EXPECT_EQ(g_errors[0].alloc[0], 0x9000u);
  EXPECT_EQ(g_errors[0].freed[0], 0xa000u);
}

TEST_F(DebugHeapTest, InvalidFreesAreReported) {
  auto* p = static_cast<uint8_t*>(heap->alloc(64));
  heap->free(p + 16);  // into the middle
  int local;
  heap->free(&local);  // not heap memory
  ASSERT_EQ(g_errors.size(), 2u);
  EXPECT_EQ(g_errors[0].fault, DebugHeapFault::InvalidFree);
  EXPECT_EQ(g_errors[1].fault, DebugHeapFault::InvalidFree);
  heap->free(p);
  EXPECT_EQ(g_errors.size(), 2u);
}

TEST_F(DebugHeapTest, QuarantineIsBoundedAndFifo) {
  // 64 KiB of quarantine: far more frees than that leave it in order,
  // each checked, and the memory is reused.
  uint64_t free0 = pages.free_pages();
  for (int i = 0; i < 5000; ++i) heap->free(heap->alloc(200));
  EXPECT_TRUE(g_errors.empty());
  EXPECT_LE(heap->debug_stats().quarantined_bytes, 64u * 1024);
  EXPECT_GT(heap->debug_stats().checked, 4000u);
  heap->drain();
  heap->trim();
  EXPECT_EQ(heap->debug_stats().quarantined, 0u);
  EXPECT_EQ(pages.free_pages(), free0);
}

TEST_F(DebugHeapTest, ExhaustionDrainsTheQuarantineFirst) {
  std::vector<void*> live;
  for (;;) {
    void* p = heap->alloc(3000);
    if (!p) break;
    live.push_back(p);
  }
  ASSERT_GT(live.size(), 10u);
  for (size_t i = 0; i < 10; ++i) heap->free(live[i]);
  // The freed chunks are quarantined, yet an allocation still succeeds.
  void* p = heap->alloc(3000);
  EXPECT_NE(p, nullptr);
  heap->free(p);
  for (size_t i = 10; i < live.size(); ++i) heap->free(live[i]);
  EXPECT_TRUE(g_errors.empty());
}

}  // namespace
