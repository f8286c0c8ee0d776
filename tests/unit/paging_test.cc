#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "arch/x64/mm/paging.h"

using namespace capsule;
using namespace capsule::x64;

namespace {

// Page tables in host memory, "physical" addresses handed out by a counter.
class FakeTables final : public TableMemory {
 public:
  Result<uint64_t> alloc_table() override {
    if (limit_ && tables_.size() >= limit_) return Error::NoMemory;
    uint64_t pa = next_;
    next_ += 0x1000;
    tables_[pa] = std::make_unique<uint64_t[]>(512);
    return pa;
  }
  uint64_t* table(uint64_t phys) override { return tables_.at(phys).get(); }
  size_t count() const { return tables_.size(); }
  size_t limit_ = 0;

 private:
  uint64_t next_ = 0x100000;
  std::map<uint64_t, std::unique_ptr<uint64_t[]>> tables_;
};

constexpr uintptr_t KVA = 0xffffffff80000000ull;

TEST(Paging, Map4KAndTranslate) {
  FakeTables t;
  uint64_t root = t.alloc_table().value();
  ASSERT_TRUE(map_page(t, root, KVA + 0x100000, 0x100000, PageSize::Size4K, 0).ok());
  auto tr = translate(t, root, KVA + 0x100123);
  EXPECT_TRUE(tr.present);
  EXPECT_EQ(tr.phys, 0x100123u);
  EXPECT_FALSE(tr.writable);
  EXPECT_TRUE(tr.executable);
  EXPECT_EQ(tr.size, PageSize::Size4K);
  EXPECT_EQ(t.count(), 4u);  // PML4, PDPT, PD, PT
  EXPECT_FALSE(translate(t, root, KVA + 0x101000).present);
  EXPECT_FALSE(translate(t, root, 0).present);
}

TEST(Paging, HugePagesAndPermissions) {
  FakeTables t;
  uint64_t root = t.alloc_table().value();
  uintptr_t dm = 0xffff800000000000ull;
  ASSERT_TRUE(map_page(t, root, dm, 0, PageSize::Size1G, PTE_WRITE | PTE_NX).ok());
  ASSERT_TRUE(map_page(t, root, dm + (1ull << 30), 1ull << 30, PageSize::Size2M, PTE_WRITE | PTE_NX).ok());
  auto a = translate(t, root, dm + 0x12345678);
  EXPECT_TRUE(a.present);
  EXPECT_EQ(a.size, PageSize::Size1G);
  EXPECT_EQ(a.phys, 0x12345678u);
  EXPECT_TRUE(a.writable);
  EXPECT_FALSE(a.executable);
  auto b = translate(t, root, dm + (1ull << 30) + 0x1fffff);
  EXPECT_EQ(b.size, PageSize::Size2M);
  EXPECT_EQ(b.phys, (1ull << 30) + 0x1fffff);
  EXPECT_FALSE(translate(t, root, dm + (1ull << 30) + 0x200000).present);
}

TEST(Paging, ConflictsAndMisalignment) {
  FakeTables t;
  uint64_t root = t.alloc_table().value();
  ASSERT_TRUE(map_page(t, root, 0x200000, 0x200000, PageSize::Size2M, 0).ok());
  EXPECT_EQ(map_page(t, root, 0x201000, 0x5000, PageSize::Size4K, 0).error(), Error::Exists);
  EXPECT_EQ(map_page(t, root, 0x200000, 0x5000, PageSize::Size2M, 0).error(), Error::Invalid);
  EXPECT_EQ(map_page(t, root, 0x200000, 0x400000, PageSize::Size2M, 0).error(), Error::Exists);
  EXPECT_EQ(map_page(t, root, 0x1001, 0x1000, PageSize::Size4K, 0).error(), Error::Invalid);
}

TEST(Paging, MapRangePicksLargestPages) {
  FakeTables t;
  uint64_t root = t.alloc_table().value();
  // 4 KiB up to the 2 MiB boundary, 2 MiB pages up to 1 GiB, then a 1 GiB page.
  ASSERT_TRUE(map_range(t, root, 0x1ff000, 0x1ff000, (2ull << 30) - 0x1ff000, PTE_WRITE, PageSize::Size1G).ok());
  EXPECT_EQ(translate(t, root, 0x1ff000).size, PageSize::Size4K);
  EXPECT_EQ(translate(t, root, 0x200000).size, PageSize::Size2M);
  EXPECT_EQ(translate(t, root, 1ull << 30).size, PageSize::Size1G);
  EXPECT_EQ(translate(t, root, (1ull << 30) + 5).phys, (1ull << 30) + 5);
  FakeTables u;
  uint64_t r2 = u.alloc_table().value();
  ASSERT_TRUE(map_range(u, r2, 0, 0, 1ull << 30, PTE_WRITE, PageSize::Size2M).ok());
  EXPECT_EQ(translate(u, r2, 0x40000000 - 1).size, PageSize::Size2M);
}

TEST(Paging, UncachedAndUnmap) {
  FakeTables t;
  uint64_t root = t.alloc_table().value();
  uintptr_t va = 0xffffc00000000000ull;
  ASSERT_TRUE(map_page(t, root, va, 0xfea00000, PageSize::Size4K, PTE_WRITE | PTE_PCD | PTE_PWT | PTE_NX).ok());
  EXPECT_TRUE(translate(t, root, va + 0x200).uncached);
  EXPECT_EQ(translate(t, root, va + 0x200).phys, 0xfea00200u);
  ASSERT_TRUE(unmap_page(t, root, va).ok());
  EXPECT_FALSE(translate(t, root, va).present);
  EXPECT_EQ(unmap_page(t, root, va).error(), Error::NotFound);
}

TEST(Paging, TableExhaustionIsNoMemory) {
  FakeTables t;
  t.limit_ = 2;
  uint64_t root = t.alloc_table().value();
  EXPECT_EQ(map_page(t, root, 0x1000, 0x1000, PageSize::Size4K, 0).error(), Error::NoMemory);
}

TEST(Paging, PteLookupAndCreate) {
  FakeTables t;
  uint64_t root = t.alloc_table().value();
  uint64_t span = 0;
  EXPECT_EQ(pte_lookup(t, root, 0x400000, &span), nullptr);
  EXPECT_EQ(span, 1ull << 39);  // the whole PML4 slot is empty
  uint64_t* e = pte_create(t, root, 0x400000).value();
  *e = 0x5000 | PTE_PRESENT | PTE_WRITE;
  EXPECT_EQ(pte_lookup(t, root, 0x400000, &span), e);
  EXPECT_EQ(translate(t, root, 0x400010).phys, 0x5010u);
  EXPECT_EQ(pte_create(t, root, 0x400000).value(), e);  // no new tables
  EXPECT_EQ(pte_lookup(t, root, 0x401000, &span), e + 1);
  EXPECT_EQ(pte_lookup(t, root, 0x600000, &span), nullptr);
  EXPECT_EQ(span, 1ull << 21);  // only the PT is missing
  ASSERT_TRUE(map_page(t, root, 0x40000000, 0x40000000, PageSize::Size2M, 0).ok());
  EXPECT_EQ(pte_create(t, root, 0x40001000).error(), Error::Exists);
  EXPECT_EQ(pte_lookup(t, root, 0x40001000, &span), nullptr);
}

}  // namespace
