#include <gtest/gtest.h>

#include <vector>

#include "core/mm/memmap.h"

using namespace capsule;
using namespace capsule::mm;

namespace {

MemoryMap build(const std::vector<HvmMemmapEntry>& v) {
  auto r = MemoryMap::from_firmware(v.data(), v.size());
  EXPECT_TRUE(r.ok()) << error_name(r.error());
  return r.ok() ? r.value() : MemoryMap{};
}

std::vector<std::pair<uint64_t, uint64_t>> ranges(const MemoryMap& m) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const PhysRange& r : m) out.emplace_back(r.start, r.end);
  return out;
}

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(MemoryMap, QbootUnsortedWithZeroEntry) {
  // What qboot hands a 128 MiB microvm guest: not sorted, trailing zero entry.
  auto m = build({{0x100000, 0x7f00000, 1, 0},
                  {0xfeffc000, 0x4000, 2, 0},
                  {0x0, 0x9fc00, 1, 0},
                  {0x9fc00, 0x400, 2, 0},
                  {0, 0, 0, 0}});
  EXPECT_EQ(ranges(m), (Ranges{{0, 0x9f000}, {0x100000, 0x8000000}}));
  EXPECT_EQ(m.total_bytes(), 0x9f000u + 0x7f00000u);
  EXPECT_EQ(m.highest_end(), 0x8000000u);
}

TEST(MemoryMap, EmptyAndZeroEntriesOnly) {
  std::vector<HvmMemmapEntry> v = {{0, 0, 0, 0}, {0x5000, 0, 1, 0}};
  auto r = MemoryMap::from_firmware(v.data(), v.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().count(), 0u);
}

TEST(MemoryMap, ReservedWinsOverOverlappingRam) {
  auto m = build({{0x0, 0x400000, 1, 0}, {0x200800, 0x1000, 2, 0}});
  // The reserved range covers parts of two pages: both are lost.
  EXPECT_EQ(ranges(m), (Ranges{{0, 0x200000}, {0x202000, 0x400000}}));
  // Order does not matter.
  auto m2 = build({{0x200800, 0x1000, 2, 0}, {0x0, 0x400000, 1, 0}});
  EXPECT_EQ(ranges(m2), ranges(m));
}

TEST(MemoryMap, OverlappingAndAdjacentRamMerges) {
  auto m = build({{0x300000, 0x100000, 1, 0},
                  {0x100000, 0x180000, 1, 0},
                  {0x200000, 0x100000, 1, 0},
                  {0x280000, 0x10000, 1, 0}});
  EXPECT_EQ(ranges(m), (Ranges{{0x100000, 0x400000}}));
}

TEST(MemoryMap, RamAlignedInward) {
  auto m = build({{0x1234, 0x5000, 1, 0}, {0x10000, 0x800, 1, 0}});
  EXPECT_EQ(ranges(m), (Ranges{{0x2000, 0x6000}}));
}

TEST(MemoryMap, AcpiAndNonRamTypesAreNotUsable) {
  auto m = build({{0x0, 0x100000, 3, 0}, {0x100000, 0x100000, 4, 0}, {0x200000, 0x1000, 5, 0}});
  EXPECT_EQ(m.count(), 0u);
}

TEST(MemoryMap, CarveOutsSplitAndTrim) {
  auto m = build({{0x0, 0x9fc00, 1, 0}, {0x100000, 0x7f00000, 1, 0}});
  ASSERT_TRUE(m.reserve(0, 0x100000).ok());             // first MiB
  ASSERT_TRUE(m.reserve(0x100000, 0x180123).ok());      // kernel image, rounded out
  ASSERT_TRUE(m.reserve(0x7000000, 0x7400000).ok());    // an initrd in the middle
  ASSERT_TRUE(m.reserve(0x7fff000, 0x9000000).ok());    // past the end
  ASSERT_TRUE(m.reserve(0x20000000, 0x20001000).ok());  // outside RAM: no-op
  EXPECT_EQ(ranges(m), (Ranges{{0x181000, 0x7000000}, {0x7400000, 0x7fff000}}));
}

TEST(MemoryMap, ReserveEverything) {
  auto m = build({{0x0, 0x100000, 1, 0}, {0x200000, 0x100000, 1, 0}});
  ASSERT_TRUE(m.reserve(0, ~uint64_t(0)).ok());
  EXPECT_EQ(m.count(), 0u);
}

TEST(MemoryMap, TooManyEntriesIsAnErrorNotAnOverflow) {
  std::vector<HvmMemmapEntry> v;
  for (size_t i = 0; i < MEMMAP_MAX + 1; ++i) v.push_back({i * 0x2000, 0x1000, 1, 0});
  auto r = MemoryMap::from_firmware(v.data(), v.size());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::TooBig);
  v.pop_back();
  auto ok = MemoryMap::from_firmware(v.data(), v.size());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().count(), MEMMAP_MAX);
}

TEST(MemoryMap, SplitBeyondCapacityIsAnError) {
  std::vector<HvmMemmapEntry> v;
  for (size_t i = 0; i < MEMMAP_MAX; ++i) v.push_back({i * 0x10000, 0x8000, 1, 0});
  auto m = build(v);
  ASSERT_EQ(m.count(), MEMMAP_MAX);
  EXPECT_EQ(m.reserve(0x2000, 0x3000).error(), Error::TooBig);
  EXPECT_EQ(m.count(), MEMMAP_MAX);  // nothing half-done
}

TEST(MemoryMap, WrappingEntryIsInvalid) {
  std::vector<HvmMemmapEntry> v = {{0xfffffffffffff000ull, 0x2000, 1, 0}};
  EXPECT_EQ(MemoryMap::from_firmware(v.data(), v.size()).error(), Error::Invalid);
}

TEST(MemoryMap, RamAbove4GiB) {
  // q35 with 3 GiB: 2 GiB low, 1 GiB above the 32-bit hole.
  auto m = build({{0x0, 0x9fc00, 1, 0},
                  {0xf0000, 0x10000, 2, 0},
                  {0x100000, 0x7ff00000, 1, 0},
                  {0xb0000000, 0x10000000, 2, 0},
                  {0x100000000ull, 0x40000000, 1, 0}});
  EXPECT_EQ(ranges(m), (Ranges{{0, 0x9f000}, {0x100000, 0x80000000}, {0x100000000ull, 0x140000000ull}}));
}

TEST(MemoryMap, FindFree) {
  auto m = build({{0x0, 0x9fc00, 1, 0}, {0x100000, 0x7f00000, 1, 0}});
  EXPECT_EQ(m.find_free(0x10000, 0x100000, 0x40000000).value(), 0x100000u);
  EXPECT_EQ(m.find_free(0x1000, 0x9e000, 0x40000000).value(), 0x9e000u);
  EXPECT_EQ(m.find_free(0x2000, 0x9e000, 0x40000000).value(), 0x100000u);
  EXPECT_EQ(m.find_free(0x10000000, 0, ~uint64_t(0)).error(), Error::NoMemory);
}

}  // namespace
