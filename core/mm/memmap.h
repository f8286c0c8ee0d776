#pragma once
// The physical memory map: the firmware's list (PVH hvm_memmap_table_entry,
// e820 types) turned into sorted, page-aligned, disjoint ranges of usable RAM,
// with the ranges the kernel must not hand out carved away.
//
// Pure logic: compiled into the kernel and into the host unit tests.
#include <cstddef>
#include <cstdint>

#include "arch/boot.h"
#include "lib/result.h"

namespace capsule::mm {

constexpr uint32_t E820_RAM = 1;
constexpr uint32_t E820_ACPI = 3;
constexpr uint32_t E820_NVS = 4;

// Firmware maps are short (qboot: 4-6 entries, SeaBIOS: < 20). A longer one is
// rejected rather than truncated: silently dropping RAM or, worse, a reserved
// range would be a bug that shows up much later.
constexpr size_t MEMMAP_MAX = 128;

struct PhysRange {
  uint64_t start;  // inclusive, page aligned
  uint64_t end;    // exclusive, page aligned
  uint64_t size() const { return end - start; }
};

class MemoryMap {
 public:
  // Sorts, drops empty entries, lets reserved ranges win over RAM where they
  // overlap, aligns RAM inward to pages and merges neighbours.
  // Error::TooBig: more than MEMMAP_MAX entries (or ranges after splitting);
  // Error::Invalid: an entry wraps around the 64-bit address space.
  static Result<MemoryMap> from_firmware(const HvmMemmapEntry* entries, size_t count);

  // Removes [start, end) from the usable ranges; widened outward to pages.
  // Error::TooBig if a split would need more than MEMMAP_MAX ranges.
  Result<void> reserve(uint64_t start, uint64_t end);

  // Adds a range (used by tests and for the "also map" list of the direct map).
  Result<void> add(uint64_t start, uint64_t end);

  size_t count() const { return count_; }
  const PhysRange& operator[](size_t i) const { return ranges_[i]; }
  const PhysRange* begin() const { return ranges_; }
  const PhysRange* end() const { return ranges_ + count_; }
  uint64_t total_bytes() const;
  uint64_t highest_end() const { return count_ ? ranges_[count_ - 1].end : 0; }

  // First page-aligned range of `size` bytes wholly inside [lo, hi), or
  // Error::NoMemory. Does not reserve it.
  Result<uint64_t> find_free(uint64_t size, uint64_t lo, uint64_t hi) const;

 private:
  Result<void> insert_at(size_t i, PhysRange r);
  void erase_at(size_t i);

  PhysRange ranges_[MEMMAP_MAX];
  size_t count_ = 0;
};

}  // namespace capsule::mm
