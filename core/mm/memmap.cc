#include "core/mm/memmap.h"

namespace capsule::mm {
namespace {

constexpr uint64_t PAGE = 4096;
constexpr uint64_t align_down(uint64_t v) { return v & ~(PAGE - 1); }
// Rounds up, saturating at the last page boundary instead of wrapping to 0.
constexpr uint64_t align_up(uint64_t v) {
  return v > ~uint64_t(0) - (PAGE - 1) ? ~(PAGE - 1) : (v + PAGE - 1) & ~(PAGE - 1);
}

}  // namespace

Result<MemoryMap> MemoryMap::from_firmware(const HvmMemmapEntry* entries, size_t count) {
  if (count > MEMMAP_MAX) return Error::TooBig;
  for (size_t i = 0; i < count; ++i)
    if (entries[i].addr + entries[i].size < entries[i].addr) return Error::Invalid;

  // Union of the RAM entries (the firmware's order does not matter: add()
  // keeps the list sorted; qboot's trailing all-zero entry has size 0).
  MemoryMap m;
  for (size_t i = 0; i < count; ++i) {
    const HvmMemmapEntry& e = entries[i];
    if (e.type == E820_RAM && e.size) TRY(m.add(e.addr, e.addr + e.size));
  }
  // Then every non-RAM entry wins over RAM it overlaps, widened to pages.
  for (size_t i = 0; i < count; ++i) {
    const HvmMemmapEntry& e = entries[i];
    if (e.type != E820_RAM && e.size) TRY(m.reserve(e.addr, e.addr + e.size));
  }
  // RAM shrinks inward to whole pages; slivers disappear.
  for (size_t i = 0; i < m.count_;) {
    PhysRange& r = m.ranges_[i];
    r.start = align_up(r.start);
    r.end = align_down(r.end);
    if (r.end <= r.start) {
      m.erase_at(i);
    } else {
      ++i;
    }
  }
  return m;
}

Result<void> MemoryMap::insert_at(size_t i, PhysRange r) {
  if (count_ == MEMMAP_MAX) return Error::TooBig;
  for (size_t j = count_; j > i; --j) ranges_[j] = ranges_[j - 1];
  ranges_[i] = r;
  ++count_;
  return {};
}

void MemoryMap::erase_at(size_t i) {
  for (size_t j = i + 1; j < count_; ++j) ranges_[j - 1] = ranges_[j];
  --count_;
}

Result<void> MemoryMap::add(uint64_t start, uint64_t end) {
  if (end <= start) return {};
  // Find the first range that ends at or after `start` (touching counts:
  // neighbours merge), then swallow every range that starts at or before `end`.
  size_t i = 0;
  while (i < count_ && ranges_[i].end < start) ++i;
  if (i == count_ || ranges_[i].start > end) return insert_at(i, {start, end});
  PhysRange& r = ranges_[i];
  if (start < r.start) r.start = start;
  if (end > r.end) r.end = end;
  while (i + 1 < count_ && ranges_[i + 1].start <= r.end) {
    if (ranges_[i + 1].end > r.end) r.end = ranges_[i + 1].end;
    erase_at(i + 1);
  }
  return {};
}

Result<void> MemoryMap::reserve(uint64_t start, uint64_t end) {
  if (end <= start) return {};
  start = align_down(start);
  end = align_up(end);
  for (size_t i = 0; i < count_;) {
    PhysRange& r = ranges_[i];
    if (r.end <= start || r.start >= end) {
      ++i;
    } else if (start <= r.start && end >= r.end) {
      erase_at(i);
    } else if (start > r.start && end < r.end) {
      // A hole in the middle: split in two.
      PhysRange right{end, r.end};
      TRY(insert_at(i + 1, right));
      ranges_[i].end = start;
      i += 2;
    } else if (start <= r.start) {
      r.start = end;
      ++i;
    } else {
      r.end = start;
      ++i;
    }
  }
  return {};
}

uint64_t MemoryMap::total_bytes() const {
  uint64_t n = 0;
  for (const PhysRange& r : *this) n += r.size();
  return n;
}

Result<uint64_t> MemoryMap::find_free(uint64_t size, uint64_t lo, uint64_t hi) const {
  for (const PhysRange& r : *this) {
    uint64_t s = align_up(r.start > lo ? r.start : lo);
    uint64_t e = r.end < hi ? r.end : hi;
    if (e > s && e - s >= size) return s;
  }
  return Error::NoMemory;
}

}  // namespace capsule::mm
