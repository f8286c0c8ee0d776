#include "core/mm/buddy.h"

namespace capsule::mm {

void BuddyAllocator::init(PageFrame* frames, uint64_t frame_count) {
  frames_ = frames;
  frame_count_ = frame_count;
  // All zero is FrameState::Reserved, HeapKind::None. One memset: this runs
  // over every page of RAM at boot, where each store costs (under TCG).
  static_assert(FrameState::Reserved == FrameState{0} && HeapKind::None == HeapKind{0});
  __builtin_memset(static_cast<void*>(frames_), 0, frame_count * sizeof(PageFrame));
  zone_count_ = 0;
  for (unsigned o = 0; o <= MAX_ORDER; ++o) {
    heads_[o] = PFN_NONE;
    counts_[o] = 0;
  }
  free_pages_ = managed_pages_ = 0;
  min_free_pages_ = UINT64_MAX;
}

void BuddyAllocator::push(uint64_t pfn, unsigned order) {
  PageFrame& f = frames_[pfn];
  f.state = FrameState::Free;
  f.order = uint8_t(order);
  f.prev = PFN_NONE;
  f.next = heads_[order];
  if (f.next != PFN_NONE) frames_[f.next].prev = uint32_t(pfn);
  heads_[order] = uint32_t(pfn);
  ++counts_[order];
}

void BuddyAllocator::unlink(uint64_t pfn, unsigned order) {
  PageFrame& f = frames_[pfn];
  if (f.prev != PFN_NONE) {
    frames_[f.prev].next = f.next;
  } else {
    heads_[order] = f.next;
  }
  if (f.next != PFN_NONE) frames_[f.next].prev = f.prev;
  f.next = f.prev = PFN_NONE;
  --counts_[order];
}

Result<void> BuddyAllocator::add_range(uint64_t first, uint64_t end) {
  if (end > frame_count_ || first > end || end > PFN_NONE) return Error::Invalid;
  for (size_t z = 0; z < zone_count_; ++z)
    if (first < zones_[z][1] && zones_[z][0] < end) return Error::Exists;
  if (zone_count_ == MAX_ZONES) return Error::TooBig;
  zones_[zone_count_][0] = first;
  zones_[zone_count_][1] = end;
  ++zone_count_;
  // Only block heads are written: frames inside a block are never looked at
  // (a buddy check reads heads only), so Reserved and Tail mean the same there.
  // Largest naturally aligned blocks that fit, each freed through the normal
  // path so that it coalesces with what is already there.
  uint64_t p = first;
  while (p < end) {
    unsigned order = MAX_ORDER;
    while (order && ((p & ((uint64_t(1) << order) - 1)) || p + (uint64_t(1) << order) > end)) --order;
    frames_[p].state = FrameState::Allocated;
    frames_[p].order = uint8_t(order);
    managed_pages_ += uint64_t(1) << order;
    // A range added after allocations moves the low-water mark up with it,
    // so managed - min_free (the peak in use) stays what it was.
    if (min_free_pages_ != UINT64_MAX) min_free_pages_ += uint64_t(1) << order;
    (void)free(p, order);
    p += uint64_t(1) << order;
  }
  return {};
}

Result<uint64_t> BuddyAllocator::alloc(unsigned order) {
  if (order > MAX_ORDER) return Error::Invalid;
  unsigned k = order;
  while (k <= MAX_ORDER && heads_[k] == PFN_NONE) ++k;
  if (k > MAX_ORDER) return Error::NoMemory;
  uint64_t pfn = heads_[k];
  unlink(pfn, k);
  // Split: keep the lower half, return the upper half to the next list down.
  while (k > order) {
    --k;
    push(pfn + (uint64_t(1) << k), k);
  }
  frames_[pfn].state = FrameState::Allocated;
  frames_[pfn].order = uint8_t(order);
  free_pages_ -= uint64_t(1) << order;
  if (free_pages_ < min_free_pages_) min_free_pages_ = free_pages_;
  return pfn;
}

Result<void> BuddyAllocator::free(uint64_t pfn, unsigned order) {
  if (pfn >= frame_count_ || order > MAX_ORDER) return Error::Invalid;
  PageFrame& f = frames_[pfn];
  if (f.state != FrameState::Allocated || f.order != order) return Error::Invalid;
  free_pages_ += uint64_t(1) << order;
  // Coalesce while the buddy is a free block of the same order.
  while (order < MAX_ORDER) {
    uint64_t buddy = pfn ^ (uint64_t(1) << order);
    if (buddy >= frame_count_) break;
    PageFrame& b = frames_[buddy];
    if (b.state != FrameState::Free || b.order != order) break;
    unlink(buddy, order);
    uint64_t upper = pfn > buddy ? pfn : buddy;
    frames_[upper].state = FrameState::Tail;
    pfn = pfn < buddy ? pfn : buddy;
    ++order;
  }
  push(pfn, order);
  return {};
}

}  // namespace capsule::mm
