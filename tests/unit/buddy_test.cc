#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "core/mm/buddy.h"

using namespace capsule;
using namespace capsule::mm;

namespace {

struct Fixture {
  std::vector<PageFrame> frames;
  BuddyAllocator b;
  explicit Fixture(uint64_t n) : frames(n) { b.init(frames.data(), n); }
};

TEST(Buddy, AddRangeMakesMaximalAlignedBlocks) {
  Fixture f(4096);
  ASSERT_TRUE(f.b.add_range(0, 2048).ok());
  EXPECT_EQ(f.b.free_pages(), 2048u);
  EXPECT_EQ(f.b.free_blocks(MAX_ORDER), 2u);
  // An unaligned range: 3..1029 -> 1 + 4 + 8 + ... pieces, all aligned.
  Fixture g(4096);
  ASSERT_TRUE(g.b.add_range(3, 1029).ok());
  EXPECT_EQ(g.b.free_pages(), 1026u);
  EXPECT_EQ(g.b.free_blocks(MAX_ORDER), 0u);
}

// A range added after allocations (the first MiB, given after boot) keeps
// the peak in use (managed - min_free) what it was.
TEST(Buddy, AddRangeLaterKeepsThePeak) {
  Fixture f(4096);
  ASSERT_TRUE(f.b.add_range(1024, 2048).ok());
  auto a = f.b.alloc(4);
  ASSERT_TRUE(a.ok());
  const uint64_t peak = f.b.managed_pages() - f.b.min_free_pages();
  EXPECT_EQ(peak, 16u);
  ASSERT_TRUE(f.b.add_range(16, 256).ok());
  EXPECT_EQ(f.b.managed_pages() - f.b.min_free_pages(), peak);
  EXPECT_EQ(f.b.free_pages(), 1024u - 16u + 240u);
  ASSERT_TRUE(f.b.free(*a, 4).ok());
}

TEST(Buddy, SplitAndCoalesceBackToTheOriginalBlock) {
  Fixture f(1024);
  ASSERT_TRUE(f.b.add_range(0, 1024).ok());
  auto a = f.b.alloc(0);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(f.b.free_pages(), 1023u);
  EXPECT_EQ(f.b.free_blocks(MAX_ORDER), 0u);
  for (unsigned o = 0; o < MAX_ORDER; ++o) EXPECT_EQ(f.b.free_blocks(o), 1u) << o;
  ASSERT_TRUE(f.b.free(*a, 0).ok());
  EXPECT_EQ(f.b.free_pages(), 1024u);
  EXPECT_EQ(f.b.free_blocks(MAX_ORDER), 1u);
  for (unsigned o = 0; o < MAX_ORDER; ++o) EXPECT_EQ(f.b.free_blocks(o), 0u) << o;
}

TEST(Buddy, OrderNBlocksAreAligned) {
  Fixture f(8192);
  ASSERT_TRUE(f.b.add_range(5, 8000).ok());
  for (unsigned o = 0; o <= MAX_ORDER; ++o) {
    auto p = f.b.alloc(o);
    ASSERT_TRUE(p.ok()) << o;
    EXPECT_EQ(*p & ((1u << o) - 1), 0u) << "order " << o << " pfn " << *p;
  }
}

TEST(Buddy, ExhaustionIsNoMemory) {
  Fixture f(64);
  ASSERT_TRUE(f.b.add_range(0, 64).ok());
  EXPECT_EQ(f.b.alloc(7).error(), Error::NoMemory);  // bigger than everything
  std::vector<uint64_t> got;
  for (;;) {
    auto p = f.b.alloc(0);
    if (!p) {
      EXPECT_EQ(p.error(), Error::NoMemory);
      break;
    }
    got.push_back(*p);
  }
  EXPECT_EQ(got.size(), 64u);
  EXPECT_EQ(f.b.free_pages(), 0u);
  for (uint64_t p : got) ASSERT_TRUE(f.b.free(p, 0).ok());
  EXPECT_EQ(f.b.free_pages(), 64u);
  EXPECT_EQ(f.b.free_blocks(6), 1u);
  EXPECT_EQ(f.b.alloc(MAX_ORDER + 1).error(), Error::Invalid);
}

TEST(Buddy, BadFreesAreRejectedAndChangeNothing) {
  Fixture f(1024);
  ASSERT_TRUE(f.b.add_range(0, 1024).ok());
  auto a = f.b.alloc(2);
  ASSERT_TRUE(a.ok());
  uint64_t before = f.b.free_pages();
  EXPECT_EQ(f.b.free(*a, 1).error(), Error::Invalid);      // wrong order
  EXPECT_EQ(f.b.free(*a + 1, 0).error(), Error::Invalid);  // inside the block
  EXPECT_EQ(f.b.free(5000, 0).error(), Error::Invalid);    // beyond the array
  EXPECT_EQ(f.b.free_pages(), before);
  ASSERT_TRUE(f.b.free(*a, 2).ok());
  EXPECT_EQ(f.b.free(*a, 2).error(), Error::Invalid);      // double free
  EXPECT_EQ(f.b.free_pages(), 1024u);
  EXPECT_EQ(f.b.free_blocks(MAX_ORDER), 1u);
}

TEST(Buddy, DisjointZonesNeverMerge) {
  Fixture f(8192);
  ASSERT_TRUE(f.b.add_range(0, 1000).ok());
  ASSERT_TRUE(f.b.add_range(4096, 4096 + 1024).ok());
  EXPECT_EQ(f.b.free_pages(), 2024u);
  EXPECT_EQ(f.b.add_range(500, 600).error(), Error::Exists);
  // Everything allocated lies in one of the zones.
  std::vector<uint64_t> got;
  while (auto p = f.b.alloc(0)) {
    uint64_t v = *p;
    EXPECT_TRUE(v < 1000 || (v >= 4096 && v < 5120)) << v;
    got.push_back(v);
  }
  EXPECT_EQ(got.size(), 2024u);
  for (uint64_t p : got) ASSERT_TRUE(f.b.free(p, 0).ok());
  EXPECT_EQ(f.b.free_pages(), 2024u);
  EXPECT_EQ(f.b.free_blocks(MAX_ORDER), 1u);  // only the second zone holds a 4 MiB block
}

TEST(Buddy, RandomStressAgainstAModel) {
  constexpr uint64_t N = 20000;
  Fixture f(N);
  ASSERT_TRUE(f.b.add_range(7, 9000).ok());
  ASSERT_TRUE(f.b.add_range(9100, N).ok());
  const uint64_t total = f.b.free_pages();
  std::vector<uint64_t> initial_blocks;
  for (unsigned o = 0; o <= MAX_ORDER; ++o) initial_blocks.push_back(f.b.free_blocks(o));

  std::mt19937_64 rng(12345);
  std::map<uint64_t, unsigned> live;   // pfn -> order
  std::vector<int> owner(N, -1);       // model: which allocation holds each page
  uint64_t used = 0;
  for (int step = 0; step < 200000; ++step) {
    bool do_alloc = live.empty() || (rng() % 100) < 55;
    if (do_alloc) {
      unsigned order = unsigned(rng() % 100 < 70 ? rng() % 3 : rng() % (MAX_ORDER + 1));
      auto p = f.b.alloc(order);
      if (!p) {
        ASSERT_EQ(p.error(), Error::NoMemory);
        continue;
      }
      uint64_t pfn = *p;
      ASSERT_EQ(pfn & ((1u << order) - 1), 0u);
      for (uint64_t i = pfn; i < pfn + (1u << order); ++i) {
        ASSERT_LT(i, N);
        ASSERT_EQ(owner[i], -1) << "page " << i << " handed out twice";
        ASSERT_FALSE(i < 7 || (i >= 9000 && i < 9100)) << "page outside the zones: " << i;
        owner[i] = int(pfn);
      }
      live[pfn] = order;
      used += 1u << order;
    } else {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      for (uint64_t i = it->first; i < it->first + (1u << it->second); ++i) owner[i] = -1;
      ASSERT_TRUE(f.b.free(it->first, it->second).ok());
      used -= 1u << it->second;
      live.erase(it);
    }
    ASSERT_EQ(f.b.free_pages(), total - used);
  }
  for (auto [pfn, order] : live) ASSERT_TRUE(f.b.free(pfn, order).ok());
  EXPECT_EQ(f.b.free_pages(), total);
  for (unsigned o = 0; o <= MAX_ORDER; ++o) EXPECT_EQ(f.b.free_blocks(o), initial_blocks[o]) << o;
}

}  // namespace
