#pragma once
// Buddy allocator over page frame numbers.
//
// Blocks of 2^order pages (order 0..MAX_ORDER), each aligned to its own size
// in pfn space, so a block's buddy is pfn ^ (1 << order). Free blocks sit on
// one intrusive, doubly linked list per order (links in PageFrame), so
// removing a buddy during coalescing is O(1). The allocator manages any
// number of disjoint ranges ("zones"): pages outside them stay
// FrameState::Reserved and never coalesce.
//
// Errors are values: exhaustion is Error::NoMemory; freeing a page that is
// not the head of an allocated block of that order (double free, wrong
// order, foreign page) is Error::Invalid and changes nothing. The kernel
// wrapper (page_free) turns that into a panic; tests check it directly.
//
// Not thread-safe: the caller holds the lock (core/mm/mm.cc).
#include <cstddef>
#include <cstdint>

#include "core/mm/page_frame.h"
#include "lib/result.h"

namespace capsule::mm {

constexpr unsigned MAX_ORDER = 10;  // 4 MiB blocks

class BuddyAllocator {
 public:
  // `frames` covers pfns [0, frame_count); every frame starts Reserved.
  void init(PageFrame* frames, uint64_t frame_count);

  // Hands the pages [first, end) to the allocator as free memory. Ranges
  // must not overlap (Error::Exists); at most MAX_ZONES (Error::TooBig).
  Result<void> add_range(uint64_t first_pfn, uint64_t end_pfn);
  static constexpr size_t MAX_ZONES = 128;

  Result<uint64_t> alloc(unsigned order);
  Result<void> free(uint64_t pfn, unsigned order);

  uint64_t free_pages() const { return free_pages_; }
  uint64_t managed_pages() const { return managed_pages_; }
  // The fewest free pages there have been after an allocation (the peak
  // use is managed_pages() minus this; --stats). managed_pages() before any.
  uint64_t min_free_pages() const { return min_free_pages_ < managed_pages_ ? min_free_pages_ : managed_pages_; }
  uint64_t free_blocks(unsigned order) const { return order <= MAX_ORDER ? counts_[order] : 0; }
  PageFrame* frames() const { return frames_; }
  uint64_t frame_count() const { return frame_count_; }

 private:
  void push(uint64_t pfn, unsigned order);
  void unlink(uint64_t pfn, unsigned order);

  PageFrame* frames_ = nullptr;
  uint64_t frame_count_ = 0;
  uint32_t heads_[MAX_ORDER + 1];
  uint64_t counts_[MAX_ORDER + 1];
  uint64_t zones_[MAX_ZONES][2];
  size_t zone_count_ = 0;
  uint64_t free_pages_ = 0;
  uint64_t managed_pages_ = 0;
  uint64_t min_free_pages_ = UINT64_MAX;
};

}  // namespace capsule::mm
